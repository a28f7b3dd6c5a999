/**
 * The `traefik` Nomad job: one Traefik per Nomad client (a system job), run by the `exec` driver as
 * `nobody` from the pinned release tarball, configured by the static file of `traefik-config.ts`.
 *
 * References (hashicorp/nomad website/content/docs/):
 * - reference/runtime-variable-interpolation.mdx: `${node.class}`, `${attr.cpu.arch}`; the arch
 *   value is Go's GOARCH (client/fingerprint/arch.go `resp.AddAttribute("cpu.arch", runtime.GOARCH)`).
 * - job-specification/artifact.mdx: `options { checksum = "sha256:…" }`, archives unpacked into `local/`.
 * - job-specification/template.mdx: `env = true` (KEY=value, values through `toJSON`), `nomadVar`
 *   (blocks until the variable exists and the task's workload identity may read it).
 * - drivers/exec.mdx: `command`, `args`, `cap_drop`; job-specification/update.mdx; Nomad 1.11.0
 *   changelog "scheduler: Enable deployments for system jobs" (so health_check/auto_revert apply).
 * - configuration/client.mdx: `max_kill_timeout` defaults to 30s, the cap on `kill_timeout`.
 *
 * The local target runs the same job under `raw_exec` (drivers/raw_exec.mdx: no isolation, the
 * Nomad agent's user, `command` an absolute host path), the binary the local installer put in
 * place instead of an artifact, listening on loopback at the ports of local.ts. Its working
 * directory is the task directory too (drivers/shared/executor/executor.go `childCmd.Dir =
 * command.TaskDir`), so `--configFile=local/traefik.yml` names the same rendered file.
 */
import { isSafeAbsolutePath, LocalPorts } from "../loopback";
import { JOB_IDS, SERVICE_NAMES, TRAEFIK_PORTS, jobVariablePath } from "../platform";
import {
    renderTraefikStaticConfig,
    TRAEFIK_CONSUL_TOKEN_ENV,
    TRAEFIK_LIFECYCLE_SECONDS,
    TraefikStaticConfigInput,
} from "./traefik-config";
import { assertNever, Architecture } from "../types";
import { TRAEFIK } from "../versions";
import { clientConstraints } from "./placement";
import {
    minutes,
    NomadArtifact,
    NomadJob,
    NomadService,
    NomadTask,
    NomadTemplate,
    renderJobspec,
    seconds,
} from "./nomad-api";

/**
 * How the node runs Traefik: `exec` (AWS clients: the pinned release tarball as a checksummed
 * artifact, run as `nobody`) or `raw_exec` (the local target: the installer's binary, as the
 * agent's user, listening on 127.0.0.1 at `ports`).
 */
export type TraefikRuntime =
    | { readonly driver: "exec" }
    | { readonly driver: "raw_exec"; readonly traefikBinary: string; readonly ports: LocalPorts };

interface TraefikJobCommon {
    /** Nomad datacenters the job may run in. */
    readonly datacenters: readonly string[];
    /** CPU architecture of the clients; the job downloads that architecture's binary only. */
    readonly architecture: Architecture;
    /** Consul catalog tag prefix; defaults to `traefik`. */
    readonly tagPrefix?: string;
}

/** AWS: the VPC's load balancers in front (traefik-config.ts `vpcCidr`). */
export interface TraefikAwsJobInput extends TraefikJobCommon {
    readonly vpcCidr: string;
    /** Default `{ driver: "exec" }`. */
    readonly runtime?: Extract<TraefikRuntime, { driver: "exec" }>;
}

/** Local target: nothing in front, everything on loopback. */
export interface TraefikLocalJobInput extends TraefikJobCommon {
    readonly vpcCidr?: undefined;
    readonly runtime: Extract<TraefikRuntime, { driver: "raw_exec" }>;
}

export type TraefikJobInput = TraefikAwsJobInput | TraefikLocalJobInput;

/** Item of the Nomad Variable at `jobVariablePath(JOB_IDS.traefik)` holding Traefik's Consul token. */
export const TRAEFIK_CONSUL_TOKEN_ITEM = "consul_token";

/** Consul service of the operator port (API, dashboard, metrics). */
export const TRAEFIK_DASHBOARD_SERVICE = `${SERVICE_NAMES.traefik}-dashboard`;

/** Port labels of the group network (static host ports of `TRAEFIK_PORTS`). */
export const TRAEFIK_PORT_LABELS = { web: "web", dashboard: "dashboard", ping: "ping" } as const;

/** Relative to the task directory, the working directory of both runtimes; `binary` is the exec runtime's artifact. */
export const TRAEFIK_PATHS = { binary: "local/traefik", config: "local/traefik.yml", env: "secrets/consul.env" } as const;

/** Kill timeout: the graceful stop of `traefik-config.ts` plus headroom, within `max_kill_timeout` (30s). */
export const TRAEFIK_KILL_TIMEOUT_SECONDS = 30;


/** The pinned tarball of one architecture, verified by go-getter before it is unpacked. */
export function traefikArtifact(architecture: Architecture): NomadArtifact {
    const { url, sha256 } = TRAEFIK.artifacts[architecture];
    return { GetterSource: url, GetterOptions: { checksum: `sha256:${sha256}` }, RelativeDest: "local/" };
}

/** consul-template would treat `{{` in the static file as an action; the config never has one. */
function embeddedLiteral(text: string): string {
    if (text.includes("{{")) {
        throw new Error("traefik: the static configuration must not contain '{{' (Nomad template action)");
    }
    return text;
}

function runtimeOf(input: TraefikJobInput): TraefikRuntime {
    return input.runtime ?? { driver: "exec" };
}

/** The static configuration's placement follows the runtime: AWS's VPC, or the local ports. */
export function traefikStaticConfigInput(input: TraefikJobInput): TraefikStaticConfigInput {
    const runtime = runtimeOf(input);
    const tagPrefix = input.tagPrefix === undefined ? {} : { tagPrefix: input.tagPrefix };
    switch (runtime.driver) {
        case "exec":
            if (input.vpcCidr === undefined) {
                throw new Error("traefik: vpcCidr is required by the exec runtime");
            }
            return { vpcCidr: input.vpcCidr, ...tagPrefix };
        case "raw_exec":
            return { local: { ports: runtime.ports }, ...tagPrefix };
        default:
            return assertNever(runtime, "runtime.driver");
    }
}

/** Host ports of the group network, by label. */
function hostPorts(runtime: TraefikRuntime): Record<keyof typeof TRAEFIK_PORT_LABELS, number> {
    switch (runtime.driver) {
        case "exec":
            return { ...TRAEFIK_PORTS };
        case "raw_exec":
            return { web: runtime.ports.traefikWeb, dashboard: runtime.ports.traefikDashboard, ping: runtime.ports.traefikPing };
        default:
            return assertNever(runtime, "runtime.driver");
    }
}

function templates(input: TraefikJobInput): NomadTemplate[] {
    // `.Value` is the item's plain string (consul-template dependency/nomad_vars.go NomadVarItem),
    // so toJSON quotes exactly the token, as template.mdx advises for env templates.
    const tokenLine =
        `{{ with nomadVar "${jobVariablePath(JOB_IDS.traefik)}" }}` +
        `${TRAEFIK_CONSUL_TOKEN_ENV}={{ .${TRAEFIK_CONSUL_TOKEN_ITEM}.Value | toJSON }}{{ end }}\n`;
    return [
        { EmbeddedTmpl: embeddedLiteral(renderTraefikStaticConfig(traefikStaticConfigInput(input))), DestPath: TRAEFIK_PATHS.config, ChangeMode: "restart", Perms: "644" },
        // Read by the Nomad agent to build the task environment; the task user needs no access.
        { EmbeddedTmpl: tokenLine, DestPath: TRAEFIK_PATHS.env, Envvars: true, ChangeMode: "restart", Perms: "400" },
    ];
}

function services(): NomadService[] {
    return [
        {
            Name: SERVICE_NAMES.traefik,
            PortLabel: TRAEFIK_PORT_LABELS.web,
            Provider: "consul",
            Checks: [{
                Name: "traefik-ping",
                Type: "http",
                Protocol: "http",
                PortLabel: TRAEFIK_PORT_LABELS.ping,
                Path: "/ping",
                Method: "GET",
                Interval: seconds(10),
                Timeout: seconds(2),
            }],
        },
        {
            Name: TRAEFIK_DASHBOARD_SERVICE,
            PortLabel: TRAEFIK_PORT_LABELS.dashboard,
            Provider: "consul",
            Checks: [{ Name: "traefik-dashboard-tcp", Type: "tcp", PortLabel: TRAEFIK_PORT_LABELS.dashboard, Interval: seconds(10), Timeout: seconds(2) }],
        },
    ];
}

/** Driver, user, config and artifacts of the task under the runtime. */
function runtimeTask(input: TraefikJobInput): Pick<NomadTask, "Driver" | "User" | "Config" | "Artifacts"> {
    const runtime = runtimeOf(input);
    switch (runtime.driver) {
        case "exec":
            return {
                Driver: "exec",
                User: "nobody",
                Config: {
                    command: TRAEFIK_PATHS.binary,
                    args: [`--configFile=${TRAEFIK_PATHS.config}`],
                    cap_drop: ["all"],
                },
                Artifacts: [traefikArtifact(input.architecture)],
            };
        case "raw_exec":
            if (!isSafeAbsolutePath(runtime.traefikBinary)) {
                throw new Error(`traefik: runtime.traefikBinary must be an absolute path without spaces, got ${JSON.stringify(runtime.traefikBinary)}`);
            }
            // No `User`: raw_exec runs as the agent's user (and refuses `user` on hardened clients).
            return {
                Driver: "raw_exec",
                Config: { command: runtime.traefikBinary, args: [`--configFile=${TRAEFIK_PATHS.config}`] },
            };
        default:
            return assertNever(runtime, "runtime.driver");
    }
}

function task(input: TraefikJobInput): NomadTask {
    return {
        Name: "traefik",
        ...runtimeTask(input),
        Templates: templates(input),
        Resources: { CPU: 200, MemoryMB: 256 },
        // Traefik stops gracefully on SIGINT or SIGTERM (cmd/context.go ContextWithSignal).
        KillSignal: "SIGTERM",
        KillTimeout: seconds(TRAEFIK_KILL_TIMEOUT_SECONDS),
    };
}

export function traefikJob(input: TraefikJobInput): NomadJob {
    if (input.datacenters.length === 0) {
        throw new Error("traefik: at least one datacenter is required");
    }
    if (TRAEFIK_LIFECYCLE_SECONDS.requestAcceptGrace + TRAEFIK_LIFECYCLE_SECONDS.grace >= TRAEFIK_KILL_TIMEOUT_SECONDS) {
        throw new Error("traefik: the graceful stop must end before the kill timeout");
    }
    const ports = hostPorts(runtimeOf(input));
    return {
        ID: JOB_IDS.traefik,
        Name: JOB_IDS.traefik,
        Type: "system",
        Datacenters: [...input.datacenters],
        Constraints: clientConstraints(input.architecture),
        TaskGroups: [{
            Name: "traefik",
            Networks: [{
                Mode: "host",
                ReservedPorts: [
                    { Label: TRAEFIK_PORT_LABELS.web, Value: ports.web },
                    { Label: TRAEFIK_PORT_LABELS.dashboard, Value: ports.dashboard },
                    { Label: TRAEFIK_PORT_LABELS.ping, Value: ports.ping },
                ],
            }],
            Services: services(),
            Tasks: [task(input)],
            // A system job cannot move to another node: keep restarting in place.
            RestartPolicy: { Attempts: 3, Interval: minutes(5), Delay: seconds(15), Mode: "delay" },
            Update: {
                MaxParallel: 1,
                HealthCheck: "checks",
                MinHealthyTime: seconds(10),
                HealthyDeadline: minutes(3),
                ProgressDeadline: minutes(10),
                AutoRevert: true,
            },
        }],
    };
}

/** The jobspec the Nomad provider registers with `json: true`. Deterministic. */
export function renderTraefikJobspec(input: TraefikJobInput): string {
    return renderJobspec(traefikJob(input));
}
