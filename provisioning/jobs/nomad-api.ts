/**
 * The part of Nomad's job API (`PUT /v1/jobs`, `components.schemas.Job` in Nomad's OpenAPI
 * document) that spin-cloud's job builders use. Field names are Nomad's JSON names; durations
 * are integers in nanoseconds, as the API takes them. Builders return these objects; the
 * Nomad binding registers them with `json: true`.
 */
import { jsonFile } from "../json-file";

/** Nomad API durations are nanoseconds. */
export const SECOND_NS = 1_000_000_000;
export const seconds = (n: number): number => n * SECOND_NS;
export const minutes = (n: number): number => seconds(60 * n);

export interface NomadPort { Label: string; Value?: number; To?: number; HostNetwork?: string }
export interface NomadNetwork { Mode?: string; ReservedPorts?: NomadPort[]; DynamicPorts?: NomadPort[] }
export interface NomadConstraint { LTarget?: string; RTarget?: string; Operand: string }
export interface NomadSpread { Attribute: string; Weight?: number }
export interface NomadResources { CPU: number; MemoryMB: number; MemoryMaxMB?: number }

export interface NomadServiceCheck {
    Name?: string;
    Type: "http" | "tcp" | "script" | "grpc";
    Path?: string;
    Protocol?: string;
    PortLabel?: string;
    Interval: number;
    Timeout: number;
    Method?: string;
    Header?: Record<string, string[]>;
    /** Script checks: run inside this task (its chroot), the command and its arguments. */
    TaskName?: string;
    Command?: string;
    Args?: string[];
}

export interface NomadService {
    Name: string;
    /** Optional only for a service whose checks are script checks. */
    PortLabel?: string;
    Provider?: "consul" | "nomad";
    Tags?: string[];
    CanaryTags?: string[];
    Meta?: Record<string, string>;
    Checks?: NomadServiceCheck[];
}

export interface NomadArtifact {
    GetterSource: string;
    /** Must carry `checksum`: `sha256:<hex>`, or `file:<sums url>` where no digest is recorded (versions.ts artifactChecksum). */
    GetterOptions: Record<string, string>;
    GetterMode?: "any" | "file" | "dir";
    RelativeDest?: string;
}

export interface NomadTemplate {
    EmbeddedTmpl: string;
    DestPath: string;
    ChangeMode?: "noop" | "restart" | "signal";
    ChangeSignal?: string;
    Perms?: string;
    /** Owner of the rendered file (template.mdx `uid`/`gid`; Linux only). */
    Uid?: number;
    Gid?: number;
    Envvars?: boolean;
}

/** `secrets/x` → `${NOMAD_SECRETS_DIR}/x`, `local/x` → `${NOMAD_TASK_DIR}/x`: the path the task sees. */
export function containerPathOf(templateDest: string): string {
    const match = /^(secrets|local)\/([^/]+)$/.exec(templateDest);
    if (!match) {
        throw new Error(`template destination ${templateDest} is not a file in secrets/ or local/`);
    }
    return `\${${match[1] === "secrets" ? "NOMAD_SECRETS_DIR" : "NOMAD_TASK_DIR"}}/${match[2]}`;
}

/** When a task runs relative to the main tasks (job-specification/lifecycle.mdx). */
export interface NomadTaskLifecycle { readonly Hook: "prestart" | "poststart" | "poststop"; readonly Sidecar: boolean }

export interface NomadVolumeRequest { Name: string; Type: "host" | "csi"; Source: string; ReadOnly?: boolean }
export interface NomadVolumeMount { Volume: string; Destination: string; ReadOnly?: boolean }

export interface NomadTask {
    Name: string;
    Driver: "exec" | "raw_exec" | "docker";
    Config: Record<string, unknown>;
    User?: string;
    Env?: Record<string, string>;
    Artifacts?: NomadArtifact[];
    Templates?: NomadTemplate[];
    Services?: NomadService[];
    Resources: NomadResources;
    VolumeMounts?: NomadVolumeMount[];
    KillTimeout?: number;
    KillSignal?: string;
    Meta?: Record<string, string>;
    /** The task's own restart policy, replacing the group's for it. */
    RestartPolicy?: NomadRestartPolicy;
}

export interface NomadRestartPolicy { Attempts: number; Interval: number; Delay: number; Mode: "fail" | "delay" }
export interface NomadReschedulePolicy { Attempts?: number; Interval?: number; Delay: number; DelayFunction: string; MaxDelay: number; Unlimited: boolean }

export interface NomadUpdateStrategy {
    MaxParallel: number;
    HealthCheck?: "checks" | "task_states" | "manual";
    MinHealthyTime: number;
    HealthyDeadline: number;
    ProgressDeadline: number;
    AutoRevert: boolean;
    AutoPromote?: boolean;
    Canary?: number;
    Stagger?: number;
}

export interface NomadTaskGroup {
    Name: string;
    Count?: number;
    Networks?: NomadNetwork[];
    Services?: NomadService[];
    Tasks: NomadTask[];
    Volumes?: Record<string, NomadVolumeRequest>;
    Spreads?: NomadSpread[];
    Constraints?: NomadConstraint[];
    RestartPolicy?: NomadRestartPolicy;
    ReschedulePolicy?: NomadReschedulePolicy;
    Update?: NomadUpdateStrategy;
    EphemeralDisk?: { SizeMB: number; Migrate?: boolean; Sticky?: boolean };
    /** Nanoseconds after which a client that lost the servers stops the group's allocations. */
    StopAfterClientDisconnect?: number;
    Meta?: Record<string, string>;
}

export interface NomadJob {
    ID: string;
    Name: string;
    Type: "service" | "system" | "batch";
    Region?: string;
    Namespace?: string;
    Datacenters: string[];
    Priority?: number;
    Constraints?: NomadConstraint[];
    Spreads?: NomadSpread[];
    Update?: NomadUpdateStrategy;
    TaskGroups: NomadTaskGroup[];
    Meta?: Record<string, string>;
}

/**
 * The jobspec text the Nomad provider registers with `json: true`. Deterministic.
 *
 * Wrapped as `{"Job": {...}}`, the shape `nomad job run -output` prints. The provider's JSON
 * parser (hashicorp/terraform-provider-nomad, `parseJSONJobspec`: in `nomad/resource_job.go`,
 * and the same function in the provider's later `job` package) decodes the value under a
 * top-level `"Job"` key when there is one and the whole document otherwise, into
 * `api.Job`, so both shapes register the same job. Go's `encoding/json` drops unknown keys
 * silently, which is why the tests check jobs against Nomad's schema with unknown keys refused.
 */
/**
 * How long `pulumi up` may wait for the job's deployment, in minutes: every placement may take its
 * group's progress deadline (Nomad resets the deadline as each allocation turns healthy), canaries
 * included, plus 5 for the evaluation. The provider's own default is 5 minutes
 * (terraform-provider-nomad v2.6.1 nomad/resource_job.go `Timeouts`), less than one progress
 * deadline: it would stop waiting, fail the update and record the new jobspec as applied while
 * Nomad was still deploying it.
 */
export function deploymentWaitMinutes(job: NomadJob): number {
    const ns = job.TaskGroups.reduce((sum, g) => {
        const update = g.Update ?? job.Update;
        return update === undefined ? sum : sum + update.ProgressDeadline * ((g.Count ?? 1) + (update.Canary ?? 0));
    }, 0);
    return Math.ceil(ns / minutes(1)) + 5;
}

export function renderJobspec(job: NomadJob): string {
    return jsonFile({ Job: job });
}
