import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { secretPathsFor } from "../../provisioning/agents/secrets";
import { NodeRole } from "../../provisioning/types";

export interface NodeIamArgs {
    role: NodeRole;
    awsRegion: string;
    ssmPrefix: string;
    kmsKeyArn: pulumi.Input<string>;
    tags: Record<string, string>;
}

/**
 * The least-privilege IAM policy of a node role, as data: cloud auto-join may list instances
 * (`ec2:DescribeInstances` cannot be scoped to resources), the node may read only its own SSM
 * paths, and may decrypt with the cluster key only through SSM.
 */
export function nodePolicyDocument(role: NodeRole, awsRegion: string, ssmPrefix: string, partition: string, accountId: string, kmsKeyArn: string,
    clusterName?: string): object {
    const parameterArn = (path: string) => `arn:${partition}:ssm:${awsRegion}:${accountId}:parameter${path}`;
    // A client that never converges marks itself Unhealthy (provisioning/aws/scripts/boot-deadline.sh),
    // only in its own cluster's groups (tagged spin-cloud:cluster).
    const selfHealth = role === "client" && clusterName !== undefined ? [{
        Sid: "ReplaceSelfWhenStuck",
        Effect: "Allow",
        Action: ["autoscaling:SetInstanceHealth"],
        Resource: "*",
        Condition: { StringEquals: { "autoscaling:ResourceTag/spin-cloud:cluster": clusterName } },
    }] : [];
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "CloudAutoJoin", Effect: "Allow", Action: ["ec2:DescribeInstances"], Resource: "*" },
            {
                Sid: "ReadOwnSecrets",
                Effect: "Allow",
                Action: ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"],
                Resource: secretPathsFor(ssmPrefix, role).flatMap((path) => [parameterArn(path), parameterArn(`${path}/*`)]),
            },
            {
                Sid: "DecryptOwnSecrets",
                Effect: "Allow",
                Action: ["kms:Decrypt"],
                Resource: kmsKeyArn,
                Condition: { StringEquals: { "kms:ViaService": `ssm.${awsRegion}.amazonaws.com` } },
            },
            ...selfHealth,
        ],
    };
}

/** An instance profile for one node role: its own policy plus Session Manager access. */
export function nodeInstanceProfile(name: string, args: NodeIamArgs, parent: pulumi.Resource): aws.iam.InstanceProfile {
    const opts = { parent };
    const role = new aws.iam.Role(`${name}-${args.role}`, {
        description: `spin-cloud ${args.role} nodes`,
        assumeRolePolicy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags: args.tags,
    }, opts);
    const identity = aws.getCallerIdentityOutput({}, opts);
    const partition = aws.getPartitionOutput({}, opts);
    new aws.iam.RolePolicy(`${name}-${args.role}`, {
        role: role.id,
        policy: pulumi.all([partition.partition, identity.accountId, args.kmsKeyArn]).apply(([p, account, keyArn]) =>
            JSON.stringify(nodePolicyDocument(args.role, args.awsRegion, args.ssmPrefix, p, account, keyArn, args.tags["spin-cloud:cluster"]))),
    }, opts);
    // Operator shell and port forwarding go through SSM Session Manager instead of SSH.
    new aws.iam.RolePolicyAttachment(`${name}-${args.role}-ssm-core`, {
        role: role.name,
        policyArn: pulumi.interpolate`arn:${partition.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
    }, opts);
    return new aws.iam.InstanceProfile(`${name}-${args.role}`, { role: role.name, tags: args.tags }, opts);
}
