/**
 * The `libsql` Nomad job (AWS): the platform's libSQL server, one sqld (count 1: one writer) on a
 * `spin` client under `exec`, from the pinned release archive (versions.ts LIBSQL_SERVER), and its
 * `libsql-namespaces` sidecar (libsql-namespaces.sh). Design, recovery point and costs:
 * docs/libsql.md.
 *
 * - Data: the allocation's `alloc/data` on the client's EBS root volume (local block storage, where
 *   SQLite's locks and WAL hold; not the EFS volume Bindle uses), kept across updates on the same
 *   node and moved with the allocation when the old node is still reachable (ephemeral_disk
 *   `sticky`, `migrate`). The durable copy is bottomless, sqld's continuous S3 backup.
 * - Namespaces: every app database's namespace is a tag of the `libsql` service (Consul DNS
 *   `<namespace>.libsql.service.consul`, libsql-databases.ts) and a line of the namespaces item of
 *   the job's Variable, which the sidecar creates. Adding an app changes the tags and the Variable,
 *   not a task.
 * - Secrets (the admin key, the S3 key) reach the tasks through Nomad Variables and templates,
 *   never the jobspec or an argv. The token-verifying public keys are not secret: they are a
 *   literal template of the job, so a changed key set is a new job version whose deployment
 *   replaces sqld before `pulumi up` goes on to the apps (key rotation, docs/libsql.md "Tokens").
 *
 * sqld flags and env (tursodatabase/libsql libsql-server-v0.24.32, libsql-server/src/main.rs `Cli`):
 * `--db-path`, `--http-listen-addr`, `--admin-listen-addr` (the admin API, authenticated only
 * with `LIBSQL_ADMIN_AUTH_KEY`), `--enable-namespaces` and `--disable-default-namespace` (argv
 * only), `--auth-jwt-key-file` (PEM `PUBLIC KEY` blocks, src/auth/parsers.rs),
 * `--enable-bottomless-replication`, `--no-welcome`; bottomless/src/replicator.rs
 * `Options::from_env`: `LIBSQL_BOTTOMLESS_{BUCKET,AWS_DEFAULT_REGION,AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY,DATABASE_ID,ENDPOINT}` (static keys only; the database id is required
 * with namespaces, lib.rs). `GET /health`: 200 without authentication (src/http/user/mod.rs).
 * SIGTERM shuts down gracefully, uploading pending WAL frames first.
 *
 * Nomad references (hashicorp/nomad v1.6.3 website/content/docs/job-specification/):
 * ephemeral_disk.mdx (`sticky`, `migrate`), lifecycle.mdx (a poststart sidecar runs beside the
 * main task for the allocation's life), template.mdx (`nomadVar`, `env`, `change_mode`).
 */
import { createPublicKey } from "crypto";
import { readFileSync } from "fs";
import * as path from "path";
import { JOB_IDS, jobVariablePath, LIBSQL_PORTS, SERVICE_NAMES } from "../platform";
import { Architecture } from "../types";
import { libsqlServerArtifact, LIBSQL_SERVER } from "../versions";
import { containerPathOf, minutes, NomadJob, NomadTask, NomadTaskLifecycle, NomadTemplate, renderJobspec, seconds } from "./nomad-api";
import { LIBSQL_NAMESPACE_PATTERN } from "./libsql-databases";
import { clientConstraints } from "./placement";
import { AWS_REGION_PATTERN, NOBODY_IDS } from "./spin-runtime-config";

export const LIBSQL_GROUP = "libsql";
export const LIBSQL_TASKS = { server: "sqld", namespaces: "libsql-namespaces" } as const;
export const LIBSQL_PORT_LABELS = { http: "http", admin: "admin" } as const;
/** The service whose script check says every namespace exists (exec chroot: the task dir is `/`). */
export const LIBSQL_READY_SERVICE = "libsql-namespaces";

/**
 * The job's Variables: `shared` (every task of the job reads it: the admin key and the namespace
 * list) and `server` (only the sqld task: the backup bucket and its key).
 */
export const LIBSQL_VARIABLES = {
    shared: { path: jobVariablePath(JOB_IDS.libsql), items: { adminKey: "admin_key", namespaces: "namespaces" } },
    server: {
        path: `${jobVariablePath(JOB_IDS.libsql)}/${LIBSQL_GROUP}/${LIBSQL_TASKS.server}`,
        items: { bucket: "backup_bucket", accessKeyId: "backup_access_key_id", secretAccessKey: "backup_secret_access_key" },
    },
} as const;

/** Template destinations, relative to the task directory. */
export const LIBSQL_TEMPLATE_PATHS = {
    env: "secrets/libsql.env",
    jwtKeys: "secrets/libsql-jwt-keys.pem",
    namespaces: "local/namespaces.txt",
    adminHeader: "secrets/admin-auth-header",
    script: "local/libsql-namespaces.sh",
    /** Written by the sidecar while every namespace exists (libsql-namespaces.sh). */
    ready: "local/namespaces.ready",
} as const;

export const LIBSQL_NAMESPACES_SCRIPT = readFileSync(path.join(__dirname, "libsql-namespaces.sh"), "utf8");
if (/\{\{|\}\}/.test(LIBSQL_NAMESPACES_SCRIPT)) throw new Error("libsql-namespaces.sh must not contain {{ or }}: Nomad renders it as a template");
/** Seconds between the sidecar's rounds: a new app's namespace exists at most this long after its Variable changed. */
export const LIBSQL_NAMESPACES_INTERVAL_SECONDS = 10;
/** How long sqld keeps running on a client that lost the servers. */
export const LIBSQL_DISCONNECT_STOP_SECONDS = 30;
/**
 * Graceful shutdown uploads the last WAL frames (bottomless) within sqld's own shutdown timeout
 * (`SQLD_SHUTDOWN_TIMEOUT`, seconds, default 30: main.rs), which must end before Nomad's SIGKILL;
 * Nomad caps `kill_timeout` at the client's `max_kill_timeout`, 30 s by default
 * (command/agent/config.go), so sqld gets 20 of the 30.
 */
export const LIBSQL_KILL_TIMEOUT_SECONDS = 30;
export const LIBSQL_SHUTDOWN_TIMEOUT_SECONDS = 20;

export interface LibsqlResources {
    readonly cpuMhz: number;
    readonly memoryMb: number;
    /** The allocation's disk reservation (ephemeral_disk `size`), where the databases live. */
    readonly diskMb: number;
}
export const LIBSQL_DEFAULT_RESOURCES: LibsqlResources = { cpuMhz: 300, memoryMb: 512, diskMb: 4096 };

export interface LibsqlJobInput {
    readonly datacenters: readonly string[];
    readonly architecture: Architecture;
    /** Every database's namespace (libsql-databases.ts): the service's tags. At least one. */
    readonly namespaces: readonly string[];
    /** The bottomless backup: its region and the id that prefixes every namespace's objects. */
    readonly backup: { readonly region: string; readonly databaseId: string };
    /**
     * The Ed25519 public keys sqld verifies tokens with, each one PEM `PUBLIC KEY` block
     * (libsql-databases.ts libsqlPublicKeyPem), newest first; at least one. sqld reads the file
     * once, at start.
     */
    readonly jwtPublicKeys: readonly string[];
    readonly resources?: Partial<LibsqlResources>;
}

/** One PEM `PUBLIC KEY` block, nothing around it (sqld splits a file of several with pem::parse_many). */
const PUBLIC_KEY_PEM = /^-----BEGIN PUBLIC KEY-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END PUBLIC KEY-----\n$/;

function fail(field: string, value: unknown, allowed: string): never {
    throw new Error(`libsql job: ${field} is ${JSON.stringify(value)}; ${allowed}`);
}

/**
 * sqld 0.24.32 with an empty key file starts with JWT authentication and no usable key: it answers
 * 401 to every token (measured: test/real/libsql/jwt-keys.test.ts), so an empty set would lock
 * every app out. A key sqld cannot parse stops it at start (src/auth/parsers.rs parse_jwt_keys).
 */
function checkedPublicKeys(keys: readonly string[]): string[] {
    if (!Array.isArray(keys) || keys.length === 0) fail("jwtPublicKeys", keys, "at least one PEM PUBLIC KEY: sqld refuses every token without one");
    keys.forEach((pem, i) => {
        const field = `jwtPublicKeys[${i}]`;
        // Nomad renders the key file as a template: `{{` would be template code, not key text.
        if (typeof pem !== "string" || pem.includes("{{") || pem.includes("}}")) fail(field, pem, "must be PEM text without {{ or }} (Nomad renders it as a template)");
        if (!PUBLIC_KEY_PEM.test(pem)) fail(field, pem, "must be exactly one PEM PUBLIC KEY block (SPKI), ending in a newline");
        let type: string | undefined;
        try { type = createPublicKey(pem).asymmetricKeyType; } catch { type = undefined; }
        if (type !== "ed25519") fail(field, pem, `must be an Ed25519 public key (sqld verifies EdDSA tokens only); it is ${type ?? "not a key"}`);
        if (keys.indexOf(pem) !== i) fail(field, pem, "must be given once");
    });
    return [...keys];
}

function checked(input: LibsqlJobInput): { namespaces: string[]; resources: LibsqlResources } {
    if (input.datacenters.length === 0) fail("datacenters", input.datacenters, "at least one datacenter is required");
    if (input.namespaces.length === 0) fail("namespaces", input.namespaces, "the server is only built for at least one database");
    const namespaces = [...input.namespaces].sort();
    namespaces.forEach((ns, i) => {
        if (!LIBSQL_NAMESPACE_PATTERN.test(ns)) fail(`namespaces[${i}]`, ns, "must be a DNS label (lowercase letters, digits, inner hyphens, at most 63)");
        if (i > 0 && namespaces[i - 1] === ns) fail(`namespaces[${i}]`, ns, "must be given once");
    });
    if (!AWS_REGION_PATTERN.test(input.backup.region)) fail("backup.region", input.backup.region, "must be an AWS region such as eu-west-1");
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.backup.databaseId)) fail("backup.databaseId", input.backup.databaseId, "must be 1-63 of [a-z0-9-]");
    const resources = { ...LIBSQL_DEFAULT_RESOURCES, ...input.resources };
    for (const [name, value] of Object.entries(resources)) {
        if (!Number.isSafeInteger(value) || value <= 0) fail(`resources.${name}`, value, "must be a positive integer");
    }
    return { namespaces, resources };
}

const itemOf = (variable: { path: string }, item: string) => `{{ with nomadVar "${variable.path}" }}{{ .${item}.Value | toJSON }}{{ end }}`;
const rawItemOf = (variable: { path: string }, item: string) => `{{ with nomadVar "${variable.path}" }}{{ .${item}.Value }}{{ end }}`;
const owner = { Uid: NOBODY_IDS.uid, Gid: NOBODY_IDS.gid };

function serverTask(input: LibsqlJobInput, resources: LibsqlResources, jwtPublicKeys: readonly string[]): NomadTask {
    const artifact = libsqlServerArtifact(input.architecture);
    const { server, shared } = LIBSQL_VARIABLES;
    const envLine = (name: string, variable: { path: string }, item: string) => `${name}=${itemOf(variable, item)}\n`;
    const templates: NomadTemplate[] = [
        {
            EmbeddedTmpl: envLine("LIBSQL_ADMIN_AUTH_KEY", shared, shared.items.adminKey)
                + envLine("LIBSQL_BOTTOMLESS_BUCKET", server, server.items.bucket)
                + envLine("LIBSQL_BOTTOMLESS_AWS_ACCESS_KEY_ID", server, server.items.accessKeyId)
                + envLine("LIBSQL_BOTTOMLESS_AWS_SECRET_ACCESS_KEY", server, server.items.secretAccessKey),
            DestPath: LIBSQL_TEMPLATE_PATHS.env, Envvars: true, ChangeMode: "restart", Perms: "400", ...owner,
        },
        // A literal: another key set is another template, which Nomad treats as a destructive
        // update (hashicorp/nomad v1.6.3 scheduler/util.go tasksUpdated, "task templates"), so the
        // new job version's deployment replaces the allocation, and registerJob (detach: false)
        // returns only once sqld runs with the new keys; data moves with the sticky disk (measured:
        // test/real/nomad/libsql-server.test.ts, plan destructive 1, the old token never refused).
        { EmbeddedTmpl: jwtPublicKeys.join(""), DestPath: LIBSQL_TEMPLATE_PATHS.jwtKeys, ChangeMode: "noop", Perms: "400", ...owner },
    ];
    return {
        Name: LIBSQL_TASKS.server,
        Driver: "exec",
        User: "nobody",
        Artifacts: [{ GetterSource: artifact.url, GetterOptions: { checksum: `sha256:${artifact.sha256}` }, RelativeDest: "local/" }],
        Config: {
            command: `local/${artifact.binary}`,
            args: [
                "--no-welcome",
                "--db-path", "${NOMAD_ALLOC_DIR}/data/sqld",
                "--http-listen-addr", `\${NOMAD_ADDR_${LIBSQL_PORT_LABELS.http}}`,
                "--admin-listen-addr", `127.0.0.1:${LIBSQL_PORTS.admin}`,
                "--enable-namespaces",
                "--disable-default-namespace",
                "--auth-jwt-key-file", containerPathOf(LIBSQL_TEMPLATE_PATHS.jwtKeys),
                "--enable-bottomless-replication",
            ],
        },
        Env: {
            LIBSQL_BOTTOMLESS_AWS_DEFAULT_REGION: input.backup.region,
            LIBSQL_BOTTOMLESS_DATABASE_ID: input.backup.databaseId,
            SQLD_SHUTDOWN_TIMEOUT: String(LIBSQL_SHUTDOWN_TIMEOUT_SECONDS),
            // Never debug: admin/mod.rs logs request headers (the admin key) at debug.
            RUST_LOG: "info",
        },
        Templates: templates,
        Resources: { CPU: resources.cpuMhz, MemoryMB: resources.memoryMb },
        KillSignal: "SIGTERM",
        KillTimeout: seconds(LIBSQL_KILL_TIMEOUT_SECONDS),
    };
}

function namespacesTask(): NomadTask & { Lifecycle: NomadTaskLifecycle } {
    const { shared } = LIBSQL_VARIABLES;
    return {
        Name: LIBSQL_TASKS.namespaces,
        Driver: "exec",
        User: "nobody",
        Lifecycle: { Hook: "poststart", Sidecar: true },
        Config: {
            command: "/bin/sh",
            args: [containerPathOf(LIBSQL_TEMPLATE_PATHS.script), `http://127.0.0.1:${LIBSQL_PORTS.admin}`, containerPathOf(LIBSQL_TEMPLATE_PATHS.namespaces),
                containerPathOf(LIBSQL_TEMPLATE_PATHS.adminHeader), String(LIBSQL_NAMESPACES_INTERVAL_SECONDS), containerPathOf(LIBSQL_TEMPLATE_PATHS.ready)],
        },
        Templates: [
            { EmbeddedTmpl: LIBSQL_NAMESPACES_SCRIPT, DestPath: LIBSQL_TEMPLATE_PATHS.script, ChangeMode: "noop", Perms: "0444" },
            // noop: the script re-reads the list every round (a restart would gain nothing).
            { EmbeddedTmpl: rawItemOf(shared, shared.items.namespaces), DestPath: LIBSQL_TEMPLATE_PATHS.namespaces, ChangeMode: "noop", Perms: "0444" },
            { EmbeddedTmpl: `Authorization: Basic ${rawItemOf(shared, shared.items.adminKey)}\n`, DestPath: LIBSQL_TEMPLATE_PATHS.adminHeader, ChangeMode: "noop", Perms: "400", ...owner },
        ],
        Resources: { CPU: 50, MemoryMB: 32 },
        // Never `fail`: a failed sidecar makes Nomad kill sqld too (client/allocrunner/alloc_runner.go).
        RestartPolicy: { Attempts: 3, Interval: minutes(5), Delay: seconds(15), Mode: "delay" },
    };
}

export function libsqlJob(input: LibsqlJobInput): NomadJob {
    const { namespaces, resources } = checked(input);
    const jwtPublicKeys = checkedPublicKeys(input.jwtPublicKeys);
    return {
        ID: JOB_IDS.libsql,
        Name: JOB_IDS.libsql,
        Type: "service",
        Datacenters: [...input.datacenters],
        Constraints: clientConstraints(input.architecture),
        Meta: { libsql_server_version: LIBSQL_SERVER.version },
        TaskGroups: [{
            Name: LIBSQL_GROUP,
            // One writer: two sqld on one database would diverge (each restores and writes on its own).
            Count: 1,
            Networks: [{
                Mode: "host",
                ReservedPorts: [{ Label: LIBSQL_PORT_LABELS.http, Value: LIBSQL_PORTS.http }, { Label: LIBSQL_PORT_LABELS.admin, Value: LIBSQL_PORTS.admin }],
            }],
            EphemeralDisk: { SizeMB: resources.diskMb, Sticky: true, Migrate: true },
            // A client cut off from the servers stops sqld after this long, and the servers place
            // the replacement only after the allocation is lost plus this plus the kill timeout
            // (scheduler/reconcile_util.go delayByStopAfterClientDisconnect), so the two never write
            // at once (group.mdx stop_after_client_disconnect).
            StopAfterClientDisconnect: seconds(LIBSQL_DISCONNECT_STOP_SECONDS),
            Services: [{
                Name: SERVICE_NAMES.libsql,
                PortLabel: LIBSQL_PORT_LABELS.http,
                Provider: "consul",
                Tags: namespaces,
                Checks: [{
                    Name: "sqld-health", Type: "http", Protocol: "http", PortLabel: LIBSQL_PORT_LABELS.http,
                    Path: "/health", Method: "GET", Interval: seconds(10), Timeout: seconds(2),
                }],
            }, {
                // Readiness beyond /health, which answers 200 even when sqld cannot reach its
                // backup (every namespace then answers 500): the deployment is healthy only once
                // every namespace exists. A service of its own, so a namespace that later fails
                // does not take the `libsql` instance, and every app's DNS name, out of Consul.
                Name: LIBSQL_READY_SERVICE,
                Provider: "consul",
                Checks: [{
                    Name: "namespaces-ready", Type: "script", TaskName: LIBSQL_TASKS.namespaces,
                    // Exit 1 is `warning`, 2 `critical` (client/allocrunner/taskrunner/script_check_hook.go).
                    Command: "/bin/sh", Args: ["-c", `test -f /${LIBSQL_TEMPLATE_PATHS.ready} || exit 2`],
                    Interval: seconds(10), Timeout: seconds(3),
                }],
            }],
            Tasks: [serverTask(input, resources, jwtPublicKeys), namespacesTask()],
            RestartPolicy: { Attempts: 3, Interval: minutes(5), Delay: seconds(10), Mode: "fail" },
            ReschedulePolicy: { Delay: seconds(30), DelayFunction: "exponential", MaxDelay: minutes(10), Unlimited: true },
            // No canary: a second sqld would be a second writer. The old allocation stops before the new one starts.
            // No auto-revert: a failed deployment fails `pulumi up`, but the provider has recorded the
            // new jobspec (terraform-provider-nomad v2.6.1 nomad/resource_job.go saves it before it
            // waits), so the next `up` would see no change and roll the apps onto tokens of a key the
            // reverted sqld does not trust. Without it Nomad keeps rescheduling the registered version:
            // what runs is always what Pulumi recorded.
            Update: {
                MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: seconds(10),
                HealthyDeadline: minutes(5), ProgressDeadline: minutes(10), AutoRevert: false, Canary: 0,
            },
        }],
    };
}

export function renderLibsqlJobspec(input: LibsqlJobInput): string {
    return renderJobspec(libsqlJob(input));
}
