/**
 * Nomad jobs as the pack sees them: `nomad:index/job:Job` resources whose `jobspec` input is the
 * Nomad API JSON of the job (`json: true`), i.e. `components.schemas.Job` of the Nomad OpenAPI
 * document, bare or wrapped as `{ "Job": { … } }` (what `nomad job run -output` prints).
 * Only the fields the policies read are typed.
 */
import { asArray, asRecord, Props } from "./props";
import { Decoded } from "./user-data";

export const NOMAD_JOB_TYPE = "nomad:index/job:Job";

export interface NomadService {
    readonly Name?: string;
    readonly Tags?: string[];
    readonly CanaryTags?: string[];
    readonly Checks?: Props[];
}

export interface NomadArtifact {
    readonly GetterSource?: string;
    readonly GetterOptions?: Record<string, string>;
}

export interface NomadTemplate {
    readonly DestPath?: string;
    readonly EmbeddedTmpl?: string;
}

export interface NomadTask {
    readonly Name?: string;
    readonly Driver?: string;
    readonly Config?: Props;
    readonly Resources?: { readonly CPU?: number; readonly Cores?: number; readonly MemoryMB?: number; readonly MemoryMaxMB?: number };
    readonly Services?: NomadService[];
    readonly Artifacts?: NomadArtifact[];
    readonly Templates?: NomadTemplate[];
}

export interface NomadUpdate {
    readonly AutoRevert?: boolean;
}

export interface NomadTaskGroup {
    readonly Name?: string;
    readonly Count?: number;
    readonly Scaling?: { readonly Min?: number };
    readonly Update?: NomadUpdate;
    readonly Services?: NomadService[];
    readonly Tasks?: NomadTask[];
}

export interface NomadJob {
    readonly ID?: string;
    readonly Name?: string;
    readonly Type?: string;
    readonly Meta?: Record<string, string>;
    readonly Update?: NomadUpdate;
    readonly TaskGroups?: NomadTaskGroup[];
}

/** Parses the `jobspec` of a job resource's inputs. */
export function parseJobspec(props: Props): Decoded<NomadJob> {
    if (props.json !== true) {
        return { ok: false, reason: "is not JSON (json is not true)" };
    }
    if (typeof props.jobspec !== "string") {
        return { ok: false, reason: "has no jobspec string" };
    }
    let parsed: Props | undefined;
    try {
        parsed = asRecord(JSON.parse(props.jobspec));
    } catch (e) {
        return { ok: false, reason: `has a jobspec that is not valid JSON: ${(e as Error).message}` };
    }
    const job = asRecord(parsed?.Job) ?? parsed;
    if (!job || !Array.isArray(job.TaskGroups)) {
        return { ok: false, reason: "has a jobspec without TaskGroups (not the Nomad API JSON of a job)" };
    }
    return { ok: true, value: job as NomadJob };
}

export function jobName(job: NomadJob, resourceName: string): string {
    return job.ID ?? job.Name ?? resourceName;
}

export function groupsOf(job: NomadJob): NomadTaskGroup[] {
    return asArray(job.TaskGroups) as NomadTaskGroup[];
}

export function tasksOf(group: NomadTaskGroup): NomadTask[] {
    return asArray(group.Tasks) as NomadTask[];
}

/** Group-level and task-level services of a group. */
export function servicesOf(group: NomadTaskGroup): NomadService[] {
    return [...asArray(group.Services), ...tasksOf(group).flatMap((t) => asArray(t.Services))] as NomadService[];
}

export function allServices(job: NomadJob): NomadService[] {
    return groupsOf(job).flatMap(servicesOf);
}

export function allTasks(job: NomadJob): NomadTask[] {
    return groupsOf(job).flatMap(tasksOf);
}

/** `Meta` key and value that mark a job as a Spin app explicitly. */
export const SPIN_APP_META = { key: "spin_cloud_kind", value: "spin-app" } as const;
const EXEC_DRIVERS = new Set(["exec", "exec2", "raw_exec"]);

/**
 * A job is a Spin app when its `Meta` says so (`spin_cloud_kind = "spin-app"`) or when one of its
 * tasks runs the `spin` binary (the one provisioning installs) with an exec driver.
 */
export function isSpinAppJob(job: NomadJob): boolean {
    if (asRecord(job.Meta)?.[SPIN_APP_META.key] === SPIN_APP_META.value) {
        return true;
    }
    return allTasks(job).some((task) => {
        const command = asRecord(task.Config)?.command;
        return EXEC_DRIVERS.has(String(task.Driver)) && typeof command === "string" && command.split("/").pop() === "spin";
    });
}

/**
 * The update strategy of a group: Nomad merges the job's `Update` into each group's, the
 * group's fields winning. `undefined` when neither has an update block.
 */
export function updateOf(job: NomadJob, group: NomadTaskGroup): NomadUpdate | undefined {
    const jobUpdate = asRecord(job.Update);
    const groupUpdate = asRecord(group.Update);
    if (!jobUpdate && !groupUpdate) {
        return undefined;
    }
    // Like api.UpdateStrategy.Merge: only fields the group sets (non-null) override the job's.
    const groupSet = Object.entries(groupUpdate ?? {}).filter(([, v]) => v !== null && v !== undefined);
    return { ...jobUpdate, ...Object.fromEntries(groupSet) } as NomadUpdate;
}
