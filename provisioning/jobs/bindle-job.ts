/**
 * The `bindle` Nomad job: one Bindle server (a service job, count 1) on a `spin` client, run by the
 * docker driver from the pinned image of versions.ts, its data on the EFS-backed host volume so it
 * can be rescheduled on any client, listening on the static BINDLE_PORT of the node's private IP
 * (`http://bindle.service.consul:<BINDLE_PORT>/v1`). Design and recovery: docs/bindle.md.
 * The local target runs the same job under `raw_exec` (bindle-task.ts): the installer's
 * `bindle-server` on 127.0.0.1 at its own port, its store in a directory of the local state.
 *
 * Bindle references (deislabs/bindle):
 * - bin/server.rs (clap `Opts`, v0.8 and later): `--address`/`-i` (env BINDLE_IP_ADDRESS_PORT),
 *   `--directory`/`-d` (BINDLE_DIRECTORY), `--htpasswd-file` (BINDLE_HTPASSWD_FILE),
 *   `--signing-keys` (BINDLE_SIGNING_KEYS), `--strategy` (BINDLE_VERIFICATION_STRATEGY),
 *   `--keyring`/`-r` (no env), `--unauthenticated`; with none of htpasswd/OIDC/unauthenticated the
 *   server refuses to start ("An authentication method must be specified"). A flag beats its env.
 * - src/authz/anonymous_get.rs + PR #225: with htpasswd, anonymous GET is allowed, every other
 *   method needs a user. src/authn/http_basic.rs: only `$2y$` bcrypt entries (`htpasswd -B`).
 * - PR #259: the health endpoint is `/healthz`, outside `/v1`.
 * - Dockerfile (PR #343): binary /usr/local/bin/bindle-server, user `bindle` uid 1000, data under
 *   the `/bindle-data` volume; its CMD says `--unauthenticated`, which is why `command` is set.
 * - src/invoice/signature.rs: a keyring is `version = "1.0"` plus `[[key]]` entries.
 *
 * Nomad references: bindle-task.ts (drivers, filesystem, templates); drivers/raw_exec.mdx
 * "volume mounting: none" is why the local job requests no host volume.
 */
import { loopbackUrl } from "../loopback";
import { BINDLE_HOST_VOLUME, BINDLE_PORT, JOB_IDS, SERVICE_NAMES } from "../platform";
import { assertNever, Architecture } from "../types";
import { BINDLE, checkedImageArchitecture, ContainerImage } from "../versions";
import { minutes, NomadJob, NomadService, NomadTaskGroup, renderJobspec, seconds } from "./nomad-api";
import { BINDLE_DEFAULT_RUNTIME, BINDLE_GID, BINDLE_PORT_LABEL, BINDLE_UID, bindleTask, BindleRuntime, checkedBindleRuntime } from "./bindle-task";
import { clientConstraints } from "./placement";

export {
    BINDLE_CONTAINER_LOCATION, BINDLE_CONTAINER_PATHS, BINDLE_DEFAULT_RUNTIME, BINDLE_EMPTY_KEYRING, BINDLE_GID,
    BINDLE_KILL_TIMEOUT_SECONDS, BINDLE_PORT_LABEL, BINDLE_TEMPLATE_PATHS, BINDLE_UID, BINDLE_VARIABLE_ITEMS,
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
    /** Defaults to `BINDLE.image` of versions.ts (docker runtime only). */
    readonly image?: ContainerImage;
    /** Default `{ driver: "docker" }`. */
    readonly runtime?: BindleRuntime;
}

export const BINDLE_DEFAULT_RESOURCES: BindleResources = { cpuMhz: 200, memoryMb: 256 };

/** Health endpoint (outside the API, unauthenticated) and API base path. */
export const BINDLE_HTTP_PATHS = { health: "/healthz", api: "/v1" } as const;

/**
 * The API base URL the nodes fetch from: through Consul DNS (docker runtime), or the loopback
 * address the raw_exec runtime listens on (`http://127.0.0.1:<port>/v1`).
 */
export function bindleApiUrl(runtime: BindleRuntime = BINDLE_DEFAULT_RUNTIME): string {
    const checked = checkedBindleRuntime(runtime);
    switch (checked.driver) {
        case "docker":
            return `http://${SERVICE_NAMES.bindle}.service.consul:${BINDLE_PORT}${BINDLE_HTTP_PATHS.api}`;
        case "raw_exec":
            return loopbackUrl(checked.port, BINDLE_HTTP_PATHS.api);
        default:
            return assertNever(checked, "runtime.driver");
    }
}

/**
 * What a `spin` client must have for this job, as data for install.sh and nomad-config.ts:
 * - Ubuntu's `docker.io` package (docker daemon, enabled by its systemd unit);
 * - the docker plugin block below (drivers/docker.mdx "Plugin Options": no privileged containers,
 *   no arbitrary host bind mounts; Nomad host volumes do not need `volumes.enabled`);
 * - the host volume directory writable by the container user.
 */
export const BINDLE_CLIENT_REQUIREMENTS = {
    aptPackages: ["docker.io"],
    nomadPlugins: {
        docker: { allow_privileged: false, volumes: { enabled: false } },
    },
    hostVolume: { name: BINDLE_HOST_VOLUME.name, path: BINDLE_HOST_VOLUME.path, uid: BINDLE_UID, gid: BINDLE_GID, mode: "0750" },
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

/** Static port and (docker only: raw_exec mounts no volume) the host volume of the group. */
function placement(runtime: BindleRuntime): Pick<NomadTaskGroup, "Networks" | "Volumes"> {
    switch (runtime.driver) {
        case "docker":
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

/**
 * The Bindle image for docker clients of `architecture`, refused (the error names `architecture`)
 * when it is not verified for it: BINDLE.image is verified for linux/amd64 only (versions.ts).
 * Not called by the program yet: the default architecture and the shipped stacks are arm64, and
 * refusing them needs a decision on the defaults (docs/bindle.md "Before the first deploy").
 */
export function checkedBindleImage(architecture: Architecture, image: ContainerImage = BINDLE.image): ContainerImage {
    return checkedImageArchitecture(image, architecture, "the Bindle image");
}

export function bindleJob(input: BindleJobInput): NomadJob {
    if (input.datacenters.length === 0) {
        throw new Error("bindle: at least one datacenter is required");
    }
    const runtime = checkedBindleRuntime(input.runtime ?? BINDLE_DEFAULT_RUNTIME);
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
            Tasks: [bindleTask(runtime, resources(input), input.image)],
            // A few quick restarts in place, then fail the allocation so it is rescheduled elsewhere.
            RestartPolicy: { Attempts: 2, Interval: minutes(5), Delay: seconds(15), Mode: "fail" },
            ReschedulePolicy: { Delay: seconds(30), DelayFunction: "exponential", MaxDelay: minutes(10), Unlimited: true },
            // No canary: a second instance would be a second writer on the same EFS directory.
            // HealthyDeadline leaves room for the first image pull (docker image_pull_timeout 5m).
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
