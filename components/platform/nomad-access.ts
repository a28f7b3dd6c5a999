import * as pulumi from "@pulumi/pulumi";
import { deploymentWaitMinutes, NomadJob, renderJobspec } from "../../provisioning/jobs/nomad-api";
import { jobVariablePath } from "../../provisioning/platform";
import { Job, Provider, Variable } from "../nomad";

/** How platform components reach Nomad: the provider, and the gate that waits for a leader. */
export interface NomadAccess {
    readonly provider: Provider;
    /** Every Nomad resource waits for this: the cluster has elected a leader. */
    readonly leader: pulumi.Resource;
    /**
     * The local target: the step whose delete removes Nomad's data directory. A `pulumi destroy`
     * that deletes it skips the provider's job and variable deletes (Pulumi `deletedWith`), which
     * would fail on an agent that is down (after a reboot); the agents' own destroy steps stop the
     * jobs and wait for their tasks instead (LocalAgents).
     */
    readonly deletedWith?: pulumi.Resource;
}

/** Options of every Nomad resource: its provider, after the leader gate and `dependsOn`. */
export function nomadResourceOptions(access: NomadAccess, parent: pulumi.Resource, dependsOn: pulumi.Resource[] = []): pulumi.CustomResourceOptions {
    return {
        parent,
        provider: access.provider,
        dependsOn: [access.leader, ...dependsOn],
        ...(access.deletedWith === undefined ? {} : { deletedWith: access.deletedWith }),
    };
}

/**
 * Registers `job` (built by a pure builder in provisioning/jobs) through the Nomad provider,
 * after the leader gate and `dependsOn`. Jobs wait for their deployment to finish (`detach:
 * false`), so a failed rollout fails `pulumi up` instead of passing silently, for as long as the
 * deployment may take (`deploymentWaitMinutes`; of `shape`, the job with its placeholders, when
 * `job` is an Output).
 */
export function registerJob(name: string, job: NomadJob | pulumi.Output<NomadJob>, access: NomadAccess, parent: pulumi.Resource, dependsOn: pulumi.Resource[] = [], shape?: NomadJob): Job {
    const known = pulumi.Output.isInstance(job) ? shape : job;
    if (known === undefined) throw new Error(`registerJob ${name}: an Output job needs its shape (the same job with placeholders) for the deployment's timeout`);
    const wait = `${deploymentWaitMinutes(known)}m`;
    return new Job(name, {
        // An Output job: one that depends on what a resource reports (a SpinApp pinned to a revision).
        jobspec: pulumi.Output.isInstance(job) ? job.apply(renderJobspec) : renderJobspec(job),
        json: true,
        detach: false,
        purgeOnDestroy: true,
    }, { ...nomadResourceOptions(access, parent, dependsOn), customTimeouts: { create: wait, update: wait } });
}

/** The Nomad Variable a job's tasks read their secrets from (`nomad/jobs/<jobId>`). */
export function jobSecrets(name: string, jobId: string, items: Record<string, pulumi.Input<string>>, access: NomadAccess, parent: pulumi.Resource): Variable {
    return new Variable(name, {
        path: jobVariablePath(jobId),
        items,
    }, nomadResourceOptions(access, parent));
}
