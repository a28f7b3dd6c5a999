import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BINDLE_EFS_PARAMETER, secretParameterName } from "../../provisioning/agents/secrets";
import { allowIn, securityGroup } from "./security-rules";

export interface BindleStorageArgs {
    vpcId: pulumi.Input<string>;
    privateSubnetIds: pulumi.Input<string>[];
    clientSecurityGroupId: pulumi.Input<string>;
    awsRegion: string;
    ssmPrefix: string;
    tags: Record<string, string>;
}

/** NFS, the only port EFS mount targets need. */
export const NFS_PORT = 2049;

/**
 * Durable storage for Bindle: an encrypted EFS file system with a mount target in every private
 * subnet and AWS Backup enabled. Every client mounts it as Bindle's host volume, so when the
 * node running Bindle dies Nomad reschedules Bindle onto another client with all data intact.
 * Its address is published as an SSM parameter the clients read at boot.
 */
export class BindleStorage extends pulumi.ComponentResource {
    readonly fileSystemId: pulumi.Output<string>;
    /** Resources the clients need before they boot (mount targets, the address parameter). */
    readonly bootDependencies: pulumi.Resource[];

    constructor(name: string, args: BindleStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:bindle:BindleStorage", name, {}, opts);
        const parent = { parent: this };
        const tags = { ...args.tags, Name: name };

        const group = securityGroup(`${name}-efs`, args.vpcId, "spin-cloud Bindle storage (NFS from clients only)", tags, this);
        allowIn(`${name}-nfs-from-clients`, {
            securityGroupId: group.id, peer: { group: args.clientSecurityGroupId }, port: NFS_PORT, description: "NFS from the Nomad clients",
        }, this);

        const fileSystem = new aws.efs.FileSystem(`${name}`, {
            encrypted: true,
            performanceMode: "generalPurpose",
            throughputMode: "elastic",
            lifecyclePolicies: [{ transitionToIa: "AFTER_30_DAYS" }],
            tags,
        }, parent);
        new aws.efs.BackupPolicy(name, { fileSystemId: fileSystem.id, backupPolicy: { status: "ENABLED" } }, parent);
        const mountTargets = args.privateSubnetIds.map((subnetId, i) => new aws.efs.MountTarget(`${name}-${i}`, {
            fileSystemId: fileSystem.id,
            subnetId,
            securityGroups: [group.id],
        }, parent));
        const address = new aws.ssm.Parameter(`${name}-address`, {
            name: secretParameterName(args.ssmPrefix, BINDLE_EFS_PARAMETER.scope, BINDLE_EFS_PARAMETER.name),
            description: "DNS name of the EFS file system behind Bindle's host volume (not secret)",
            type: "String",
            value: pulumi.interpolate`${fileSystem.id}.efs.${args.awsRegion}.amazonaws.com`,
            tags,
        }, parent);

        this.fileSystemId = fileSystem.id;
        this.bootDependencies = [...mountTargets, address];
        this.registerOutputs({ fileSystemId: this.fileSystemId });
    }
}
