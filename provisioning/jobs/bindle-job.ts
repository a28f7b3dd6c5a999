/**
 * The `bindle` Nomad job: one Bindle server (a service job, count 1) on a `spin` client, run by the
 * docker driver from the pinned image of versions.ts, its data on the EFS-backed host volume so it
 * can be rescheduled on any client, listening on the static BINDLE_PORT of the node's private IP
 * (`http://bindle.service.consul:<BINDLE_PORT>/v1`). Design and recovery: docs/bindle.md.
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
 * Nomad references (hashicorp/nomad website/content/docs/):
 * - drivers/docker.mdx: `image`, `command`, `args` (interpolated), `network_mode`, `cap_drop`;
 *   task `user` sets the container user.
 * - concepts/filesystem.mdx: docker binds the task's `local/` and `secrets/` at NOMAD_TASK_DIR and
 *   NOMAD_SECRETS_DIR; `secrets/` is in-memory where possible, `noexec`, and hidden from
 *   `nomad alloc fs`. Templates must render there to be visible in the container.
 * - job-specification/template.mdx: `perms`, `uid`/`gid`, `change_mode`; `nomadVar` (as in
 *   traefik-job.ts: blocks until the variable exists and the job's identity may read it).
 */
import { BINDLE_HOST_VOLUME, BINDLE_PORT, CLIENT_NODE_CLASS, JOB_IDS, jobVariablePath, SERVICE_NAMES } from "../platform";
import { Architecture } from "../types";
import { BINDLE, ContainerImage, containerImageReference } from "../versions";
import { minutes, NomadJob, NomadService, NomadTask, NomadTemplate, renderJobspec, seconds } from "./nomad-api";
import { nomadCpuArch } from "./traefik-job";

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
    /** Defaults to `BINDLE.image` of versions.ts. */
    readonly image?: ContainerImage;
}

export const BINDLE_DEFAULT_RESOURCES: BindleResources = { cpuMhz: 200, memoryMb: 256 };

/** Label of the static port in the group network. */
export const BINDLE_PORT_LABEL = "http";

/** The image's `bindle` user (Dockerfile `USER_UID=1000`, `USER_GID=$USER_UID`). */
export const BINDLE_UID = 1000;
export const BINDLE_GID = 1000;

/** Paths inside the container. */
export const BINDLE_CONTAINER_PATHS = {
    binary: "/usr/local/bin/bindle-server",
    /** Where the host volume is mounted (the image's `VOLUME`). */
    data: "/bindle-data",
    /** `--directory`: invoices/ and parcels/ (docs/file-layout.md), created by the server. */
    bindles: "/bindle-data/bindles",
} as const;

/** Items of the Nomad Variable at `jobVariablePath(JOB_IDS.bindle)`. */
export const BINDLE_VARIABLE_ITEMS = {
    /** htpasswd file content: `user:$2y$…` lines (bcrypt, `htpasswd -nB user`). Required. */
    htpasswd: "htpasswd",
    /** Secret key file (TOML) holding a key with the `host` role. Required. */
    signingKeys: "signing_keys",
    /** Public keyring (TOML) of trusted signers. Optional: an empty keyring when absent. */
    keyring: "keyring",
} as const;

/** Where the templates render, relative to the task working directory. */
export const BINDLE_TEMPLATE_PATHS = {
    htpasswd: "secrets/htpasswd",
    signingKeys: "secrets/signing-keys.toml",
    keyring: "local/keyring.toml",
} as const;

/** `KeyRing::default()` (src/invoice/signature.rs, KEY_RING_VERSION "1.0"), rendered when no keyring item is set. */
export const BINDLE_EMPTY_KEYRING = 'version = "1.0"\nkey = []\n';

/**
 * Default of `--strategy` (src/invoice/verification.rs `impl Default`), passed explicitly:
 * a creator key must be in the keyring and every signature must be valid.
 */
export const BINDLE_VERIFICATION_STRATEGY = "GreedyVerification";

/** Health endpoint (outside the API, unauthenticated) and API base path. */
export const BINDLE_HTTP_PATHS = { health: "/healthz", api: "/v1" } as const;

/** Seconds Nomad waits after SIGINT before killing (Nomad's default max_kill_timeout is 30s). */
export const BINDLE_KILL_TIMEOUT_SECONDS = 20;

/** The API base URL every node reaches through Consul DNS. */
export function bindleApiUrl(): string {
    return `http://${SERVICE_NAMES.bindle}.service.consul:${BINDLE_PORT}${BINDLE_HTTP_PATHS.api}`;
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

/** `secrets/x` → `${NOMAD_SECRETS_DIR}/x`, `local/x` → `${NOMAD_TASK_DIR}/x`: the path the container sees. */
export function containerPathOf(templateDest: string): string {
    const match = /^(secrets|local)\/([^/]+)$/.exec(templateDest);
    if (!match) {
        throw new Error(`bindle: template destination ${templateDest} is not a file in secrets/ or local/`);
    }
    return `\${${match[1] === "secrets" ? "NOMAD_SECRETS_DIR" : "NOMAD_TASK_DIR"}}/${match[2]}`;
}

/** The server's command line after the binary: every setting explicit, one auth mode (htpasswd). */
export function bindleServerArgs(): string[] {
    return [
        "--address", `\${NOMAD_ADDR_${BINDLE_PORT_LABEL}}`,
        "--directory", BINDLE_CONTAINER_PATHS.bindles,
        "--htpasswd-file", containerPathOf(BINDLE_TEMPLATE_PATHS.htpasswd),
        "--signing-keys", containerPathOf(BINDLE_TEMPLATE_PATHS.signingKeys),
        "--keyring", containerPathOf(BINDLE_TEMPLATE_PATHS.keyring),
        "--strategy", BINDLE_VERIFICATION_STRATEGY,
    ];
}

/** A template printing one item of the job's variable; `fallback` when the item is unset or empty. */
function variableItem(item: string, fallback = ""): string {
    const value = fallback === "" ? `{{ .${item}.Value }}` : `{{ with .${item}.Value }}{{ . }}{{ else }}${fallback}{{ end }}`;
    return `{{ with nomadVar "${jobVariablePath(JOB_IDS.bindle)}" }}${value}{{ end }}`;
}

function templates(): NomadTemplate[] {
    // The server reads these files once at start, so a change restarts it. Secrets are readable by
    // the container user only; no value is in the jobspec.
    const secret = (item: string, dest: string): NomadTemplate => ({
        EmbeddedTmpl: variableItem(item), DestPath: dest, ChangeMode: "restart", Perms: "0400", Uid: BINDLE_UID, Gid: BINDLE_GID,
    });
    return [
        secret(BINDLE_VARIABLE_ITEMS.htpasswd, BINDLE_TEMPLATE_PATHS.htpasswd),
        secret(BINDLE_VARIABLE_ITEMS.signingKeys, BINDLE_TEMPLATE_PATHS.signingKeys),
        {
            EmbeddedTmpl: variableItem(BINDLE_VARIABLE_ITEMS.keyring, BINDLE_EMPTY_KEYRING),
            DestPath: BINDLE_TEMPLATE_PATHS.keyring,
            ChangeMode: "restart",
            Perms: "0444",
        },
    ];
}

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

function task(input: BindleJobInput): NomadTask {
    const { cpuMhz, memoryMb } = resources(input);
    return {
        Name: "bindle",
        Driver: "docker",
        User: `${BINDLE_UID}:${BINDLE_GID}`,
        Config: {
            image: containerImageReference(input.image ?? BINDLE.image),
            // Replaces the image CMD (which says --unauthenticated) with our flags.
            command: BINDLE_CONTAINER_PATHS.binary,
            args: bindleServerArgs(),
            // Bind the node's private address directly, like the other platform services.
            network_mode: "host",
            cap_drop: ["all"],
        },
        // tracing EnvFilter::from_default_env (bin/server.rs).
        Env: { RUST_LOG: "error,bindle=info" },
        Templates: templates(),
        Resources: { CPU: cpuMhz, MemoryMB: memoryMb },
        VolumeMounts: [{ Volume: BINDLE_HOST_VOLUME.name, Destination: BINDLE_CONTAINER_PATHS.data, ReadOnly: false }],
        // The server shuts down gracefully on Ctrl-C (src/server/mod.rs shutdown_signal, tokio ctrl_c).
        KillSignal: "SIGINT",
        KillTimeout: seconds(BINDLE_KILL_TIMEOUT_SECONDS),
    };
}

export function bindleJob(input: BindleJobInput): NomadJob {
    if (input.datacenters.length === 0) {
        throw new Error("bindle: at least one datacenter is required");
    }
    return {
        ID: JOB_IDS.bindle,
        Name: JOB_IDS.bindle,
        Type: "service",
        Datacenters: [...input.datacenters],
        Constraints: [
            { LTarget: "${node.class}", RTarget: CLIENT_NODE_CLASS, Operand: "=" },
            { LTarget: "${attr.cpu.arch}", RTarget: nomadCpuArch(input.architecture), Operand: "=" },
        ],
        Meta: { bindle_version: BINDLE.version },
        TaskGroups: [{
            Name: "bindle",
            // One writer: the file store has no cross-process locking.
            Count: 1,
            Networks: [{ Mode: "host", ReservedPorts: [{ Label: BINDLE_PORT_LABEL, Value: BINDLE_PORT }] }],
            Volumes: {
                [BINDLE_HOST_VOLUME.name]: { Name: BINDLE_HOST_VOLUME.name, Type: "host", Source: BINDLE_HOST_VOLUME.name, ReadOnly: false },
            },
            Services: [service()],
            Tasks: [task(input)],
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
