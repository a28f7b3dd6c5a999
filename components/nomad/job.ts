/** `nomad:index/job:Job`: a Nomad job registered from a jobspec. */
import * as pulumi from "@pulumi/pulumi";
import { ResourceBinding, keysOf, registration } from "./binding";

/** Options of the HCL2 jobspec parser (schema type `JobHcl2`); unused with `json: true`. */
export interface JobHcl2 {
    /** Allow HCL2 file system functions. */
    allowFs?: pulumi.Input<boolean>;
    /** Variables for HCL2 templating. */
    vars?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Inputs of a Job; names as in the schema's `inputProperties` (deprecated `readAllocationIds` left out). */
export interface JobArgs {
    /**
     * The jobspec. spin-cloud passes `renderJobspec(job)` (provisioning/jobs/nomad-api.ts) with
     * `json: true`: the API JSON of the job, wrapped as `{"Job": {...}}`.
     */
    jobspec: pulumi.Input<string>;
    /** Parse `jobspec` as JSON instead of HCL2 (plugin default false). */
    json?: pulumi.Input<boolean>;
    /** Return right after registering instead of waiting for the deployment (plugin default true). */
    detach?: pulumi.Input<boolean>;
    /** Purge the job from Nomad when the resource is destroyed (plugin default false). */
    purgeOnDestroy?: pulumi.Input<boolean>;
    /** Deregister the job when the resource is destroyed (plugin default true). */
    deregisterOnDestroy?: pulumi.Input<boolean>;
    /** Deregister the old job when the job ID in the jobspec changes (plugin default true). */
    deregisterOnIdChange?: pulumi.Input<boolean>;
    /** Register even if soft-mandatory Sentinel policies fail (plugin default false). */
    policyOverride?: pulumi.Input<boolean>;
    /** Keep the task group counts Nomad has instead of the jobspec's (plugin default false). */
    preserveCounts?: pulumi.Input<boolean>;
    /** Run the job again if its status is `dead` (plugin default false). */
    rerunIfDead?: pulumi.Input<boolean>;
    /** HCL2 parser options. */
    hcl2?: pulumi.Input<JobHcl2>;
}

/** What `Job` uses of the schema's `nomad:index/job:Job`. */
export const JOB_BINDING: ResourceBinding = {
    token: "nomad:index/job:Job",
    inputs: keysOf<JobArgs>()([
        "jobspec", "json", "detach", "purgeOnDestroy", "deregisterOnDestroy", "deregisterOnIdChange",
        "policyOverride", "preserveCounts", "rerunIfDead", "hcl2",
    ]),
    outputs: [
        "name", "namespace", "type", "region", "datacenters", "modifyIndex", "deploymentId", "deploymentStatus",
        "status", "statusDescription", "stop", "version", "priority", "createIndex", "submitTime",
    ],
    required: ["jobspec"],
    secrets: [],
    replaceOnChanges: [],
    objectTypes: { hcl2: { token: "nomad:index/JobHcl2:JobHcl2", properties: keysOf<JobHcl2>()(["allowFs", "vars"]) } },
};

/** A Nomad job. Give it the cluster's `Provider` and make it depend on `NomadLeader`. */
export class Job extends pulumi.CustomResource {
    static readonly binding = JOB_BINDING;
    declare readonly jobspec: pulumi.Output<string>;
    declare readonly json: pulumi.Output<boolean | undefined>;
    declare readonly detach: pulumi.Output<boolean | undefined>;
    declare readonly purgeOnDestroy: pulumi.Output<boolean | undefined>;
    /** Job ID, as derived from the jobspec. */
    declare readonly name: pulumi.Output<string>;
    declare readonly namespace: pulumi.Output<string>;
    declare readonly type: pulumi.Output<string>;
    declare readonly region: pulumi.Output<string>;
    declare readonly datacenters: pulumi.Output<string[]>;
    declare readonly modifyIndex: pulumi.Output<string>;
    /** With `detach: false`: the deployment of the last registration, if any. */
    declare readonly deploymentId: pulumi.Output<string>;
    declare readonly deploymentStatus: pulumi.Output<string>;
    declare readonly status: pulumi.Output<string>;
    declare readonly statusDescription: pulumi.Output<string>;
    declare readonly stop: pulumi.Output<boolean>;
    /** Job version in Nomad. */
    declare readonly version: pulumi.Output<number>;
    declare readonly priority: pulumi.Output<number>;
    declare readonly createIndex: pulumi.Output<number>;
    declare readonly submitTime: pulumi.Output<string>;

    constructor(name: string, args: JobArgs, opts?: pulumi.CustomResourceOptions) {
        const r = registration(JOB_BINDING, args, opts);
        super(JOB_BINDING.token, name, r.inputs, r.opts);
    }
}
