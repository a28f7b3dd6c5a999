/**
 * What Spin 3.4 accepts in a runtime config file, for the stores spin-cloud writes, transcribed
 * from the deserialization structs of spinframework/spin v3.4.0 (not imported: a copy of the
 * rules, each named by its source). `runtimeConfigErrors` is stricter than Spin in one way, said
 * where it applies: a key Spin silently ignores (a struct without `deny_unknown_fields`) is an
 * error here, since a misspelt option that Spin ignores is a store on the wrong backend.
 */
import { parse } from "smol-toml";

type Field = { readonly kind: "string" | "bool" | "path"; readonly required: boolean };
interface StoreStruct {
    readonly source: string;
    readonly fields: Readonly<Record<string, Field>>;
    /** `#[serde(deny_unknown_fields)]` on the struct (Spin refuses unknown keys itself). */
    readonly denyUnknownFields: boolean;
    /** A further check the type's constructor makes at start. */
    readonly check?: (table: Record<string, unknown>) => string | undefined;
}
const opt = (kind: Field["kind"]): Field => ({ kind, required: false });
const req = (kind: Field["kind"]): Field => ({ kind, required: true });

/**
 * crates/runtime-config/src/lib.rs: every top-level key must be read by some factor
 * (`TomlKeyTracker::validate_all_keys_used`, "unused runtime config key(s)"). Spin also reads
 * `state_dir`, `log_dir`, `max_instance_memory`, `llm_compute`, variables providers and outbound
 * settings; spin-cloud writes none of them, so only these two are accepted here.
 */
export const TOP_LEVEL = ["key_value_store", "sqlite_database"] as const;

/**
 * `key_value_store.<label>`: crates/factor-key-value/src/runtime_config/spin.rs `StoreConfig
 * { #[serde(rename = "type")] type_: String, #[serde(flatten)] config }`; the types
 * crates/runtime-config/src/lib.rs `key_value_config_resolver` registers: `spin`, `redis`,
 * `azure_cosmos`, `aws_dynamo` (spin-cloud uses two). Unknown type: "the store type '…' was not
 * registered with the config resolver".
 */
export const KEY_VALUE_TYPES: Readonly<Record<string, StoreStruct>> = {
    // crates/key-value-spin/src/lib.rs SpinKeyValueRuntimeConfig (no deny_unknown_fields)
    spin: { source: "crates/key-value-spin/src/lib.rs", fields: { path: opt("path") }, denyUnknownFields: false },
    // crates/key-value-aws/src/lib.rs AwsDynamoKeyValueRuntimeConfig (no deny_unknown_fields)
    aws_dynamo: {
        source: "crates/key-value-aws/src/lib.rs",
        fields: { access_key: opt("string"), secret_key: opt("string"), token: opt("string"), region: req("string"), consistent_read: opt("bool"), table: req("string") },
        denyUnknownFields: false,
    },
};

/**
 * `sqlite_database.<label>`: crates/sqlite/src/lib.rs `TomlRuntimeConfig { type_, flatten }` and
 * `get_connection_creator` ("spin" | "libsql", else "Unknown database kind").
 */
export const SQLITE_TYPES: Readonly<Record<string, StoreStruct>> = {
    // crates/sqlite/src/lib.rs InProcDatabase, #[serde(deny_unknown_fields)]
    spin: { source: "crates/sqlite/src/lib.rs InProcDatabase", fields: { path: opt("path") }, denyUnknownFields: true },
    // crates/sqlite/src/lib.rs LibSqlDatabase, #[serde(deny_unknown_fields)]; check_url
    libsql: {
        source: "crates/sqlite/src/lib.rs LibSqlDatabase",
        fields: { url: req("string"), token: req("string") },
        denyUnknownFields: true,
        check: (t) => (typeof t.url === "string" && !/^https?:\/\//.test(t.url) ? "URL does not start with 'https://' or 'http://'" : undefined),
    },
};

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

function storeErrors(where: string, types: Readonly<Record<string, StoreStruct>>, value: unknown): string[] {
    if (!isTable(value)) return [`${where}: must be a table of labelled stores`];
    const errors: string[] = [];
    for (const [label, store] of Object.entries(value)) {
        const at = `${where}.${label}`;
        if (!isTable(store)) { errors.push(`${at}: must be a table`); continue; }
        if (typeof store.type !== "string") { errors.push(`${at}.type: missing or not a string`); continue; }
        const struct = types[store.type];
        if (!struct) { errors.push(`${at}.type: "${store.type}" is not a type Spin 3.4 registers (${Object.keys(types).join(", ")} here)`); continue; }
        for (const [key, field] of Object.entries(struct.fields)) {
            const v = store[key];
            if (v === undefined) { if (field.required) errors.push(`${at}.${key}: required by ${struct.source}`); continue; }
            const ok = field.kind === "bool" ? typeof v === "boolean" : typeof v === "string";
            if (!ok) errors.push(`${at}.${key}: must be a ${field.kind === "bool" ? "boolean" : "string"} (${struct.source})`);
        }
        for (const key of Object.keys(store)) {
            if (key === "type" || key in struct.fields) continue;
            errors.push(struct.denyUnknownFields
                ? `${at}.${key}: unknown field, refused by Spin (${struct.source} deny_unknown_fields)`
                : `${at}.${key}: unknown field, silently ignored by Spin (${struct.source}); refused here`);
        }
        const extra = struct.check?.(store);
        if (extra) errors.push(`${at}: ${extra} (${struct.source})`);
    }
    return errors;
}

/** Every reason Spin 3.4 (or this stricter copy) would refuse `text` as a runtime config file. */
export function runtimeConfigErrors(text: string): string[] {
    let doc: Record<string, unknown>;
    try { doc = parse(text) as Record<string, unknown>; } catch (e) { return [`not TOML: ${(e as Error).message.split("\n")[0]}`]; }
    const errors: string[] = [];
    for (const key of Object.keys(doc)) if (!(TOP_LEVEL as readonly string[]).includes(key)) errors.push(`unused runtime config key(s): ${key}`);
    if (doc.key_value_store !== undefined) errors.push(...storeErrors("key_value_store", KEY_VALUE_TYPES, doc.key_value_store));
    if (doc.sqlite_database !== undefined) errors.push(...storeErrors("sqlite_database", SQLITE_TYPES, doc.sqlite_database));
    return errors;
}

/**
 * What consul-template makes of a runtime config template: `with nomadVar` unwrapped and each
 * `{{ .<item>.Value | toJSON }}` replaced by the item's value as JSON (Go's encoder escapes <, >
 * and & as \u003c…, which JSON.stringify does not; both are valid TOML basic strings).
 */
export function renderAsConsulTemplate(template: string, items: Record<string, string>): string {
    const m = /^\{\{ with nomadVar "[^"]+" \}\}([\s\S]*)\{\{ end \}\}$/.exec(template);
    const body = m ? m[1] : template;
    return body.replace(/\{\{ \.([A-Za-z0-9_]+)\.Value \| toJSON \}\}/g, (_, item: string) => {
        if (!(item in items)) throw new Error(`template reads item ${item}, which the variable lacks`);
        return JSON.stringify(items[item]).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
    });
}
