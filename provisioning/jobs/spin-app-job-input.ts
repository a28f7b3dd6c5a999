/**
 * What spinAppJob (spin-app-job.ts) takes and the fixed names it gives the job: the input types,
 * their defaults and limits, the name and prefix patterns, the reserved service names, and the
 * job's IDs, labels and paths. Sources: the header of spin-app-job.ts.
 */
import { SERVICE_NAMES } from "../platform";
import { Architecture } from "../types";
import { TRAEFIK_DASHBOARD_SERVICE } from "./traefik-job";
import type { SpinAppStores } from "./spin-runtime-config";

export type SpinAppRouting =
    /** Traefik rule `Host(\`a\`) || Host(\`b\`)`: the app owns these DNS names. */
    | { readonly kind: "hosts"; readonly hosts: readonly string[] }
    /** `/<prefix>` and everything under it, on any host, the prefix stripped (clouds without a domain). */
    | { readonly kind: "pathPrefix"; readonly prefix: string }
    /** `/<prefix>` and everything under it on these DNS names only, the prefix stripped. */
    | { readonly kind: "hostsPathPrefix"; readonly hosts: readonly string[]; readonly prefix: string };

/**
 * How the node runs `spin`: `exec` (isolated, as `nobody`, the Spin provisioning installed: AWS
 * clients, Nomad running as root) or `raw_exec` (the agent's own user, a given Spin binary: the
 * local target, where Nomad runs unprivileged and `exec` is not available).
 */
export type SpinAppRuntime =
    | { readonly driver: "exec" }
    | { readonly driver: "raw_exec"; readonly spinBinary: string };

/** `path`: relative to the app directory (posix), as the invoice label `name`; `sha256`: lowercase hex. */
export interface SpinAppParcel { readonly path: string; readonly sha256: string }

export interface SpinAppJobInput {
    /** DNS label (SPIN_APP_NAME_PATTERN): Consul service name; job ID `spinAppJobId(name)`. */
    readonly name: string;
    readonly datacenters: readonly string[];
    readonly architecture: Architecture;
    /** Group count, within SPIN_APP_LIMITS.instances. */
    readonly instances: number;
    /** Within SPIN_APP_LIMITS. The policy pack's `maxAppMemoryMb` defaults to the same maximum and may be set lower. */
    readonly resources: { readonly cpuMhz: number; readonly memoryMb: number };
    /** Environment of the `spin` process (e.g. RUST_LOG), not of the Wasm components. Values are Nomad-interpolated. */
    readonly env?: Readonly<Record<string, string>>;
    readonly variables?: {
        /** Non-secret Spin variables: task env `SPIN_VARIABLE_<NAME>`, visible in the jobspec. */
        readonly values?: Readonly<Record<string, string>>;
        /** Names of secret Spin variables: item `<name>` of the Nomad Variable at `jobVariablePath(jobId)`. */
        readonly secrets?: readonly string[];
        /**
         * Keyed digest of the secret values (no value, not reversible): in the job's meta, so a
         * changed secret is a new job version that rolls out with canaries and auto-revert, as
         * any other change; the running instances keep theirs until replaced (template noop).
         */
        readonly secretsDigest?: string;
    };
    /** The readiness check: a request the app itself answers (not Spin's health path). */
    readonly readiness?: SpinAppReadiness;
    readonly bindle: {
        /** Bindle API base, e.g. `http://bindle.service.consul:8085/v1` (bindleApiUrl()). */
        readonly baseUrl: string;
        /** `<name>/<version>` (invoice.ts bindleId). */
        readonly bindleId: string;
        /** Every file of the app; exactly one is `spin.toml` at the root. */
        readonly parcels: readonly SpinAppParcel[];
    };
    readonly routing: SpinAppRouting;
    readonly update?: Partial<SpinAppUpdate>;
    /** Default `{ driver: "exec" }`. */
    readonly runtime?: SpinAppRuntime;
    /** Key-value and SQLite labels → backends: Spin's runtime config file (spin-runtime-config.ts). */
    readonly stores?: SpinAppStores;
}

/** Group update strategy; AutoRevert is always on, AutoPromote whenever `canary` > 0 (0 disables canaries). */
export interface SpinAppUpdate {
    readonly maxParallel: number; readonly canary: number;
    readonly minHealthySeconds: number; readonly healthyDeadlineSeconds: number; readonly progressDeadlineSeconds: number;
}
export const SPIN_APP_DEFAULT_UPDATE: SpinAppUpdate = { maxParallel: 1, canary: 1, minHealthySeconds: 10, healthyDeadlineSeconds: 180, progressDeadlineSeconds: 600 };

/**
 * Memory floor 128 MB: `spin up` plus its `spin trigger http` child (up.rs), each a native
 * process; even a cached start of the 12 MB example component peaks at 116 MB (bench/spin-memory.ts).
 */
export const SPIN_APP_LIMITS = {
    nameMaxLength: 63,
    /** Spread scoring cost grows with the count, capped at 100 (spread.mdx "Scheduling Performance"). */
    instances: { min: 1, max: 100 },
    memoryMb: { min: 128, max: 4096 },
    cpuMhz: { min: 50, max: 8000 },
} as const;

export const SPIN_APP_NAME_PATTERN = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const SPIN_APP_PREFIX_PATTERN = /^\/[a-z0-9-]+$/;

/** Consul services an app must not join: the platform's, Nomad's (`nomad`, `nomad-client`), Consul's own. */
export const SPIN_APP_RESERVED_NAMES: readonly string[] = [
    "consul", "nomad", "nomad-client", SERVICE_NAMES.traefik, SERVICE_NAMES.bindle, TRAEFIK_DASHBOARD_SERVICE,
];

/** `Meta` marking the job for the policy pack (policy/lib/nomad-job.ts SPIN_APP_META). */
export const SPIN_APP_KIND_META = { key: "spin_cloud_kind", value: "spin-app" } as const;
export const SPIN_APP_PORT_LABEL = "http";
export const SPIN_APP_HEALTH_PATH = "/.well-known/spin/health";

/**
 * `GET <path>` against each instance, passing on 2xx only (Consul's HTTP check: 2xx passing,
 * 429 warning, anything else critical; Nomad hands the check to Consul, service.mdx). Spin answers
 * its health path before any component runs (spinframework/spin v3.4.0
 * crates/trigger-http/src/server.rs), so only this check proves the app instantiates and answers;
 * with the update's `health_check = "checks"` a canary is promoted only once it passes.
 */
export interface SpinAppReadiness {
    /** Absolute path, as the app sees it (after any path-prefix strip), e.g. `/` or `/api/health`. */
    readonly path: string;
}
export const SPIN_APP_MANIFEST = "spin.toml";
/** Where parcels land, relative to the task directory; `${NOMAD_TASK_DIR}` is `local/`. */
export const SPIN_APP_DIR = "local/app";
export const SPIN_APP_SECRETS_ENV_FILE = "secrets/spin-variables.env";
/** Longer than Traefik's catalog refresh (15s) plus its reload throttle (2s): no request reaches a stopped instance. */
export const SPIN_APP_SHUTDOWN_DELAY_SECONDS = 20;
export const SPIN_APP_KILL_TIMEOUT_SECONDS = 10;

export const spinAppJobId = (name: string): string => `app-${name}`;
/** Traefik router (and middleware prefix) name: `app-` keeps apps apart from platform routers. */
export const spinAppRouterName = (name: string): string => `app-${name}`;
export const spinVariableEnvName = (name: string): string => `SPIN_VARIABLE_${name.toUpperCase()}`;
export const parcelUrl = (baseUrl: string, bindleId: string, sha256: string): string =>
    `${baseUrl.replace(/\/+$/, "")}/_i/${bindleId}@${sha256}`;
