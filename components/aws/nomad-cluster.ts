import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { renderUserDataGzip } from "../../provisioning/aws/cloud-init";
import { Architecture, ClusterProvisioning, HostVolume, NfsHostVolume, NodeProvisioning, NodeRole } from "../../provisioning/types";
import { nodeInstanceProfile } from "./node-iam";
import { ServerRollAccess, ServerRollGate } from "./server-roll";

/**
 * The client group's instance refresh (EC2 Auto Scaling StartInstanceRefresh preferences): started
 * by the provider whenever the launch template version changes, it replaces clients in batches
 * that keep 90% of the desired capacity in service (one at a time below ten clients: Auto
 * Scaling always replaces at least one), terminating before launching (max 100%, so the group
 * never exceeds its maximum size), and counts a new client only after a warm-up long enough for
 * install.sh and the join. Already-current clients are skipped (a re-run resumes a cancelled
 * refresh). No auto-rollback: the stack's state names the template version, not the group.
 */
export const CLIENT_INSTANCE_REFRESH = {
    strategy: "Rolling",
    preferences: { minHealthyPercentage: 90, maxHealthyPercentage: 100, instanceWarmup: "600", skipMatching: true, autoRollback: false },
} as const;

export interface NomadClusterArgs {
    cluster: ClusterProvisioning;
    architecture: Architecture;
    serverInstanceType: string;
    clientInstanceType: string;
    clientMinSize: number;
    clientMaxSize: number;
    clientDesiredSize: number;
    rootVolumeSizeGb: number;
    /** Private subnets, one per availability zone; servers go round-robin over them. */
    privateSubnetIds: pulumi.Input<string>[];
    securityGroupIds: Record<NodeRole, pulumi.Input<string>>;
    kmsKeyArn: pulumi.Input<string>;
    /** Nomad `node_class` of the clients. */
    clientNodeClass: string;
    clientHostVolumes: readonly HostVolume[];
    /** The client host volume backed by a shared NFS export (EFS), mounted at boot. */
    clientSharedVolume?: NfsHostVolume;
    tags: Record<string, string>;
    /** Resources that must exist before a node boots: the SSM parameters it fetches. */
    bootDependencies: pulumi.Input<pulumi.Resource>[];
    /** The gates between server replacements reach the cluster through this. */
    serverRoll: ServerRollAccess;
}

/** Canonical's public SSM parameter with the current Ubuntu 24.04 LTS AMI for an architecture. */
export function ubuntuAmiParameter(architecture: Architecture): string {
    const arch = architecture === "arm64" ? "arm64" : "amd64";
    return `/aws/service/canonical/ubuntu/server/24.04/stable/current/${arch}/hvm/ebs-gp3/ami-id`;
}

/** IMDSv2 only, and one hop so containers on the node cannot reach the instance credentials. */
const METADATA_OPTIONS = { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 } as const;

/** Ubuntu's AMIs boot from /dev/sda1. */
const ROOT_DEVICE = "/dev/sda1";

/**
 * Nomad + Consul servers (one EC2 instance each, spread over the zones, tagged for cloud
 * auto-join) and Nomad clients (an Auto Scaling Group over the zones). Every node configures
 * itself at boot from its user data and fetches its secrets from SSM.
 */
export class NomadCluster extends pulumi.ComponentResource {
    readonly serverInstanceIds: pulumi.Output<string>[];
    readonly serverPrivateIps: pulumi.Output<string>[];
    readonly clientAsgName: pulumi.Output<string>;
    /** One per server, in order; the last opens when the whole roll is done. */
    readonly serverRollGates: ServerRollGate[];

    constructor(name: string, args: NomadClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:cluster:NomadCluster", name, {}, opts);
        const { cluster } = args;
        const nodeTags = (role: NodeRole) => ({ ...args.tags, "spin-cloud:role": role });
        const profile = (role: NodeRole) => nodeInstanceProfile(name, {
            role, awsRegion: cluster.awsRegion, ssmPrefix: cluster.ssmPrefix, kmsKeyArn: args.kmsKeyArn, tags: nodeTags(role),
        }, this);
        const ami = aws.ssm.getParameterOutput({ name: ubuntuAmiParameter(args.architecture) }, { parent: this }).value;

        const serverNode: NodeProvisioning = { role: "server", architecture: args.architecture, cluster };
        // Gzipped cloud-config, base64 for the API (provisioning/aws/cloud-init.ts: the 12 KiB budget).
        const serverUserData = renderUserDataGzip(serverNode).toString("base64");
        const serverProfile = profile("server");
        // Servers roll one at a time. A user-data change replaces a server (cloud-init runs only at
        // first boot, so a stop/start would not even apply it), deleting the old one first: with
        // create-before-delete the engine deletes every replaced server at the end of `up`, all at
        // once. Server i+1 (its replacement or in-place update) waits for the gate of server i,
        // which opens once server i is a healthy voter in Nomad's and Consul's Raft and autopilot
        // has removed the server it replaced (components/aws/server-roll.ts).
        const servers: aws.ec2.Instance[] = [];
        const gates: ServerRollGate[] = [];
        for (let i = 0; i < cluster.serverCount; i++) {
            const serverName = `${cluster.clusterName}-server-${i}`;
            const server = new aws.ec2.Instance(`${name}-server-${i}`, {
                ami,
                instanceType: args.serverInstanceType,
                subnetId: args.privateSubnetIds[i % args.privateSubnetIds.length],
                vpcSecurityGroupIds: [args.securityGroupIds.server],
                iamInstanceProfile: serverProfile.name,
                userDataBase64: serverUserData,
                userDataReplaceOnChange: true,
                metadataOptions: METADATA_OPTIONS,
                monitoring: true,
                rootBlockDevice: {
                    volumeType: "gp3",
                    volumeSize: args.rootVolumeSizeGb,
                    encrypted: true,
                    deleteOnTermination: true,
                    tags: { ...nodeTags("server"), Name: serverName },
                },
                tags: {
                    ...nodeTags("server"),
                    Name: serverName,
                    [cluster.joinTag.key]: cluster.joinTag.value,
                },
            }, {
                parent: this,
                dependsOn: i === 0 ? args.bootDependencies : [...args.bootDependencies, gates[i - 1]],
                replaceOnChanges: ["userDataBase64"],
                deleteBeforeReplace: true,
                // A new Ubuntu image must not replace a running server behind the operator's back:
                // `pulumi up --replace <server urn>` rolls through the same gates (see README).
                ignoreChanges: ["ami"],
            });
            servers.push(server);
            gates.push(new ServerRollGate(`${name}-server-${i}-raft`, {
                serverName,
                serverId: server.id,
                serverIp: server.privateIp,
                instanceType: server.instanceType,
                ...args.serverRoll,
            }, { parent: this }));
        }

        const clientNode: NodeProvisioning = {
            role: "client",
            architecture: args.architecture,
            cluster,
            nodeClass: args.clientNodeClass,
            hostVolumes: args.clientHostVolumes,
            ...(args.clientSharedVolume ? { sharedVolume: args.clientSharedVolume } : {}),
        };
        const clientTags = { ...nodeTags("client"), Name: `${cluster.clusterName}-client` };
        const template = new aws.ec2.LaunchTemplate(`${name}-client`, {
            description: `spin-cloud ${cluster.clusterName} Nomad clients`,
            imageId: ami,
            instanceType: args.clientInstanceType,
            iamInstanceProfile: { arn: profile("client").arn },
            vpcSecurityGroupIds: [args.securityGroupIds.client],
            userData: renderUserDataGzip(clientNode).toString("base64"),
            metadataOptions: METADATA_OPTIONS,
            monitoring: { enabled: true },
            blockDeviceMappings: [{
                deviceName: ROOT_DEVICE,
                ebs: { volumeType: "gp3", volumeSize: args.rootVolumeSizeGb, encrypted: "true", deleteOnTermination: "true" },
            }],
            tagSpecifications: [
                { resourceType: "instance", tags: clientTags },
                { resourceType: "volume", tags: clientTags },
            ],
            updateDefaultVersion: true,
            tags: nodeTags("client"),
        }, { parent: this });
        const group = new aws.autoscaling.Group(`${name}-clients`, {
            vpcZoneIdentifiers: args.privateSubnetIds,
            minSize: args.clientMinSize,
            maxSize: args.clientMaxSize,
            desiredCapacity: args.clientDesiredSize,
            launchTemplate: { id: template.id, version: pulumi.interpolate`${template.latestVersion}` },
            healthCheckType: "EC2",
            instanceRefresh: CLIENT_INSTANCE_REFRESH,
            tags: Object.entries(clientTags).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
        }, { parent: this, dependsOn: args.bootDependencies });

        this.serverInstanceIds = servers.map((s) => s.id);
        this.serverPrivateIps = servers.map((s) => s.privateIp);
        this.clientAsgName = group.name;
        this.serverRollGates = gates;
        this.registerOutputs({
            serverInstanceIds: this.serverInstanceIds,
            serverPrivateIps: this.serverPrivateIps,
            clientAsgName: this.clientAsgName,
        });
    }
}
