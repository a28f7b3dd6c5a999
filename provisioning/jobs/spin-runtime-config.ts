/**
 * Spin's runtime config file for an app's stores (`spin up --runtime-config-file`): each
 * key-value and SQLite label mapped to its backend, built as data and serialized with smol-toml,
 * rendered into the task's `secrets/` by a Nomad template so secret parts (a libSQL token, AWS
 * keys) come from a Nomad Variable and never enter the jobspec. Pure.
 *
 * Spin 3.4 (spinframework/spin v3.4.0), every key below:
 * - crates/runtime-config/src/lib.rs: top-level `key_value_store` and `sqlite_database` tables;
 *   any top-level key nothing reads is refused at start (`validate_all_keys_used`); a `spin`
 *   key-value path that is relative resolves against the config file's directory, a `spin` SQLite
 *   one against the working directory (we only write absolute paths).
 * - crates/factor-key-value/src/runtime_config/spin.rs `StoreConfig { type, flatten }`.
 * - crates/key-value-spin/src/lib.rs `SpinKeyValueRuntimeConfig { path: Option<PathBuf> }`; the
 *   store creates the file's parent directory itself.
 * - crates/key-value-aws/src/lib.rs `AwsDynamoKeyValueRuntimeConfig { access_key?, secret_key?,
 *   token?, region, consistent_read?, table }`; without access_key + secret_key it loads the AWS
 *   SDK's default chain (store.rs `Environmental`: `aws_config::load_defaults`), which takes the
 *   region from the environment, not from `region`: so the task gets `AWS_REGION` too.
 *   store.rs uses the hash key `PK` (S) and the calls GetItem, PutItem, DeleteItem, Scan,
 *   BatchGetItem, BatchWriteItem and TransactWriteItems (Update).
 * - crates/sqlite/src/lib.rs `TomlRuntimeConfig { type, flatten }`, `InProcDatabase { path? }`
 *   and `LibSqlDatabase { url, token }` (both `deny_unknown_fields`), `check_url` (http/https).
 * Nomad: job-specification/template.mdx (`uid`/`gid`, `perms`, `env`), concepts/variables.mdx
 * (a task reads `nomad/jobs/<job>/<group>/<task>`).
 */
import { stringify } from "smol-toml";
import { isSafeAbsolutePath } from "../loopback";
import { jobVariablePath } from "../platform";
import { NomadTemplate } from "./nomad-api";
import { checkedStoreLabel } from "./spin-store-labels";

export type SpinKeyValueBackend =
    /** A SQLite file on the node (local target): absolute path outside the allocation. */
    | { readonly type: "spin"; readonly path: string }
    /** A DynamoDB table (AWS); credentials from the store Variable through the task env. */
    | { readonly type: "aws_dynamo"; readonly table: string; readonly region: string; readonly consistentRead?: boolean };

export type SpinSqliteBackend =
    | { readonly type: "spin"; readonly path: string }
    /** A libSQL server; its token is item `libsqlTokenItem(label)` of the store Variable. */
    | { readonly type: "libsql"; readonly url: string };

/** Label → backend, for every label the app's components use (including `default`). */
export interface SpinAppStores {
    readonly keyValue?: Readonly<Record<string, SpinKeyValueBackend>>;
    readonly sqlite?: Readonly<Record<string, SpinSqliteBackend>>;
}

/** Where the file lands, relative to the task dir (`secrets/`: tmpfs under exec, not in the alloc's shared dir). */
export const SPIN_RUNTIME_CONFIG_FILE = "secrets/spin-runtime-config.toml";
export const SPIN_RUNTIME_CONFIG_ARG = "${NOMAD_SECRETS_DIR}/spin-runtime-config.toml";
export const SPIN_AWS_CREDENTIALS_ENV_FILE = "secrets/spin-aws-credentials.env";
/** Items of the store Variable that hold the app's AWS access key (components/aws/app-stores.ts). */
export const AWS_KEY_ITEMS = { accessKeyId: "aws_access_key_id", secretAccessKey: "aws_secret_access_key" } as const;
/** `nobody`/`nogroup` on Ubuntu (base-passwd): the exec task's user must read the file. */
export const NOBODY_IDS = { uid: 65534, gid: 65534 } as const;

/** The Variable the app's tasks read store secrets from: group `app`, task `spin` of spin-app-job.ts. */
export const spinAppStoreVariablePath = (jobId: string): string => `${jobVariablePath(jobId)}/app/spin`;
/** Identifier-safe and unique per label (labels may hold `-`; `a-b` and `a_b` are two labels). */
export const libsqlTokenItem = (label: string): string => `libsql_token_${Buffer.from(label, "utf8").toString("hex")}`;

function fail(field: string, value: unknown, allowed: string): never {
    throw new Error(`spin app job: ${field} is ${JSON.stringify(value)}; ${allowed}`);
}

const DYNAMO_TABLE = /^[A-Za-z0-9_.-]{3,255}$/;
export const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-[0-9]$/;
const LIBSQL_URL = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~-]+)*\/?$/;

export type StoreDriver = "exec" | "raw_exec";

/** What each driver's target can serve: files only where the node's disk outlives allocations (local). */
const ALLOWED: Record<StoreDriver, { keyValue: readonly string[]; sqlite: readonly string[]; why: string }> = {
    exec: { keyValue: ["aws_dynamo"], sqlite: ["libsql"], why: "a `spin` file would live in the allocation and vanish on every deploy or reschedule" },
    raw_exec: { keyValue: ["spin"], sqlite: ["spin"], why: "the local target keeps stores as files under its state directory" },
};

/** Checks every label and backend; returns sorted copies. */
export function checkedStores(stores: SpinAppStores, driver: StoreDriver): { keyValue: [string, SpinKeyValueBackend][]; sqlite: [string, SpinSqliteBackend][] } {
    const sorted = <T>(r: Readonly<Record<string, T>> | undefined) => Object.entries(r ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    const keyValue = sorted(stores.keyValue);
    const sqlite = sorted(stores.sqlite);
    const paths: [string, string][] = [];
    const regions = new Set<string>();
    const check = (kind: "keyValue" | "sqlite", label: string, b: SpinKeyValueBackend | SpinSqliteBackend) => {
        const field = `stores.${kind}.${label}`;
        checkedStoreLabel(label, `spin app job: ${field}`);
        const allowed = ALLOWED[driver][kind];
        if (!allowed.includes(b.type)) fail(`${field}.type`, b.type, `the ${driver} runtime takes ${allowed.join(" or ")}: ${ALLOWED[driver].why}`);
        switch (b.type) {
            case "spin":
                if (!isSafeAbsolutePath(b.path) || b.path.endsWith("/") || b.path.split("/").some((s) => s === "." || s === "..")) {
                    fail(`${field}.path`, b.path, "must be an absolute file path of [A-Za-z0-9._+/-] without . or .. segments");
                }
                paths.push([field, b.path]);
                return;
            case "aws_dynamo":
                if (!DYNAMO_TABLE.test(b.table)) fail(`${field}.table`, b.table, "DynamoDB table names are 3-255 of [A-Za-z0-9_.-]");
                if (!AWS_REGION_PATTERN.test(b.region)) fail(`${field}.region`, b.region, "must be an AWS region such as eu-west-1");
                if (b.consistentRead !== undefined && typeof b.consistentRead !== "boolean") fail(`${field}.consistentRead`, b.consistentRead, "must be a boolean");
                regions.add(b.region);
                return;
            case "libsql":
                if (!LIBSQL_URL.test(b.url)) fail(`${field}.url`, b.url, "must be an http(s) URL without credentials, query or fragment (Spin speaks to libSQL over HTTP)");
                return;
            default:
                fail(`${field}.type`, (b as { type: unknown }).type, `must be one of ${allowed.join(", ")}`);
        }
    };
    keyValue.forEach(([l, b]) => check("keyValue", l, b));
    sqlite.forEach(([l, b]) => check("sqlite", l, b));
    // One file, one store; and macOS's default file system ignores case.
    paths.forEach(([field, p], i) => {
        const twin = paths.findIndex(([, q], j) => j !== i && q.toLowerCase() === p.toLowerCase());
        if (twin >= 0) fail(`${field}.path`, p, `must differ from ${paths[twin][0]}.path (${paths[twin][1]}), also ignoring case`);
    });
    if (regions.size > 1) fail("stores.keyValue", [...regions], "every aws_dynamo store of an app is in one region (the task's AWS_REGION)");
    return { keyValue, sqlite };
}

const SECRET_MARK = (item: string) => `SPIN-CLOUD-SECRET:${item}`;

/** The runtime config as data; a secret value is a marker that `renderSpinRuntimeConfigTemplate` replaces. */
type StoreTable = Record<string, string | boolean>;
export function spinRuntimeConfig(stores: SpinAppStores, driver: StoreDriver): Record<string, Record<string, StoreTable>> {
    const { keyValue, sqlite } = checkedStores(stores, driver);
    const out: Record<string, Record<string, StoreTable>> = {};
    if (keyValue.length > 0) {
        out.key_value_store = Object.fromEntries(keyValue.map(([label, b]): [string, StoreTable] => [label, b.type === "spin"
            ? { type: "spin", path: b.path }
            : { type: "aws_dynamo", table: b.table, region: b.region, ...(b.consistentRead === undefined ? {} : { consistent_read: b.consistentRead }) }]));
    }
    if (sqlite.length > 0) {
        out.sqlite_database = Object.fromEntries(sqlite.map(([label, b]): [string, StoreTable] => [label, b.type === "spin"
            ? { type: "spin", path: b.path }
            : { type: "libsql", url: b.url, token: SECRET_MARK(libsqlTokenItem(label)) }]));
    }
    return out;
}

/** Names of the store Variable's items the config reads (libSQL tokens). */
export function secretItems(stores: SpinAppStores, driver: StoreDriver): string[] {
    return checkedStores(stores, driver).sqlite.filter(([, b]) => b.type === "libsql").map(([label]) => libsqlTokenItem(label));
}

/**
 * The template text: the TOML, each secret marker (a whole TOML string) replaced by the item's
 * value as a JSON string (consul-template `toJSON`; Go's JSON string escapes are TOML basic-string
 * escapes), inside one `with nomadVar` when there is a secret.
 */
export function renderSpinRuntimeConfigTemplate(jobId: string, stores: SpinAppStores, driver: StoreDriver): string {
    const toml = stringify(spinRuntimeConfig(stores, driver));
    if (/\{\{|\}\}|\$\{/.test(toml)) throw new Error(`spin app job: runtime config of ${jobId} contains template or interpolation delimiters`);
    const items = secretItems(stores, driver);
    if (items.length === 0) return toml;
    let text = toml;
    for (const item of items) {
        const quoted = JSON.stringify(SECRET_MARK(item));
        if (text.split(quoted).length !== 2) throw new Error(`spin app job: secret ${item} must appear exactly once in the runtime config`);
        text = text.replace(quoted, `{{ .${item}.Value | toJSON }}`);
    }
    return `{{ with nomadVar "${spinAppStoreVariablePath(jobId)}" }}${text}{{ end }}`;
}

export function hasStores(stores: SpinAppStores | undefined): stores is SpinAppStores {
    return stores !== undefined && Object.keys(stores.keyValue ?? {}).length + Object.keys(stores.sqlite ?? {}).length > 0;
}

/** What the stores add to the spin task: its flag, templates and env. Nothing without stores. */
export function storesTaskParts(jobId: string, stores: SpinAppStores | undefined, driver: StoreDriver): { args: string[]; templates: NomadTemplate[]; env: Record<string, string> } {
    if (!hasStores(stores)) return { args: [], templates: [], env: {} };
    const owner = driver === "exec" ? { Uid: NOBODY_IDS.uid, Gid: NOBODY_IDS.gid } : {};
    // noop: a changed key or token is a new job version (its keyed digest in the job's meta, set by
    // SpinApp), rolled out with canaries while the running instances keep the credentials they read
    // at start; "restart" would restart every instance at once (template.mdx change_mode).
    const templates: NomadTemplate[] = [{
        EmbeddedTmpl: renderSpinRuntimeConfigTemplate(jobId, stores, driver),
        DestPath: SPIN_RUNTIME_CONFIG_FILE, ChangeMode: "noop", Perms: "400", ...owner,
    }];
    const env: Record<string, string> = {};
    const dynamo = checkedStores(stores, driver).keyValue.filter(([, b]) => b.type === "aws_dynamo");
    if (dynamo.length > 0) {
        const b = dynamo[0][1] as Extract<SpinKeyValueBackend, { type: "aws_dynamo" }>;
        env.AWS_REGION = b.region;
        // Defence in depth: never fall through to the node's instance role (the node firewall is the boundary).
        env.AWS_EC2_METADATA_DISABLED = "true";
        const line = (name: string, item: string) => `${name}={{ .${item}.Value | toJSON }}\n`;
        templates.push({
            EmbeddedTmpl: `{{ with nomadVar "${spinAppStoreVariablePath(jobId)}" }}${line("AWS_ACCESS_KEY_ID", AWS_KEY_ITEMS.accessKeyId)}${line("AWS_SECRET_ACCESS_KEY", AWS_KEY_ITEMS.secretAccessKey)}{{ end }}`,
            DestPath: SPIN_AWS_CREDENTIALS_ENV_FILE, Envvars: true, ChangeMode: "noop", Perms: "400",
        });
    }
    return { args: ["--runtime-config-file", SPIN_RUNTIME_CONFIG_ARG], templates, env };
}

/** `base` plus the stores' env; a key in both is refused (the job sets it). */
export function withStoresEnv(base: Record<string, string>, extra: Record<string, string>): Record<string, string> {
    const both = Object.keys(extra).filter((k) => Object.prototype.hasOwnProperty.call(base, k));
    if (both.length > 0) fail(`env.${both[0]}`, both[0], "is set by the job for the app's stores");
    return Object.fromEntries(Object.entries({ ...base, ...extra }).sort(([a], [b]) => (a < b ? -1 : 1)));
}
