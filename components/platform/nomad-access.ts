import * as pulumi from "@pulumi/pulumi";
import { NomadJob, renderJobspec } from "../../provisioning/jobs/nomad-api";
import { jobVariablePath } from "../../provisioning/platform";
import { Job, Provider, Variable } from "../nomad";

/** How platform components reach Nomad: the provider, and the gate that waits for a leader. */
export interface NomadAccess {
    readonly provider: Provider;
    /** Every Nomad resource waits for this: the cluster has elected a leader. */
    readonly leader: pulumi.Resource;
}

/**
 * Registers `job` (built by a pure builder in provisioning/jobs) through the Nomad provider,
 * after the leader gate and `dependsOn`. Jobs wait for their deployment to finish (`detach:
 * false`), so a failed rollout fails `pulumi up` instead of passing silently.
 */
export function registerJob(name: string, job: NomadJob, access: NomadAccess, parent: pulumi.Resource, dependsOn: pulumi.Resource[] = []): Job {
    return new Job(name, {
        jobspec: renderJobspec(job),
        json: true,
        detach: false,
        purgeOnDestroy: true,
    }, { parent, provider: access.provider, dependsOn: [access.leader, ...dependsOn] });
}

/** The Nomad Variable a job's tasks read their secrets from (`nomad/jobs/<jobId>`). */
export function jobSecrets(name: string, jobId: string, items: Record<string, pulumi.Input<string>>, access: NomadAccess, parent: pulumi.Resource): Variable {
    return new Variable(name, {
        path: jobVariablePath(jobId),
        items,
    }, { parent, provider: access.provider, dependsOn: [access.leader] });
}
