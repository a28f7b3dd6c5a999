/**
 * The task of the `bindle` job (bindle-job.ts) under each runtime: how the server process is
 * started, where its files are, and the templates that hand it its secrets.
 *
 * Bindle references (deislabs/bindle v0.9.1): bin/server.rs flags (see bindle-job.ts); the
 * release tarball holds `bindle-server` at its root (versions.ts BINDLE);
 * src/invoice/signature.rs `KeyRing::default()`; src/invoice/verification.rs `impl Default`
 * (GreedyVerification).
 *
 * Nomad references (hashicorp/nomad website/content/docs/):
 * - drivers/exec.mdx: the task runs chrooted (the client's chroot_env) as the task `user`, a
 *   user name that must exist on the node; `command` is searched first in the task's `local/`,
 *   where `artifact` unpacks the tarball; host volumes are bind-mounted at `volume_mount`'s
 *   destination inside the chroot; network mode is the host's.
 * - job-specification/artifact.mdx: `options { checksum = "…" }` or the source's `?checksum=` is
 *   go-getter's checksum (versions.ts artifactChecksum, checkedArtifact below); a tar.gz is
 *   unpacked into `destination` (default `local/`) after the archive's checksum passes.
 * - drivers/raw_exec.mdx: no isolation, runs as the Nomad agent's user, `command` an absolute
 *   host path, "volume mounting: none" (a `volume_mount` fails the task:
 *   client/allocrunner/taskrunner/volume_hook.go "does not support host volumes"), so the data
 *   directory is passed as an absolute host path instead of the `bindle-data` host volume.
 * - concepts/filesystem.mdx: NOMAD_TASK_DIR and NOMAD_SECRETS_DIR are the task's `local/` and
 *   `secrets/` as the task sees them (inside the exec chroot; with raw_exec's `none` isolation the
 *   host paths). `secrets/` is in-memory where possible, `noexec`, and hidden from
 *   `nomad alloc fs`.
 * - job-specification/template.mdx: `perms`, `uid`/`gid` (unset: the agent's user, the only
 *   owner an unprivileged agent can give), `change_mode`; `nomadVar` (as in traefik-job.ts:
 *   blocks until the variable exists and the job's identity may read it).
 */
import { BINDLE_HOST_VOLUME, JOB_IDS, jobVariablePath } from "../platform";
import { isSafeAbsolutePath, isUnprivilegedPort, LOOPBACK } from "../loopback";
import { assertNever } from "../types";
import { Architecture } from "../types";
import { artifactChecksum, bindleArtifact } from "../versions";
import { containerPathOf, NomadTask, NomadTemplate, seconds } from "./nomad-api";

export { containerPathOf };

/**
 * How the node runs the server: `exec` (AWS clients: the release tarball of the node's
 * architecture as a checksummed artifact, chrooted, as the `bindle` system user, the EFS host
 * volume mounted) or `raw_exec` (the local target: the installer's `bindle-server` binary, as the
 * agent's user, on 127.0.0.1:`port`, its store in the absolute `dataDir`).
 */
export type BindleRuntime =
    | { readonly driver: "exec"; readonly architecture: Architecture }
    | {
        readonly driver: "raw_exec";
        readonly bindleServerBinary: string;
        readonly port: number;
        /** Absolute directory the user owns (local.ts `localLayout(…).bindleData`); `--directory` is `<dataDir>/bindles`. */
        readonly dataDir: string;
    };


/** Label of the static port in the group network. */
export const BINDLE_PORT_LABEL = "http";

/**
 * The system user the exec task runs as, created by install.sh on every client with these fixed
 * ids (the EFS store is shared, so every client must give its files the same owner). Outside the
 * system range (packages such as consul/nomad allocate theirs there) and not 1000, which Ubuntu's
 * cloud images give the `ubuntu` login user.
 */
export const BINDLE_USER = { name: "bindle", uid: 8085, gid: 8085 } as const;
export const BINDLE_UID = BINDLE_USER.uid;
export const BINDLE_GID = BINDLE_USER.gid;

/** Paths inside the exec task's chroot. */
export const BINDLE_CONTAINER_PATHS = {
    /** Where `artifact` unpacks the tarball (`local/`), relative to the task directory. */
    binary: "local/bindle-server",
    /** Where the host volume is mounted. */
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
        case "exec":
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

/**
 * A digest goes in `options.checksum`; a sums file goes in the source's `?checksum=file:<url>`,
 * because Nomad validates `options.checksum` as `<md5|sha1|sha256|sha512>:<hex>` only (v1.6.3
 * nomad/structs/structs.go `validateChecksum`: `file:<url>` is refused at registration), while
 * go-getter reads the query parameter itself (checksum.go `checksumFromFile`).
 */
function checkedArtifact(url: string, checksum: string): { GetterSource: string; GetterOptions: Record<string, string> } {
    return checksum.startsWith("file:")
        ? { GetterSource: `${url}?checksum=${checksum}`, GetterOptions: {} }
        : { GetterSource: url, GetterOptions: { checksum } };
}

/** What the runtime decides: driver, user, artifact, config, templates' owner, volume mounts. */
function runtimeTask(runtime: BindleRuntime): Pick<NomadTask, "Driver" | "User" | "Artifacts" | "Config" | "Templates" | "VolumeMounts"> {
    switch (runtime.driver) {
        case "exec": {
            const artifact = bindleArtifact(runtime.architecture);
            return {
                Driver: "exec",
                User: BINDLE_USER.name,
                Artifacts: [{ ...checkedArtifact(artifact.url, artifactChecksum(artifact)), RelativeDest: "local/" }],
                Config: { command: BINDLE_CONTAINER_PATHS.binary, args: bindleServerArgs() },
                Templates: templates({ Uid: BINDLE_UID, Gid: BINDLE_GID }),
                VolumeMounts: [{ Volume: BINDLE_HOST_VOLUME.name, Destination: BINDLE_CONTAINER_PATHS.data, ReadOnly: false }],
            };
        }
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

export const BINDLE_SERVER_TASK = "bindle";

/** The `bindle` task. `runtime` is checked (checkedBindleRuntime) by the caller. */
export function bindleTask(runtime: BindleRuntime, resources: { readonly cpuMhz: number; readonly memoryMb: number }): NomadTask {
    const { Driver, User, Artifacts, Config, Templates, VolumeMounts } = runtimeTask(runtime);
    return {
        Name: BINDLE_SERVER_TASK,
        Driver,
        ...(User === undefined ? {} : { User }),
        ...(Artifacts === undefined ? {} : { Artifacts }),
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
