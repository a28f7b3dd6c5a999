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

function otherRole(role: NodeRole): NodeRole {
    return role === "server" ? "client" : "server";
}

/**
 * The least-privilege IAM policy of a node role, as data: cloud auto-join may list instances
 * (`ec2:DescribeInstances` cannot be scoped to resources), the node may read only its own SSM
 * paths (the other role's are denied outright), and may decrypt with the cluster key only through
 * SSM and only its own parameters.
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
    const own = secretPathsFor(ssmPrefix, role);
    const other = secretPathsFor(ssmPrefix, otherRole(role)).filter((path) => !own.includes(path));
    const readSecrets = ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"];
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "CloudAutoJoin", Effect: "Allow", Action: ["ec2:DescribeInstances"], Resource: "*" },
            {
                Sid: "ReadOwnSecrets",
                Effect: "Allow",
                Action: readSecrets,
                Resource: own.flatMap((path) => [parameterArn(path), parameterArn(`${path}/*`)]),
            },
            // AmazonSSMManagedInstanceCore (attached for Session Manager) allows ssm:GetParameter(s)
            // on every parameter ("Resource": "*"): without this explicit deny a client could read
            // the servers' management tokens by name.
            {
                Sid: "DenyOtherRoleSecrets",
                Effect: "Deny",
                Action: readSecrets,
                Resource: other.flatMap((path) => [parameterArn(path), parameterArn(`${path}/*`)]),
            },
            // SSM encrypts a SecureString with its ARN as encryption context (SSM user guide, "How
            // AWS Systems Manager Parameter Store uses AWS KMS": PARAMETER_ARN), so the key decrypts
            // only the node's own parameters, whichever API asks.
            {
                Sid: "DecryptOwnSecrets",
                Effect: "Allow",
                Action: ["kms:Decrypt"],
                Resource: kmsKeyArn,
                Condition: {
                    StringEquals: { "kms:ViaService": `ssm.${awsRegion}.amazonaws.com` },
                    StringLike: { "kms:EncryptionContext:PARAMETER_ARN": own.map((path) => parameterArn(`${path}/*`)) },
                },
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
