/**
 * The `bindle` Nomad job: one Bindle server (a service job, count 1) on a `spin` client, run by the
 * exec driver from the release tarball of versions.ts, its data on the EFS-backed host volume so it
 * can be rescheduled on any client, listening on the static BINDLE_PORT of the node's private IP
 * (`http://bindle.service.consul:<BINDLE_PORT>/v1`). Design and recovery: docs/bindle.md.
 * The local target runs the same job under `raw_exec` (bindle-task.ts): the installer's
 * `bindle-server` on 127.0.0.1 at its own port, its store in a directory of the local state.
 *
 * Bindle references (deislabs/bindle):
 * - bin/server.rs (clap `Opts`, v0.8 and v0.9.1): `--address`/`-i` (env BINDLE_IP_ADDRESS_PORT),
 *   `--directory`/`-d` (BINDLE_DIRECTORY), `--htpasswd-file` (BINDLE_HTPASSWD_FILE),
 *   `--signing-keys` (BINDLE_SIGNING_KEYS), `--strategy` (BINDLE_VERIFICATION_STRATEGY),
 *   `--keyring`/`-r` (no env), `--unauthenticated`; with none of htpasswd/OIDC/unauthenticated the
 *   server refuses to start ("An authentication method must be specified"). A flag beats its env.
 * - src/authz/anonymous_get.rs + PR #225: with htpasswd, anonymous GET is allowed, every other
 *   method needs a user. src/authn/http_basic.rs: only `$2y$` bcrypt entries (`htpasswd -B`).
 * - PR #259: the health endpoint is `/healthz`, outside `/v1`.
 * - src/invoice/signature.rs: a keyring is `version = "1.0"` plus `[[key]]` entries.
 *
 * Nomad references: bindle-task.ts (drivers, filesystem, templates); drivers/raw_exec.mdx
 * "volume mounting: none" is why the local job requests no host volume.
 */
import { loopbackUrl } from "../loopback";
import { BINDLE_HOST_VOLUME, BINDLE_PORT, JOB_IDS, SERVICE_NAMES } from "../platform";
import { assertNever, Architecture } from "../types";
import { BINDLE } from "../versions";
import { minutes, NomadJob, NomadService, NomadTaskGroup, renderJobspec, seconds } from "./nomad-api";
import { BINDLE_PORT_LABEL, BINDLE_USER, bindleTask, BindleRuntime, checkedBindleRuntime } from "./bindle-task";
import { bindleRepairTask } from "./bindle-repair";
import { clientConstraints } from "./placement";

export {
    BINDLE_CONTAINER_LOCATION, BINDLE_CONTAINER_PATHS, BINDLE_EMPTY_KEYRING, BINDLE_GID,
    BINDLE_KILL_TIMEOUT_SECONDS, BINDLE_PORT_LABEL, BINDLE_TEMPLATE_PATHS, BINDLE_UID, BINDLE_USER, BINDLE_VARIABLE_ITEMS,
    BINDLE_VERIFICATION_STRATEGY, bindleLocalLocation, bindleServerArgs, containerPathOf,
} from "./bindle-task";
export type { BindleRuntime, BindleServerLocation } from "./bindle-task";

export interface BindleResources {
    /** CPU shares in MHz (Nomad `resources.cpu`). */
    readonly cpuMhz: number;
    readonly memoryMb: number;
}

export interface BindleJobInput {
    /** Nomad datacenters the job may run in. */
    readonly datacenters: readonly string[];
    /** CPU architecture of the clients (the job is constrained to it). */
    readonly architecture: Architecture;
    /** Defaults to BINDLE_DEFAULT_RESOURCES. */
    readonly resources?: Partial<BindleResources>;
    /** Default `{ driver: "exec", architecture }`: the release tarball of the clients' architecture. */
    readonly runtime?: BindleRuntime;
}

export const BINDLE_DEFAULT_RESOURCES: BindleResources = { cpuMhz: 200, memoryMb: 256 };

/** Health endpoint (outside the API, unauthenticated) and API base path. */
export const BINDLE_HTTP_PATHS = { health: "/healthz", api: "/v1" } as const;

/**
 * The API base URL the nodes fetch from: through Consul DNS (exec runtime, AWS), or the loopback
 * address the raw_exec runtime listens on (`http://127.0.0.1:<port>/v1`).
 */
export function bindleApiUrl(runtime?: BindleRuntime): string {
    if (runtime === undefined) return consulBindleApiUrl();
    const checked = checkedBindleRuntime(runtime);
    switch (checked.driver) {
        case "exec":
            return consulBindleApiUrl();
        case "raw_exec":
            return loopbackUrl(checked.port, BINDLE_HTTP_PATHS.api);
        default:
            return assertNever(checked, "runtime.driver");
    }
}

function consulBindleApiUrl(): string {
    return `http://${SERVICE_NAMES.bindle}.service.consul:${BINDLE_PORT}${BINDLE_HTTP_PATHS.api}`;
}

/**
 * What a `spin` client must have for this job, as data for install.sh and the client config: the
 * `bindle` system user with its fixed ids (the exec task's `user`), and the host volume directory
 * owned by it. The exec driver itself is on every client already (Spin apps use it).
 */
export const BINDLE_CLIENT_REQUIREMENTS = {
    systemUser: BINDLE_USER,
    hostVolume: { name: BINDLE_HOST_VOLUME.name, path: BINDLE_HOST_VOLUME.path, uid: BINDLE_USER.uid, gid: BINDLE_USER.gid, mode: "0750" },
} as const;

function service(): NomadService {
    return {
        Name: SERVICE_NAMES.bindle,
        PortLabel: BINDLE_PORT_LABEL,
        Provider: "consul",
        Checks: [{
            Name: "bindle-healthz",
            Type: "http",
            Protocol: "http",
            PortLabel: BINDLE_PORT_LABEL,
            Path: BINDLE_HTTP_PATHS.health,
            Method: "GET",
            Interval: seconds(10),
            Timeout: seconds(2),
        }],
    };
}

function resources(input: BindleJobInput): BindleResources {
    const merged = { ...BINDLE_DEFAULT_RESOURCES, ...input.resources };
    for (const [name, value] of Object.entries(merged)) {
        if (!Number.isInteger(value) || value <= 0) {
            throw new Error(`bindle: resources.${name} must be a positive integer, got ${value}`);
        }
    }
    return merged;
}

/** Static port and (exec only: raw_exec mounts no volume) the host volume of the group. */
function placement(runtime: BindleRuntime): Pick<NomadTaskGroup, "Networks" | "Volumes"> {
    switch (runtime.driver) {
        case "exec":
            return {
                Networks: [{ Mode: "host", ReservedPorts: [{ Label: BINDLE_PORT_LABEL, Value: BINDLE_PORT }] }],
                Volumes: {
                    [BINDLE_HOST_VOLUME.name]: { Name: BINDLE_HOST_VOLUME.name, Type: "host", Source: BINDLE_HOST_VOLUME.name, ReadOnly: false },
                },
            };
        case "raw_exec":
            return { Networks: [{ Mode: "host", ReservedPorts: [{ Label: BINDLE_PORT_LABEL, Value: runtime.port }] }] };
        default:
            return assertNever(runtime, "runtime.driver");
    }
}

export function bindleJob(input: BindleJobInput): NomadJob {
    if (input.datacenters.length === 0) {
        throw new Error("bindle: at least one datacenter is required");
    }
    const runtime = checkedBindleRuntime(input.runtime ?? { driver: "exec", architecture: input.architecture });
    if (runtime.driver === "exec" && runtime.architecture !== input.architecture) {
        throw new Error(`bindle: runtime.architecture ${runtime.architecture} differs from the job's architecture ${input.architecture}`);
    }
    return {
        ID: JOB_IDS.bindle,
        Name: JOB_IDS.bindle,
        Type: "service",
        Datacenters: [...input.datacenters],
        Constraints: clientConstraints(input.architecture),
        Meta: { bindle_version: BINDLE.version },
        TaskGroups: [{
            Name: "bindle",
            // One writer: the file store has no cross-process locking.
            Count: 1,
            ...placement(runtime),
            Services: [service()],
            // The repair prestart removes parcel directories an interrupted upload left (bindle-repair.ts).
            Tasks: [bindleRepairTask(runtime), bindleTask(runtime, resources(input))],
            // A few quick restarts in place, then fail the allocation so it is rescheduled elsewhere.
            RestartPolicy: { Attempts: 2, Interval: minutes(5), Delay: seconds(15), Mode: "fail" },
            ReschedulePolicy: { Delay: seconds(30), DelayFunction: "exponential", MaxDelay: minutes(10), Unlimited: true },
            // No canary: a second instance would be a second writer on the same EFS directory.
            // HealthyDeadline leaves room for the first download of the tarball and its sums file.
            Update: {
                MaxParallel: 1,
                HealthCheck: "checks",
                MinHealthyTime: seconds(10),
                HealthyDeadline: minutes(8),
                ProgressDeadline: minutes(15),
                AutoRevert: true,
                Canary: 0,
            },
        }],
    };
}

/** The jobspec the Nomad provider registers with `json: true`. Deterministic. */
export function renderBindleJobspec(input: BindleJobInput): string {
    return renderJobspec(bindleJob(input));
}
