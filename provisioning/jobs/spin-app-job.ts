/**
 * The Nomad job of one Spin app, a pure function of typed input: the app's Bindle parcels are
 * fetched as checksum-pinned artifacts into `local/app/`, run by the node's `spin up`, registered
 * in Consul and routed by Traefik. Secret Spin variables come from a Nomad Variable, never the spec.
 *
 * Spin (spinframework/spin): src/commands/up.rs `-f`/`--from`, other arguments pass to the trigger,
 * working dir a fresh TempDir (the chroot's 1777 `tmp/`, nomad concepts/filesystem.mdx), SIGINT
 * (ctrlc) stops the trigger processes; crates/trigger-http/src/lib.rs `--listen`;
 * crates/trigger/src/cli.rs `--state-dir` (default `.spin/` beside spin.toml), `-L`/`--log-dir`
 * ("the empty string disables logging to disk": output goes to Nomad's rotated logs);
 * crates/variables/src/env.rs `SPIN_VARIABLE_` + uppercased name; crates/expressions `Key::validate`;
 * spin-docs content/v3/http-trigger.md `/.well-known/spin/health`. Wasmtime caches under
 * `$HOME/.cache` (crates/cache `ProjectDirs`). Bindle docs/protocol-spec.md `GET /_i/{name}@{parcel}`.
 * Nomad: client/fingerprint/env_aws.go `platform.aws.placement.availability-zone`;
 * job-specification/{spread,artifact,task,service,update}.mdx; structs UpdateStrategy.Validate
 * (min_healthy < healthy_deadline < progress_deadline, auto_promote needs a canary); exec runs as
 * `nobody`; allocdir dropDirPermissions makes `local/` 0777. Traefik v3 docs: other-providers/
 * consul-catalog.md (tags), middlewares/stripprefix.md, routing/rules-and-priority.md,
 * providers/hashicorp/consul-catalog.md (refreshInterval 15s; providersThrottleDuration 2s).
 */
import { CLIENT_NODE_CLASS, jobVariablePath, SERVICE_NAMES } from "../platform";
import { NODE_LAYOUT } from "../layout";
import { DEFAULT_TRAEFIK_TAG_PREFIX, TRAEFIK_ENTRY_POINTS } from "../traefik-config";
import { Architecture } from "../types";
import { minutes, NomadArtifact, NomadJob, NomadService, NomadTask, NomadTaskGroup, NomadTemplate, renderJobspec, seconds } from "./nomad-api";
import { nomadCpuArch, TRAEFIK_DASHBOARD_SERVICE } from "./traefik-job";

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
    /** Within SPIN_APP_LIMITS. The policy pack's `maxAppMemoryMb` (default 512) may be lower. */
    readonly resources: { readonly cpuMhz: number; readonly memoryMb: number };
    /** Environment of the `spin` process (e.g. RUST_LOG), not of the Wasm components. Values are Nomad-interpolated. */
    readonly env?: Readonly<Record<string, string>>;
    readonly variables?: {
        /** Non-secret Spin variables: task env `SPIN_VARIABLE_<NAME>`, visible in the jobspec. */
        readonly values?: Readonly<Record<string, string>>;
        /** Names of secret Spin variables: item `<name>` of the Nomad Variable at `jobVariablePath(jobId)`. */
        readonly secrets?: readonly string[];
    };
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
}

/** Group update strategy; AutoRevert is always on, AutoPromote whenever `canary` > 0 (0 disables canaries). */
export interface SpinAppUpdate {
    readonly maxParallel: number; readonly canary: number;
    readonly minHealthySeconds: number; readonly healthyDeadlineSeconds: number; readonly progressDeadlineSeconds: number;
}
export const SPIN_APP_DEFAULT_UPDATE: SpinAppUpdate = { maxParallel: 1, canary: 1, minHealthySeconds: 10, healthyDeadlineSeconds: 180, progressDeadlineSeconds: 600 };

/** Memory floor: `spin up` plus its `spin trigger http` child (up.rs), each a native process. */
export const SPIN_APP_LIMITS = {
    nameMaxLength: 63,
    /** Spread scoring cost grows with the count, capped at 100 (spread.mdx "Scheduling Performance"). */
    instances: { min: 1, max: 100 },
    memoryMb: { min: 64, max: 4096 },
    cpuMhz: { min: 50, max: 8000 },
} as const;

export const SPIN_APP_NAME_PATTERN = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const SPIN_APP_PREFIX_PATTERN = /^\/[a-z0-9-]+$/;
const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const SPIN_VARIABLE_NAME = /^[a-z](_?[a-z0-9])*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SHA256 = /^[0-9a-f]{64}$/;
const PATH_SEGMENT = /^[A-Za-z0-9._+-]+$/;
const BINDLE_ID = /^[A-Za-z0-9_.+-]+(\/[A-Za-z0-9_.+-]+)+$/;
const BASE_URL = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~-]+)*$/;
const DATACENTER = /^[A-Za-z0-9._*-]+$/;
const ABSOLUTE_PATH = /^\/[A-Za-z0-9._+\/-]+$/;

/** Consul services an app must not join: the platform's, Nomad's (`nomad`, `nomad-client`), Consul's own. */
export const SPIN_APP_RESERVED_NAMES: readonly string[] = [
    "consul", "nomad", "nomad-client", SERVICE_NAMES.traefik, SERVICE_NAMES.bindle, TRAEFIK_DASHBOARD_SERVICE,
];

/** `Meta` marking the job for the policy pack (policy/lib/nomad-job.ts SPIN_APP_META). */
export const SPIN_APP_KIND_META = { key: "spin_cloud_kind", value: "spin-app" } as const;
export const SPIN_APP_PORT_LABEL = "http";
export const SPIN_APP_HEALTH_PATH = "/.well-known/spin/health";
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

function fail(field: string, value: unknown, allowed: string): never {
    throw new Error(`spin app job: ${field} is ${JSON.stringify(value)}; ${allowed}`);
}

function integerIn(field: string, value: number, min: number, max: number): number {
    if (!Number.isInteger(value) || value < min || value > max) fail(field, value, `must be an integer from ${min} to ${max}`);
    return value;
}

function spinVariableName(field: string, name: string): string {
    if (!SPIN_VARIABLE_NAME.test(name)) fail(field, name, "Spin variable names are lowercase letters, digits and single inner underscores, starting with a letter");
    return name;
}

/** Exact tags: enable, rule and entry point; for path prefixes a stripPrefix middleware too. */
export function spinAppTraefikTags(name: string, routing: SpinAppRouting): string[] {
    const p = DEFAULT_TRAEFIK_TAG_PREFIX;
    const router = `${p}.http.routers.${spinAppRouterName(name)}`;
    const base = [`${p}.enable=true`];
    const hostRule = (hosts: readonly string[]) => hosts.map((h) => `Host(\`${h}\`)`).join(" || ");
    if (routing.kind === "hosts") {
        return [...base, `${router}.rule=${hostRule(routing.hosts)}`, `${router}.entrypoints=${TRAEFIK_ENTRY_POINTS.web}`];
    }
    // Not PathPrefix(`/x`) alone: that would also take `/xy`, another app's prefix.
    const pathRule = `Path(\`${routing.prefix}\`) || PathPrefix(\`${routing.prefix}/\`)`;
    const rule = routing.kind === "pathPrefix" ? pathRule : `(${hostRule(routing.hosts)}) && (${pathRule})`;
    const strip = `${spinAppRouterName(name)}-strip`;
    return [
        ...base,
        `${router}.rule=${rule}`,
        `${router}.entrypoints=${TRAEFIK_ENTRY_POINTS.web}`,
        `${router}.middlewares=${strip}`,
        `${p}.http.middlewares.${strip}.stripprefix.prefixes=${routing.prefix}`,
    ];
}

/** `spin up`'s own flags first, then the trigger's (up.rs passes unknown arguments through). */
export function spinUpArgs(): string[] {
    return [
        "up",
        "--from", `\${NOMAD_TASK_DIR}/app/${SPIN_APP_MANIFEST}`,
        "--listen", `\${NOMAD_IP_${SPIN_APP_PORT_LABEL}}:\${NOMAD_PORT_${SPIN_APP_PORT_LABEL}}`,
        "--state-dir", "${NOMAD_TASK_DIR}/spin-state",
        "--log-dir", "",
    ];
}

function checkedHosts(hosts: readonly string[]): string[] {
    if (hosts.length === 0) fail("routing.hosts", hosts, "give at least one host");
    hosts.forEach((h, i) => HOST.test(h) || fail(`routing.hosts[${i}]`, h, "must be a lowercase DNS name such as app.example.com"));
    if (new Set(hosts).size !== hosts.length) fail("routing.hosts", hosts, "hosts must be unique");
    return [...hosts];
}

function checkedPrefix(prefix: string): string {
    if (!SPIN_APP_PREFIX_PATTERN.test(prefix)) fail("routing.prefix", prefix, `must match ${SPIN_APP_PREFIX_PATTERN}`);
    return prefix;
}

function checkedRouting(routing: SpinAppRouting): SpinAppRouting {
    switch (routing.kind) {
        case "hosts":
            return { kind: "hosts", hosts: checkedHosts(routing.hosts) };
        case "pathPrefix":
            return { kind: "pathPrefix", prefix: checkedPrefix(routing.prefix) };
        case "hostsPathPrefix":
            return { kind: "hostsPathPrefix", hosts: checkedHosts(routing.hosts), prefix: checkedPrefix(routing.prefix) };
        default:
            return fail("routing.kind", (routing as { kind: unknown }).kind, 'must be "hosts", "pathPrefix" or "hostsPathPrefix"');
    }
}

/** The task's driver and config for `spin up` under the runtime. */
function spinTask(runtime: SpinAppRuntime): Pick<NomadTask, "Driver" | "User" | "Config"> {
    switch (runtime.driver) {
        case "exec":
            return { Driver: "exec", User: "nobody", Config: { command: NODE_LAYOUT.spin.binary, args: spinUpArgs(), cap_drop: ["all"] } };
        case "raw_exec":
            if (!ABSOLUTE_PATH.test(runtime.spinBinary)) fail("runtime.spinBinary", runtime.spinBinary, "must be an absolute path without spaces");
            return { Driver: "raw_exec", Config: { command: runtime.spinBinary, args: spinUpArgs() } };
        default:
            return fail("runtime.driver", (runtime as { driver: unknown }).driver, 'must be "exec" or "raw_exec"');
    }
}

function checkedParcels(bindle: SpinAppJobInput["bindle"]): SpinAppParcel[] {
    if (!BASE_URL.test(bindle.baseUrl.replace(/\/+$/, ""))) fail("bindle.baseUrl", bindle.baseUrl, "must be an http(s) URL without credentials, query or fragment");
    if (!BINDLE_ID.test(bindle.bindleId)) fail("bindle.bindleId", bindle.bindleId, "must be <name>/<version> (invoice.ts bindleId)");
    if (bindle.parcels.length === 0) fail("bindle.parcels", bindle.parcels, "give at least one parcel");
    bindle.parcels.forEach((parcel, i) => {
        const segments = parcel.path.split("/");
        if (segments.some((s) => !PATH_SEGMENT.test(s) || s === "." || s === "..")) {
            fail(`bindle.parcels[${i}].path`, parcel.path, "must be a relative posix path of [A-Za-z0-9._+-] segments, without . or ..");
        }
        if (!SHA256.test(parcel.sha256)) fail(`bindle.parcels[${i}].sha256`, parcel.sha256, "must be 64 lowercase hex digits");
    });
    const paths = bindle.parcels.map((p) => p.path);
    if (new Set(paths).size !== paths.length) fail("bindle.parcels", paths, "parcel paths must be unique");
    if (!paths.includes(SPIN_APP_MANIFEST)) fail("bindle.parcels", paths, `exactly one parcel must be ${SPIN_APP_MANIFEST} at the app root`);
    return [...bindle.parcels].sort((a, b) => (a.path < b.path ? -1 : 1));
}

function checkedUpdate(given: Partial<SpinAppUpdate> | undefined, instances: number): SpinAppUpdate {
    const u = { ...SPIN_APP_DEFAULT_UPDATE, ...given };
    integerIn("update.maxParallel", u.maxParallel, 1, SPIN_APP_LIMITS.instances.max);
    integerIn("update.canary", u.canary, 0, instances);
    integerIn("update.minHealthySeconds", u.minHealthySeconds, 0, 3600);
    integerIn("update.healthyDeadlineSeconds", u.healthyDeadlineSeconds, u.minHealthySeconds + 1, 3600);
    integerIn("update.progressDeadlineSeconds", u.progressDeadlineSeconds, u.healthyDeadlineSeconds + 1, 7200);
    return u;
}

/** Task env: the caller's, non-secret Spin variables, and HOME in the task dir (nobody's HOME does not exist in the chroot). */
function taskEnv(input: SpinAppJobInput): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(input.env ?? {})) {
        if (!ENV_NAME.test(key)) fail(`env.${key}`, key, `names must match ${ENV_NAME}`);
        if (/^(SPIN_VARIABLE_|NOMAD_)/.test(key) || key === "HOME") fail(`env.${key}`, key, "SPIN_VARIABLE_*, NOMAD_* and HOME are set by the job; pass Spin variables through variables");
        env[key] = value;
    }
    for (const [name, value] of Object.entries(input.variables?.values ?? {})) {
        spinVariableName(`variables.values.${name}`, name);
        if (value.includes("${")) fail(`variables.values.${name}`, value, "must not contain ${ (Nomad would interpolate it)");
        env[spinVariableEnvName(name)] = value;
    }
    env.HOME = "${NOMAD_TASK_DIR}";
    return Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** One env line per secret; an unset or empty item is left out, so Spin falls back to the manifest default. */
function secretsTemplate(jobId: string, secrets: readonly string[]): NomadTemplate[] {
    if (secrets.length === 0) return [];
    const lines = secrets.map((s) => `{{ with .${s}.Value }}${spinVariableEnvName(s)}={{ . | toJSON }}\n{{ end }}`).join("");
    return [{
        EmbeddedTmpl: `{{ with nomadVar "${jobVariablePath(jobId)}" }}${lines}{{ end }}`,
        DestPath: SPIN_APP_SECRETS_ENV_FILE, Envvars: true, ChangeMode: "restart", Perms: "400",
    }];
}

function checkedSecrets(input: SpinAppJobInput): string[] {
    const secrets = [...(input.variables?.secrets ?? [])];
    secrets.forEach((s, i) => spinVariableName(`variables.secrets[${i}]`, s));
    if (new Set(secrets).size !== secrets.length) fail("variables.secrets", secrets, "names must be unique");
    const both = secrets.filter((s) => Object.prototype.hasOwnProperty.call(input.variables?.values ?? {}, s));
    if (both.length > 0) fail("variables.secrets", both, "a variable is either a value or a secret, not both");
    return secrets.sort();
}

export interface SpinAppTaskGroup extends NomadTaskGroup {
    /** Group `shutdown_delay` (not yet in nomad-api.ts): services deregistered this long before the task stops. */
    readonly ShutdownDelay: number;
}
export interface SpinAppNomadJob extends NomadJob { readonly TaskGroups: SpinAppTaskGroup[] }

export function spinAppJob(input: SpinAppJobInput): SpinAppNomadJob {
    const { name } = input;
    if (!SPIN_APP_NAME_PATTERN.test(name)) fail("name", name, `must be a DNS label of at most ${SPIN_APP_LIMITS.nameMaxLength} lowercase letters, digits and inner hyphens, starting with a letter`);
    if (SPIN_APP_RESERVED_NAMES.includes(name)) fail("name", name, `is reserved (${SPIN_APP_RESERVED_NAMES.join(", ")})`);
    if (input.datacenters.length === 0) fail("datacenters", input.datacenters, "give at least one datacenter");
    input.datacenters.forEach((dc, i) => DATACENTER.test(dc) || fail(`datacenters[${i}]`, dc, `must match ${DATACENTER}`));
    const instances = integerIn("instances", input.instances, SPIN_APP_LIMITS.instances.min, SPIN_APP_LIMITS.instances.max);
    const { cpuMhz, memoryMb } = SPIN_APP_LIMITS;
    const cpu = integerIn("resources.cpuMhz", input.resources.cpuMhz, cpuMhz.min, cpuMhz.max);
    const memory = integerIn("resources.memoryMb", input.resources.memoryMb, memoryMb.min, memoryMb.max);
    const routing = checkedRouting(input.routing);
    const parcels = checkedParcels(input.bindle);
    const update = checkedUpdate(input.update, instances);
    const jobId = spinAppJobId(name);
    const secrets = checkedSecrets(input);
    const env = taskEnv(input);

    // go-getter verifies each download against its sha256 before the task starts (artifact.mdx).
    const artifacts: NomadArtifact[] = parcels.map((p) => ({
        GetterSource: parcelUrl(input.bindle.baseUrl, input.bindle.bindleId, p.sha256),
        GetterOptions: { checksum: `sha256:${p.sha256}` },
        GetterMode: "file",
        RelativeDest: `${SPIN_APP_DIR}/${p.path}`,
    }));
    const service: NomadService = {
        Name: name,
        PortLabel: SPIN_APP_PORT_LABEL,
        Provider: "consul",
        // No CanaryTags: a canary takes its share of traffic under the same router (service.mdx canary_tags).
        Tags: spinAppTraefikTags(name, routing),
        Checks: [{
            Name: `${name}-health`, Type: "http", Protocol: "http", PortLabel: SPIN_APP_PORT_LABEL,
            Path: SPIN_APP_HEALTH_PATH, Method: "GET", Interval: seconds(10), Timeout: seconds(2),
        }],
    };
    return {
        ID: jobId,
        Name: jobId,
        Type: "service",
        Datacenters: [...input.datacenters],
        Meta: { [SPIN_APP_KIND_META.key]: SPIN_APP_KIND_META.value, spin_cloud_app: name, bindle_id: input.bindle.bindleId },
        TaskGroups: [{
            Name: "app",
            Count: instances,
            Constraints: [
                { LTarget: "${node.class}", RTarget: CLIENT_NODE_CLASS, Operand: "=" },
                { LTarget: "${attr.cpu.arch}", RTarget: nomadCpuArch(input.architecture), Operand: "=" },
            ],
            // Soft preference: nodes without the attribute (not on EC2) still take placements.
            Spreads: [{ Attribute: "${attr.platform.aws.placement.availability-zone}", Weight: 100 }],
            Networks: [{ Mode: "host", DynamicPorts: [{ Label: SPIN_APP_PORT_LABEL }] }],
            Services: [service],
            Tasks: [{
                Name: "spin",
                ...spinTask(input.runtime ?? { driver: "exec" }),
                Env: env,
                Artifacts: artifacts,
                Templates: secretsTemplate(jobId, secrets),
                Resources: { CPU: cpu, MemoryMB: memory },
                // SIGINT is what up.rs's ctrlc handler turns into stopping its triggers.
                KillSignal: "SIGINT",
                KillTimeout: seconds(SPIN_APP_KILL_TIMEOUT_SECONDS),
            }],
            ShutdownDelay: seconds(SPIN_APP_SHUTDOWN_DELAY_SECONDS),
            RestartPolicy: { Attempts: 2, Interval: minutes(5), Delay: seconds(15), Mode: "fail" },
            ReschedulePolicy: { Delay: seconds(30), DelayFunction: "exponential", MaxDelay: minutes(10), Unlimited: true },
            Update: {
                MaxParallel: update.maxParallel, HealthCheck: "checks", MinHealthyTime: seconds(update.minHealthySeconds),
                HealthyDeadline: seconds(update.healthyDeadlineSeconds), ProgressDeadline: seconds(update.progressDeadlineSeconds),
                AutoRevert: true, AutoPromote: update.canary > 0, Canary: update.canary,
            },
        }],
    };
}

/** The jobspec the Nomad provider registers with `json: true`. Deterministic. */
export function renderSpinAppJobspec(input: SpinAppJobInput): string {
    return renderJobspec(spinAppJob(input));
}
