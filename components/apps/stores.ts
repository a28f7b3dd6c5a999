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

export type StoreTarget = "local" | "aws";

/** Options every store takes. */
interface CommonStoreArgs {
    /**
     * Keep the data when the store leaves the manifest or the app is removed (default true:
     * the table is `retainOnDelete`, the local file stays until the cloud is destroyed).
     * `false` is the explicit opt-in to delete it with the store.
     */
    readonly retainOnDelete?: boolean;
}
export type KeyValueStoreArgs = CommonStoreArgs & (
    /** Local target: a SQLite file under the state directory (Spin's `spin` store). */
    | { readonly backend: "spin" }
    /** AWS: one DynamoDB table. `consistentRead` default true (every instance sees the last write). */
    | { readonly backend?: "aws_dynamo"; readonly consistentRead?: boolean; readonly deletionProtection?: boolean }
);
export type SqliteDatabaseArgs = CommonStoreArgs & (
    | { readonly backend: "spin" }
    /** A libSQL server the user runs (AWS); the token stays a Pulumi secret and reaches the task through a Nomad Variable. */
    | { readonly backend: "libsql"; readonly url: string; readonly token: pulumi.Input<string> }
);
export interface AppStoresArgs {
    readonly keyValue?: Readonly<Record<string, KeyValueStoreArgs>>;
    readonly sqlite?: Readonly<Record<string, SqliteDatabaseArgs>>;
}

/** The stores of one app, checked: every declared label with its options (defaults filled). */
export interface CheckedAppStores {
    readonly keyValue: readonly { readonly label: string; readonly args: KeyValueStoreArgs }[];
    readonly sqlite: readonly { readonly label: string; readonly args: SqliteDatabaseArgs }[];
}

/** What a cloud does for an app's stores. */
export interface AppStoreProvider {
    readonly target: StoreTarget;
    /** Backends of the labels, as the job's runtime config takes them; pure (names, paths), throws on what the target cannot serve. */
    backends(app: string, stores: CheckedAppStores): SpinAppStores;
    /** Registers what the stores need (tables, credentials, the store Variable); the job waits for the result. */
    provision(app: string, jobId: string, stores: CheckedAppStores, nomad: NomadAccess, parent: pulumi.Resource): pulumi.Resource[];
}

const BACKENDS: Record<StoreTarget, { keyValue: readonly string[]; sqlite: readonly string[] }> = {
    local: { keyValue: ["spin"], sqlite: ["spin"] },
    aws: { keyValue: ["aws_dynamo"], sqlite: ["libsql"] },
};
const DEFAULT_BACKEND: Record<StoreTarget, { keyValue: string; sqlite?: string }> = {
    local: { keyValue: "spin", sqlite: "spin" },
    // No platform libSQL server yet: an AWS app with SQLite names its server (README "Data").
    aws: { keyValue: "aws_dynamo" },
};
const OPTIONS: Record<string, readonly string[]> = {
    spin: ["backend", "retainOnDelete"],
    aws_dynamo: ["backend", "retainOnDelete", "consistentRead", "deletionProtection"],
    libsql: ["backend", "retainOnDelete", "url", "token"],
};

function fail(app: string, field: string, value: unknown, allowed: string): never {
    throw new Error(`SpinApp ${app}: ${field} is ${JSON.stringify(value)}; ${allowed}`);
}

/**
 * The labels the manifest declares (`declared`, from readSpinApp; for a prebuilt bindle, the keys
 * of `args`) with their options on `target`. Refused: an override for a label the manifest does
 * not declare, a backend (or option) of the other target, a label Spin refuses.
 */
export function checkedAppStores(app: string, declared: { keyValue: readonly string[]; sqlite: readonly string[] }, args: AppStoresArgs | undefined, target: StoreTarget): CheckedAppStores {
    const one = <T extends { backend?: string }>(kind: "keyValue" | "sqlite", manifestKey: string) => {
        const given = (args?.[kind] ?? {}) as Readonly<Record<string, T>>;
        const labels = declared[kind];
        for (const label of Object.keys(given)) {
            if (!labels.includes(label)) fail(app, `stores.${kind}.${label}`, label, `the manifest declares no such label in any component's ${manifestKey} (declared: ${labels.join(", ") || "none"})`);
        }
        return [...labels].sort().map((label) => {
            const field = `stores.${kind}.${label}`;
            checkedStoreLabel(label, `SpinApp ${app}: ${field}`);
            const options = given[label] ?? ({} as T);
            const backend = options.backend ?? DEFAULT_BACKEND[target][kind];
            if (backend === undefined) fail(app, `${field}.backend`, backend, `${target} has no default ${kind} backend; give { backend: ${BACKENDS[target][kind].map((b) => `"${b}"`).join(" | ")}, ... } (README "Data")`);
            if (!BACKENDS[target][kind].includes(backend)) {
                const other = (Object.keys(BACKENDS) as StoreTarget[]).find((t) => BACKENDS[t][kind].includes(backend));
                fail(app, `${field}.backend`, backend, other ? `is a ${other} backend; on ${target} use ${BACKENDS[target][kind].join(" or ")}` : `must be one of ${BACKENDS[target][kind].join(", ")}`);
            }
            for (const key of Object.keys(options)) {
                if (!(OPTIONS[backend] ?? []).includes(key)) fail(app, `${field}.${key}`, (options as Record<string, unknown>)[key], `is not an option of the ${backend} backend (${OPTIONS[backend].join(", ")})`);
            }
            const o = options as Record<string, unknown>;
            for (const key of ["retainOnDelete", "consistentRead", "deletionProtection"]) {
                if (o[key] !== undefined && typeof o[key] !== "boolean") fail(app, `${field}.${key}`, o[key], "must be a boolean");
            }
            if (backend === "libsql" && (typeof o.url !== "string" || o.token === undefined)) fail(app, field, Object.keys(o), "a libsql database needs url and token");
            return { label, args: { ...options, backend, retainOnDelete: o.retainOnDelete !== false } as unknown as T };
        });
    };
    return { keyValue: one<KeyValueStoreArgs>("keyValue", "key_value_stores"), sqlite: one<SqliteDatabaseArgs>("sqlite", "sqlite_databases") };
}

export const hasAppStores = (s: CheckedAppStores): boolean => s.keyValue.length + s.sqlite.length > 0;
