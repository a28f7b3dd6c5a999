/**
 * The platform libSQL server's databases (AWS, docs/libsql.md): one sqld namespace per app and
 * SQLite label, the URL Spin reaches it at, and the app's token. Pure.
 *
 * sqld references (tursodatabase/libsql, tag libsql-server-v0.24.32):
 * - libsql-server/src/namespace/name.rs: a namespace name is any non-empty UTF-8 and becomes a
 *   directory and an S3 key part, so names are restricted here to DNS labels.
 * - libsql-server/src/http/user/db_factory.rs `namespace_from_headers`: without the
 *   `x-namespace-bin` header (Spin sends none) the namespace is the Host header's first label, so
 *   an app's URL is `http://<namespace>.<name that resolves to sqld>:<port>`; Consul DNS answers
 *   `<tag>.<service>.service.consul` with the instances that carry the tag, so the `libsql`
 *   service carries every namespace as a tag (libsql-job.ts).
 * - libsql-server/src/auth/user_auth_strategies/jwt.rs: EdDSA JWTs; claim `id` is the namespace
 *   and `a` the permission (`rw`); authenticated.rs: a token WITHOUT `id` is valid for every
 *   namespace, so every token here carries one.
 */
import * as crypto from "crypto";
import { ed25519KeyFromSeed } from "../ed25519";
import { LIBSQL_PORTS, SERVICE_NAMES } from "../platform";
import { SPIN_APP_NAME_PATTERN } from "./spin-app-job-input";
import { checkedStoreLabel } from "./spin-store-labels";

/** One app's SQLite label served by the platform server. */
export interface LibsqlDatabaseRef {
    readonly app: string;
    readonly label: string;
}
export interface LibsqlNamespace extends LibsqlDatabaseRef {
    /** The sqld namespace (a DNS label): `libsqlNamespace(app, label)`. */
    readonly namespace: string;
}

export const LIBSQL_NAMESPACE_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_LABEL_MAX = 63;

/**
 * `<app>-<label>`, lowercased with `_` as `-` (a DNS label); over 63 characters, a prefix and 12 hex
 * of the sha256 of `app/label`. Two refs with one namespace are refused by `checkedLibsqlDatabases`.
 */
export function libsqlNamespace(app: string, label: string): string {
    const name = `${app}-${label.toLowerCase().replace(/_/g, "-")}`;
    if (name.length <= DNS_LABEL_MAX) return name;
    const hash = crypto.createHash("sha256").update(`${app}/${label}`).digest("hex").slice(0, 12);
    return `${name.slice(0, DNS_LABEL_MAX - 13).replace(/-+$/, "")}-${hash}`;
}

/** The refs as databases, sorted by namespace; refused: a bad app name or label, a ref given twice, two refs on one namespace. */
export function checkedLibsqlDatabases(refs: readonly LibsqlDatabaseRef[], where = "libsql databases"): LibsqlNamespace[] {
    const byNamespace = new Map<string, LibsqlNamespace>();
    for (const [i, ref] of refs.entries()) {
        const field = `${where}[${i}]`;
        if (typeof ref.app !== "string" || !SPIN_APP_NAME_PATTERN.test(ref.app)) {
            throw new Error(`${field}.app is ${JSON.stringify(ref.app)}; must be an app name (a DNS label starting with a letter)`);
        }
        checkedStoreLabel(ref.label, `${field}.label`);
        const namespace = libsqlNamespace(ref.app, ref.label);
        const other = byNamespace.get(namespace);
        if (other !== undefined) {
            const same = other.app === ref.app && other.label === ref.label;
            throw new Error(same
                ? `${field}: app ${ref.app} label ${ref.label} is given twice`
                : `${field}: app ${ref.app} label ${ref.label} would be libSQL namespace ${JSON.stringify(namespace)}, already the namespace of app ${other.app} label ${other.label}; one namespace cannot be two apps' databases: rename the label or the app`);
        }
        byNamespace.set(namespace, { app: ref.app, label: ref.label, namespace });
    }
    // bottomless keys a namespace's objects `ns-<id>:<namespace>-<generation>/…` and lists them by
    // that prefix (bottomless/src/replicator.rs), so `a-b` would list `a-b-c`'s objects as its own:
    // its restore pages through them, and deleting it fails on their prefixes (not a generation).
    const all = [...byNamespace.values()];
    for (const db of all) {
        const longer = all.find((o) => o.namespace.startsWith(`${db.namespace}-`));
        if (longer !== undefined) {
            throw new Error(`${where}: app ${longer.app} label ${longer.label} would be libSQL namespace ${JSON.stringify(longer.namespace)}, which starts with `
                + `${JSON.stringify(`${db.namespace}-`)}, the namespace of app ${db.app} label ${db.label}; sqld's backup would mix their objects: rename one of the labels`);
        }
    }
    return [...byNamespace.values()].sort((a, b) => (a.namespace < b.namespace ? -1 : 1));
}

/**
 * The backup id of a cluster (`LIBSQL_BOTTOMLESS_DATABASE_ID`, the `ns-<id>:` prefix of every
 * backup object): the cluster name as [a-z0-9-], at most 63 (stack names may hold `_`, `.` and capitals).
 */
export function libsqlBackupId(clusterName: string): string {
    const id = clusterName.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+/, "").slice(0, DNS_LABEL_MAX);
    if (id === "") throw new Error(`libsql: cluster name ${JSON.stringify(clusterName)} gives no backup id`);
    return id;
}

/** What Spin's `libsql` runtime config takes as `url` for the namespace (spin-runtime-config.ts). */
export function libsqlDatabaseUrl(namespace: string): string {
    if (!LIBSQL_NAMESPACE_PATTERN.test(namespace)) throw new Error(`libsql: namespace ${JSON.stringify(namespace)} is not a DNS label`);
    return `http://${namespace}.${SERVICE_NAMES.libsql}.service.consul:${LIBSQL_PORTS.http}`;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

/** The PEM `PUBLIC KEY` (SPKI) sqld's `--auth-jwt-key-file` takes (src/auth/parsers.rs), of the platform key with this seed. */
export function libsqlPublicKeyPem(seedBase64: string): string {
    return crypto.createPublicKey(ed25519KeyFromSeed(seedBase64, "libsql signing key")).export({ type: "spki", format: "pem" }).toString();
}

/**
 * The app's token for its namespace: a JWT `{"id": namespace, "a": "rw"}` without `exp` (it lives
 * as long as sqld trusts its key; rotate with the key generation, docs/libsql.md "Tokens"), signed with the platform's Ed25519 key
 * (its seed). Ed25519 signatures are deterministic: the same key and namespace give the same
 * bytes, so `pulumi preview` shows no change.
 */
export function libsqlToken(namespace: string, seedBase64: string): string {
    if (!LIBSQL_NAMESPACE_PATTERN.test(namespace)) throw new Error(`libsql token: namespace ${JSON.stringify(namespace)} is not a DNS label`);
    const key = ed25519KeyFromSeed(seedBase64, "libsql signing key");
    const input = `${base64url(JSON.stringify({ alg: "EdDSA", typ: "JWT" }))}.${base64url(JSON.stringify({ id: namespace, a: "rw" }))}`;
    return `${input}.${base64url(crypto.sign(null, Buffer.from(input), key))}`;
}
