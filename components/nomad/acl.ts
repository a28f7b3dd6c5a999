/** `nomad:index/aclPolicy:AclPolicy` and `nomad:index/aclToken:AclToken`. */
import * as pulumi from "@pulumi/pulumi";
import { ResourceBinding, keysOf, registration } from "./binding";

/** Binds a policy to a job's workload identity (schema type `AclPolicyJobAcl`). */
export interface AclPolicyJobAcl {
    /** Job ID; empty applies the policy to every job of the namespace. */
    jobId?: pulumi.Input<string>;
    /** Namespace of the job. */
    namespace?: pulumi.Input<string>;
    /** Task group within the job. */
    group?: pulumi.Input<string>;
    /** Task within the group. */
    task?: pulumi.Input<string>;
}

/** Inputs of an AclPolicy; names as in the schema. */
export interface AclPolicyArgs {
    /** Unique policy name; a change replaces the policy. */
    name?: pulumi.Input<string>;
    /** Policy rules, HCL or JSON. */
    rulesHcl: pulumi.Input<string>;
    /** Human-readable description. */
    description?: pulumi.Input<string>;
    /** Attach the policy to a job, group or task's workload identity. */
    jobAcl?: pulumi.Input<AclPolicyJobAcl>;
}

/** What `AclPolicy` uses of the schema's `nomad:index/aclPolicy:AclPolicy`. */
export const ACL_POLICY_BINDING: ResourceBinding = {
    token: "nomad:index/aclPolicy:AclPolicy",
    inputs: keysOf<AclPolicyArgs>()(["name", "rulesHcl", "description", "jobAcl"]),
    outputs: [],
    required: ["rulesHcl"],
    secrets: [],
    replaceOnChanges: ["name"],
    objectTypes: {
        jobAcl: { token: "nomad:index/AclPolicyJobAcl:AclPolicyJobAcl", properties: keysOf<AclPolicyJobAcl>()(["jobId", "namespace", "group", "task"]) },
    },
};

/** A Nomad ACL policy. */
export class AclPolicy extends pulumi.CustomResource {
    static readonly binding = ACL_POLICY_BINDING;
    declare readonly name: pulumi.Output<string>;
    declare readonly rulesHcl: pulumi.Output<string>;
    declare readonly description: pulumi.Output<string | undefined>;

    constructor(name: string, args: AclPolicyArgs, opts?: pulumi.CustomResourceOptions) {
        const r = registration(ACL_POLICY_BINDING, args, opts);
        super(ACL_POLICY_BINDING.token, name, r.inputs, r.opts);
    }
}

/** An ACL role linked to a token (schema type `AclTokenRole`). */
export interface AclTokenRole {
    /** ID of the ACL role. */
    id: pulumi.Input<string>;
}

/** Inputs of an AclToken; names as in the schema. */
export interface AclTokenArgs {
    /** `client` (with `policies`) or `management`. */
    type: pulumi.Input<"client" | "management">;
    /** Human-readable name. */
    name?: pulumi.Input<string>;
    /** Policy names of a `client` token; must be empty for `management`. */
    policies?: pulumi.Input<pulumi.Input<string>[]>;
    /** ACL roles of the token. */
    roles?: pulumi.Input<pulumi.Input<AclTokenRole>[]>;
    /** Replicate the token to every region; a change replaces it. */
    global?: pulumi.Input<boolean>;
    /** Time to live, e.g. `"1h"`; a change replaces the token. */
    expirationTtl?: pulumi.Input<string>;
}

/** What `AclToken` uses of the schema's `nomad:index/aclToken:AclToken`. */
export const ACL_TOKEN_BINDING: ResourceBinding = {
    token: "nomad:index/aclToken:AclToken",
    inputs: keysOf<AclTokenArgs>()(["type", "name", "policies", "roles", "global", "expirationTtl"]),
    outputs: ["accessorId", "secretId", "createTime", "expirationTime"],
    required: ["type"],
    secrets: ["secretId"],
    replaceOnChanges: ["expirationTtl", "global"],
    objectTypes: { roles: { token: "nomad:index/AclTokenRole:AclTokenRole", properties: keysOf<AclTokenRole>()(["id"]) } },
};

/** A Nomad ACL token; `secretId` is a secret output. */
export class AclToken extends pulumi.CustomResource {
    static readonly binding = ACL_TOKEN_BINDING;
    declare readonly type: pulumi.Output<string>;
    declare readonly name: pulumi.Output<string>;
    declare readonly policies: pulumi.Output<string[] | undefined>;
    /** Non-secret identifier of the token, safe to log. */
    declare readonly accessorId: pulumi.Output<string>;
    /**
     * The token itself (secret). The schema marks it deprecated in favour of an ephemeral
     * resource, which this binding does not offer; it is still returned in 2.6.1.
     */
    declare readonly secretId: pulumi.Output<string>;
    declare readonly createTime: pulumi.Output<string>;
    declare readonly expirationTime: pulumi.Output<string>;

    constructor(name: string, args: AclTokenArgs, opts?: pulumi.CustomResourceOptions) {
        const r = registration(ACL_TOKEN_BINDING, args, opts);
        super(ACL_TOKEN_BINDING.token, name, r.inputs, r.opts);
    }
}
