/**
 * An app's key-value stores and SQLite databases: the labels its spin.toml declares
 * (manifest.ts), the user's per-store overrides (`SpinAppArgs.stores`), and the interface a cloud
 * implements to back them (`AppStoreProvider`: LocalAppData on the local target, AwsAppStores on
 * AWS). Everything here is checked before anything registers; errors name the app, the field,
 * the value and what is allowed.
 */
import * as pulumi from "@pulumi/pulumi";
import { SpinAppStores } from "../../provisioning/jobs/spin-runtime-config";
import { checkedStoreLabel } from "../../provisioning/jobs/spin-store-labels";
import { NomadAccess } from "../platform/nomad-access";
import { checkedShareWith, isShared, MANIFEST_KEY, OwnerStores, sharedFromOf, StoreKind } from "./store-sharing";

export type StoreTarget = "local" | "aws";

/** Options every store takes. */
interface CommonStoreArgs {
    /**
     * Keep the data when the store leaves the manifest or the app is removed (default true:
     * the table is `retainOnDelete`, the local file stays until the cloud is destroyed).
     * `false` is the explicit opt-in to delete it with the store.
     */
    readonly retainOnDelete?: boolean;
    /**
     * The apps that may use this store too (each says `sharedFrom: "<this app>"` for the label):
     * the owner's consent, which the AWS policy pack reads from the table's tags. Default none.
     */
    readonly shareWith?: readonly string[];
    readonly sharedFrom?: never;
}
/**
 * Another app's store of the same kind and label, used by this app too (store-sharing.ts): its
 * backend and options are the owner's, and the owner's lifecycle is the store's. Without it a
 * label two apps declare is two stores.
 */
export interface SharedStoreArgs {
    /** The app whose store this is (it declares the label, does not share it from another, and lists this app in its `shareWith`). */
    readonly sharedFrom: string;
    readonly backend?: never;
    readonly retainOnDelete?: never;
    readonly shareWith?: never;
}
export type KeyValueStoreArgs = SharedStoreArgs | CommonStoreArgs & (
    /** Local target: a SQLite file under the state directory (Spin's `spin` store). */
    | { readonly backend: "spin" }
    /** AWS: one DynamoDB table. `consistentRead` default true (every instance sees the last write). */
    | { readonly backend?: "aws_dynamo"; readonly consistentRead?: boolean; readonly deletionProtection?: boolean }
);
export type SqliteDatabaseArgs = SharedStoreArgs | CommonStoreArgs & (
    | { readonly backend: "spin" }
    /**
     * AWS, libSQL. Without `url` and `token` (the default): a database of the platform's libSQL
     * server (docs/libsql.md), kept when the store leaves the manifest. With both: a server the user
     * runs. The token stays a Pulumi secret and reaches the task through a Nomad Variable.
     */
    | { readonly backend?: "libsql"; readonly url?: string; readonly token?: pulumi.Input<string> }
);
export interface AppStoresArgs {
    readonly keyValue?: Readonly<Record<string, KeyValueStoreArgs>>;
    readonly sqlite?: Readonly<Record<string, SqliteDatabaseArgs>>;
    /**
     * AWS, apps with an `aws_dynamo` store: generation of the app's access key, an integer ≥ 1
     * (default 1). Bump it to rotate the key: the next `pulumi up` creates a new key, puts it in
     * the app's store Variable, rolls the job onto it with canaries (the key is part of the job's
     * secrets digest), and deletes the old key once that deployment succeeded. README "Data".
     */
    readonly accessKeyGeneration?: number;
}

/** Checked options of one store: the backend's own (defaults filled); `sharedFrom` names the owner of a shared one, whose options these are. */
export type OwnStore<T> = Exclude<T, SharedStoreArgs>;
export interface CheckedStore<T> {
    readonly label: string;
    readonly args: OwnStore<T>;
    /** The app whose store this is, when it is shared from another app (its args are that app's). */
    readonly sharedFrom?: string;
}
/** The stores of one app, checked: every declared label with its options (defaults filled). */
export interface CheckedAppStores {
    readonly keyValue: readonly CheckedStore<KeyValueStoreArgs>[];
    readonly sqlite: readonly CheckedStore<SqliteDatabaseArgs>[];
    /** AWS with an `aws_dynamo` store: the access key's generation (default 1). */
    readonly accessKeyGeneration?: number;
}

/** What a provider registered for an app's stores. */
export interface ProvisionedAppStores {
    /** What the job waits for (tables, credentials, the store Variable, local steps). */
    readonly resources: pulumi.Resource[];
    /**
     * Secret material the job reads at start (the store Variable's items): its keyed digest goes
     * into the job's meta, so a changed key or token is a new job version, rolled with canaries.
     */
    readonly secrets: Readonly<Record<string, pulumi.Input<string>>>;
}

/** What a cloud does for an app's stores. */
export interface AppStoreProvider {
    readonly target: StoreTarget;
    /** Backends of the labels, as the job's runtime config takes them; pure (names, paths), throws on what the target cannot serve. */
    backends(app: string, stores: CheckedAppStores): SpinAppStores;
    /** Registers what the stores need (tables, credentials, the store Variable, local steps); the job waits for `resources`. */
    provision(app: string, jobId: string, stores: CheckedAppStores, nomad: NomadAccess, parent: pulumi.Resource): ProvisionedAppStores;
}

const BACKENDS: Record<StoreTarget, { keyValue: readonly string[]; sqlite: readonly string[] }> = {
    local: { keyValue: ["spin"], sqlite: ["spin"] },
    aws: { keyValue: ["aws_dynamo"], sqlite: ["libsql"] },
};
const DEFAULT_BACKEND: Record<StoreTarget, { keyValue: string; sqlite?: string }> = {
    local: { keyValue: "spin", sqlite: "spin" },
    aws: { keyValue: "aws_dynamo", sqlite: "libsql" },
};
const OPTIONS: Record<string, readonly string[]> = {
    spin: ["backend", "retainOnDelete", "shareWith"],
    aws_dynamo: ["backend", "retainOnDelete", "shareWith", "consistentRead", "deletionProtection"],
    libsql: ["backend", "retainOnDelete", "shareWith", "url", "token"],
};
const APP_STORES_KEYS = ["keyValue", "sqlite", "accessKeyGeneration"] as const;
/** Where no cloud resolves a `sharedFrom` (a caller that checks one app alone). */
const NO_OWNERS: OwnerStores = (sharer, kind, label) => {
    throw new Error(`SpinApp ${sharer.name}: stores.${kind}.${label}.sharedFrom: shared stores are resolved against the apps of a cloud (SpinApp does it)`);
};

/** Where `key` is an option, for an error about a key the backend does not take: "; it is an option of ...". */
function optionOwner(key: string, backend: string): string {
    const owners = Object.keys(OPTIONS).filter((b) => b !== backend && OPTIONS[b].includes(key));
    const targetOf = (b: string) => (Object.keys(BACKENDS) as StoreTarget[]).filter((t) => BACKENDS[t].keyValue.includes(b) || BACKENDS[t].sqlite.includes(b));
    return owners.length > 0 ? `; it is an option of the ${owners.map((b) => `${b} backend (${targetOf(b).join(", ")})`).join(" and the ")}` : "";
}

function fail(app: string, field: string, value: unknown, allowed: string): never {
    throw new Error(`SpinApp ${app}: ${field} is ${JSON.stringify(value)}; ${allowed}`);
}

/**
 * The labels the manifest declares (`declared`, from readSpinApp; for a prebuilt bindle, the keys
 * of `args`) with their options on `target`. Refused: an override for a label the manifest does
 * not declare, a backend (or option) of the other target, a label Spin refuses. A `sharedFrom`
 * store takes no other option and is the owner's checked store, as `owners` finds it.
 */
export function checkedAppStores(app: string, declared: { keyValue: readonly string[]; sqlite: readonly string[] }, args: AppStoresArgs | undefined, target: StoreTarget, owners: OwnerStores = NO_OWNERS): CheckedAppStores {
    for (const key of Object.keys(args ?? {})) {
        if (!(APP_STORES_KEYS as readonly string[]).includes(key)) fail(app, `stores.${key}`, (args as Record<string, unknown>)[key], `is not a stores option (${APP_STORES_KEYS.join(", ")})`);
    }
    const one = <T>(kind: StoreKind): CheckedStore<T>[] => {
        const given = (args?.[kind] ?? {}) as Readonly<Record<string, { backend?: string }>>;
        const labels = declared[kind];
        for (const label of Object.keys(given)) {
            if (!labels.includes(label)) fail(app, `stores.${kind}.${label}`, label, `the manifest declares no such label in any component's ${MANIFEST_KEY[kind]} (declared: ${labels.join(", ") || "none"})`);
        }
        return [...labels].sort().map((label) => {
            const field = `stores.${kind}.${label}`;
            checkedStoreLabel(label, `SpinApp ${app}: ${field}`);
            const options = given[label] ?? {};
            if (isShared(options)) {
                const extra = Object.keys(options).filter((k) => k !== "sharedFrom");
                if (extra.length > 0) fail(app, `${field}.${extra[0]}`, (options as Record<string, unknown>)[extra[0]], `a shared store takes no option but sharedFrom: its backend and options are the owner's (app ${JSON.stringify(sharedFromOf(options))})`);
                const owned = owners({ name: app, declared, stores: args }, kind, label);
                return { label, args: owned.args as OwnStore<T>, sharedFrom: sharedFromOf(options) as string };
            }
            const backend = options.backend ?? DEFAULT_BACKEND[target][kind];
            if (backend === undefined) fail(app, `${field}.backend`, backend, `${target} has no default ${kind} backend; give { backend: ${BACKENDS[target][kind].map((b) => `"${b}"`).join(" | ")}, ... } (README "Data")`);
            if (!BACKENDS[target][kind].includes(backend)) {
                const other = (Object.keys(BACKENDS) as StoreTarget[]).find((t) => BACKENDS[t][kind].includes(backend));
                fail(app, `${field}.backend`, backend, other ? `is a ${other} backend; on ${target} use ${BACKENDS[target][kind].join(" or ")}` : `must be one of ${BACKENDS[target][kind].join(", ")}`);
            }
            for (const key of Object.keys(options)) {
                if (!(OPTIONS[backend] ?? []).includes(key)) fail(app, `${field}.${key}`, (options as Record<string, unknown>)[key], `is not an option of the ${backend} backend (${OPTIONS[backend].join(", ")})${optionOwner(key, backend)}`);
            }
            const o = options as Record<string, unknown>;
            for (const key of ["retainOnDelete", "consistentRead", "deletionProtection"]) {
                if (o[key] !== undefined && typeof o[key] !== "boolean") fail(app, `${field}.${key}`, o[key], "must be a boolean");
            }
            if (backend === "libsql" && (o.url === undefined) !== (o.token === undefined)) {
                fail(app, field, Object.keys(o), "a libsql database takes url and token together (a server you run), or neither (the platform's libSQL server)");
            }
            if (backend === "libsql" && o.url !== undefined && typeof o.url !== "string") fail(app, `${field}.url`, o.url, "must be a string");
            if (o.shareWith !== undefined) checkedShareWith(app, field, o.shareWith);
            if (backend === "libsql" && o.url === undefined && o.retainOnDelete === false) {
                fail(app, `${field}.retainOnDelete`, false, "the platform libSQL server never deletes a database (its namespace and backup stay when the store leaves the manifest); delete one on purpose through sqld's admin API (docs/libsql.md \"Deleting a database\")");
            }
            return { label, args: { ...options, backend, retainOnDelete: o.retainOnDelete !== false } as unknown as OwnStore<T> };
        });
    };
    const keyValue = one<KeyValueStoreArgs>("keyValue");
    const sqlite = one<SqliteDatabaseArgs>("sqlite");
    const generation = args?.accessKeyGeneration;
    const dynamo = keyValue.some((s) => s.args.backend === "aws_dynamo");
    if (generation !== undefined) {
        const field = "stores.accessKeyGeneration";
        if (target !== "aws") fail(app, field, generation, `is an aws option (the app's DynamoDB access key); the ${target} target has no keys to rotate`);
        if (!dynamo) fail(app, field, generation, "the app has no aws_dynamo store, so no access key to rotate; remove the option");
        if (typeof generation !== "number" || !Number.isSafeInteger(generation) || generation < 1) fail(app, field, generation, "must be an integer of at least 1 (bump it by one to rotate)");
    }
    return { keyValue, sqlite, ...(dynamo ? { accessKeyGeneration: generation ?? 1 } : {}) };
}

export const hasAppStores = (s: CheckedAppStores): boolean => s.keyValue.length + s.sqlite.length > 0;

/** A checked SQLite store served by the platform's libSQL server (AWS, neither url nor token). */
export function isPlatformLibsql(args: OwnStore<SqliteDatabaseArgs>): boolean {
    return args.backend === "libsql" && (args as { url?: string }).url === undefined;
}
