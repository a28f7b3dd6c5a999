/**
 * The task of the `bindle` job (bindle-job.ts) under each runtime: how the server process is
 * started, where its files are, and the templates that hand it its secrets.
 *
 * Bindle references (deislabs/bindle): bin/server.rs flags (see bindle-job.ts); Dockerfile
 * (PR #343): binary /usr/local/bin/bindle-server, user `bindle` uid 1000, data under the
 * `/bindle-data` volume; src/invoice/signature.rs `KeyRing::default()`;
 * src/invoice/verification.rs `impl Default` (GreedyVerification).
 *
 * Nomad references (hashicorp/nomad website/content/docs/):
 * - drivers/docker.mdx: `image`, `command`, `args` (interpolated), `network_mode`, `cap_drop`;
 *   task `user` sets the container user.
 * - drivers/raw_exec.mdx: no isolation, runs as the Nomad agent's user, `command` an absolute
 *   host path, "volume mounting: none" (a `volume_mount` fails the task:
 *   client/allocrunner/taskrunner/volume_hook.go "does not support host volumes"), so the data
 *   directory is passed as an absolute host path instead of the `bindle-data` host volume.
 * - concepts/filesystem.mdx: docker binds the task's `local/` and `secrets/` at NOMAD_TASK_DIR
 *   and NOMAD_SECRETS_DIR; with raw_exec's `none` isolation those variables are the host paths
 *   of the same directories. `secrets/` is in-memory where possible, `noexec`, and hidden from
 *   `nomad alloc fs`. Templates must render there to be visible in the container.
 * - job-specification/template.mdx: `perms`, `uid`/`gid` (unset: the agent's user, the only
 *   owner an unprivileged agent can give), `change_mode`; `nomadVar` (as in traefik-job.ts:
 *   blocks until the variable exists and the job's identity may read it).
 */
import { BINDLE_HOST_VOLUME, JOB_IDS, jobVariablePath } from "../platform";
import { isSafeAbsolutePath, isUnprivilegedPort, LOOPBACK } from "../loopback";
import { assertNever } from "../types";
import { BINDLE, ContainerImage, containerImageReference } from "../versions";
import { NomadTask, NomadTemplate, seconds } from "./nomad-api";

/**
 * How the node runs the server: `docker` (AWS clients: the pinned image, the EFS host volume
 * mounted, as uid 1000) or `raw_exec` (the local target: the installer's `bindle-server` binary,
 * as the agent's user, on 127.0.0.1:`port`, its store in the absolute `dataDir`).
 */
export type BindleRuntime =
    | { readonly driver: "docker" }
    | {
        readonly driver: "raw_exec";
        readonly bindleServerBinary: string;
        readonly port: number;
        /** Absolute directory the user owns (local.ts `localLayout(…).bindleData`); `--directory` is `<dataDir>/bindles`. */
        readonly dataDir: string;
    };

export const BINDLE_DEFAULT_RUNTIME: BindleRuntime = { driver: "docker" };

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

/** Seconds Nomad waits after SIGINT before killing (Nomad's default max_kill_timeout is 30s). */
export const BINDLE_KILL_TIMEOUT_SECONDS = 20;

/** `secrets/x` → `${NOMAD_SECRETS_DIR}/x`, `local/x` → `${NOMAD_TASK_DIR}/x`: the path the task sees. */
export function containerPathOf(templateDest: string): string {
    const match = /^(secrets|local)\/([^/]+)$/.exec(templateDest);
    if (!match) {
        throw new Error(`bindle: template destination ${templateDest} is not a file in secrets/ or local/`);
    }
    return `\${${match[1] === "secrets" ? "NOMAD_SECRETS_DIR" : "NOMAD_TASK_DIR"}}/${match[2]}`;
}

/** Where the server listens and keeps its store. */
export interface BindleServerLocation {
    /** `--address`: `host:port`. */
    readonly address: string;
    /** `--directory`: the file store. */
    readonly directory: string;
}

/** On AWS: the node address of the group port, the store on the mounted host volume. */
export const BINDLE_CONTAINER_LOCATION: BindleServerLocation = {
    address: `\${NOMAD_ADDR_${BINDLE_PORT_LABEL}}`,
    directory: BINDLE_CONTAINER_PATHS.bindles,
};

/** The server's command line after the binary: every setting explicit, one auth mode (htpasswd). */
export function bindleServerArgs(location: BindleServerLocation = BINDLE_CONTAINER_LOCATION): string[] {
    return [
        "--address", location.address,
        "--directory", location.directory,
        "--htpasswd-file", containerPathOf(BINDLE_TEMPLATE_PATHS.htpasswd),
        "--signing-keys", containerPathOf(BINDLE_TEMPLATE_PATHS.signingKeys),
        "--keyring", containerPathOf(BINDLE_TEMPLATE_PATHS.keyring),
        "--strategy", BINDLE_VERIFICATION_STRATEGY,
    ];
}

/** The runtime after its fields are checked (a port within 1024–65535, absolute paths). */
export function checkedBindleRuntime(runtime: BindleRuntime): BindleRuntime {
    switch (runtime.driver) {
        case "docker":
            return runtime;
        case "raw_exec":
            for (const [field, path] of [["bindleServerBinary", runtime.bindleServerBinary], ["dataDir", runtime.dataDir]] as const) {
                if (!isSafeAbsolutePath(path)) {
                    throw new Error(`bindle: runtime.${field} must be an absolute path without spaces, got ${JSON.stringify(path)}`);
                }
            }
            if (!isUnprivilegedPort(runtime.port)) {
                throw new Error(`bindle: runtime.port must be an integer from 1024 to 65535, got ${JSON.stringify(runtime.port)}`);
            }
            return runtime;
        default:
            return assertNever(runtime, "runtime.driver");
    }
}

/** Where the local server listens and keeps its store (`<dataDir>/bindles`, as on the AWS volume). */
export function bindleLocalLocation(runtime: Extract<BindleRuntime, { driver: "raw_exec" }>): BindleServerLocation {
    return { address: `${LOOPBACK}:${runtime.port}`, directory: `${runtime.dataDir.replace(/\/+$/, "")}/bindles` };
}

/** A template printing one item of the job's variable; `fallback` when the item is unset or empty. */
function variableItem(item: string, fallback = ""): string {
    const value = fallback === "" ? `{{ .${item}.Value }}` : `{{ with .${item}.Value }}{{ . }}{{ else }}${fallback}{{ end }}`;
    return `{{ with nomadVar "${jobVariablePath(JOB_IDS.bindle)}" }}${value}{{ end }}`;
}

/** `owner`: the file owner of the secrets; unset renders them as the agent's user (raw_exec). */
function templates(owner: { readonly Uid: number; readonly Gid: number } | undefined): NomadTemplate[] {
    // The server reads these files once at start, so a change restarts it. Secrets are readable by
    // the task user only; no value is in the jobspec.
    const secret = (item: string, dest: string): NomadTemplate => ({
        EmbeddedTmpl: variableItem(item), DestPath: dest, ChangeMode: "restart", Perms: "0400", ...owner,
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

/** What the runtime decides: driver, user, config, templates' owner, volume mounts. */
function runtimeTask(runtime: BindleRuntime, image: ContainerImage): Pick<NomadTask, "Driver" | "User" | "Config" | "Templates" | "VolumeMounts"> {
    switch (runtime.driver) {
        case "docker":
            return {
                Driver: "docker",
                User: `${BINDLE_UID}:${BINDLE_GID}`,
                Config: {
                    image: containerImageReference(image),
                    // Replaces the image CMD (which says --unauthenticated) with our flags.
                    command: BINDLE_CONTAINER_PATHS.binary,
                    args: bindleServerArgs(),
                    // Bind the node's private address directly, like the other platform services.
                    network_mode: "host",
                    cap_drop: ["all"],
                },
                Templates: templates({ Uid: BINDLE_UID, Gid: BINDLE_GID }),
                VolumeMounts: [{ Volume: BINDLE_HOST_VOLUME.name, Destination: BINDLE_CONTAINER_PATHS.data, ReadOnly: false }],
            };
        case "raw_exec":
            // No `User` (raw_exec runs as the agent's user), no volume mount (raw_exec has none).
            return {
                Driver: "raw_exec",
                Config: { command: runtime.bindleServerBinary, args: bindleServerArgs(bindleLocalLocation(runtime)) },
                Templates: templates(undefined),
            };
        default:
            return assertNever(runtime, "runtime.driver");
    }
}

/** The `bindle` task. `runtime` is checked (checkedBindleRuntime) by the caller. */
export function bindleTask(runtime: BindleRuntime, resources: { readonly cpuMhz: number; readonly memoryMb: number }, image: ContainerImage = BINDLE.image): NomadTask {
    const { Driver, User, Config, Templates, VolumeMounts } = runtimeTask(runtime, image);
    return {
        Name: "bindle",
        Driver,
        ...(User === undefined ? {} : { User }),
        Config,
        // tracing EnvFilter::from_default_env (bin/server.rs).
        Env: { RUST_LOG: "error,bindle=info" },
        Templates,
        Resources: { CPU: resources.cpuMhz, MemoryMB: resources.memoryMb },
        ...(VolumeMounts === undefined ? {} : { VolumeMounts }),
        // The server shuts down gracefully on Ctrl-C (src/server/mod.rs shutdown_signal, tokio ctrl_c).
        KillSignal: "SIGINT",
        KillTimeout: seconds(BINDLE_KILL_TIMEOUT_SECONDS),
    };
}
