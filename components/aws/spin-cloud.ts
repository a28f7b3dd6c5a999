import * as pulumi from "@pulumi/pulumi";
import { BINDLE_CLIENT_REQUIREMENTS } from "../../provisioning/jobs/bindle-job";
import { BINDLE_HOST_VOLUME, CLIENT_NODE_CLASS } from "../../provisioning/platform";
import { BINDLE_EFS_PARAMETER } from "../../provisioning/agents/secrets";
import { ClusterProvisioning } from "../../provisioning/types";
import { BindleStorage } from "./bindle-storage";
import { ClusterSecrets } from "./cluster-secrets";
import { ResolvedSpinCloudArgs, SpinCloudArgs, resolveSpinCloudArgs } from "../settings/config";
import { Network } from "./network";
import { NomadCluster } from "./nomad-cluster";
import { CONSUL_HTTPS_PORT, NOMAD_HTTP_PORT, OperatorCommands, operatorCommands } from "./operator-access";
import { OperatorEndpoint, OperatorServiceId } from "./operator-endpoint";
import { PublicIngress } from "./public-ingress";
import { NomadLeader, nomadProvider } from "../nomad";
import { NomadAccess } from "../platform/nomad-access";
import { Traefik } from "../platform/traefik";
import { BindleServer } from "../platform/bindle-server";
import { AppCloud, AppPlatform } from "../platform/app-platform";
import { AwsAppStores } from "./app-stores";
import { LoadBalancerLogs } from "./lb-access-logs";
import { checkedLibsqlDatabases, LibsqlDatabaseRef, libsqlDatabaseUrl } from "../../provisioning/jobs/libsql-databases";

export interface SpinCloudComponentArgs extends SpinCloudArgs {
    /** AWS region the cloud runs in (the AWS provider's region). */
    awsRegion: string;
    /** Cluster name used in tags, names and the SSM path; default `spin-cloud-<stack>`. */
    clusterName?: string;
    /** Extra tags for every resource. */
    tags?: Record<string, string>;
    /**
     * The apps' SQLite databases the platform libSQL server holds (docs/libsql.md): every label an
     * app declares without `url` and `token`. spinCloudProgram fills it from `apps`; none (the
     * default) builds no server, no backup bucket and no writer key.
     */
    libsqlDatabases?: readonly LibsqlDatabaseRef[];
}

/** The cluster's name: `clusterName`, default `spin-cloud-<stack>` (every AWS name and tag starts with it). */
export const clusterNameOf = (args: { clusterName?: string }): string => args.clusterName ?? `spin-cloud-${pulumi.getStack()}`;

/**
 * The whole cloud on AWS: network, cluster secrets, Nomad + Consul servers and clients.
 * Arguments are validated before any resource is registered.
 */
export class SpinCloud extends pulumi.ComponentResource implements AppCloud {
    readonly settings: ResolvedSpinCloudArgs;
    readonly cluster: ClusterProvisioning;
    readonly vpcId: pulumi.Output<string>;
    readonly serverPrivateIps: pulumi.Output<string[]>;
    /** Nomad HTTPS API on the operator endpoint (its certificate names it; verify with `caCertPem`). */
    readonly nomadAddress: pulumi.Output<string>;
    /** Consul HTTPS API on the operator endpoint (its certificate names it; verify with `caCertPem`). */
    readonly consulAddress: pulumi.Output<string>;
    readonly clientAsgName: pulumi.Output<string>;
    readonly caCertPem: pulumi.Output<string>;
    readonly consulManagementToken: pulumi.Output<string>;
    readonly nomadManagementToken: pulumi.Output<string>;
    readonly operatorCommands: pulumi.Output<OperatorCommands>;
    /** Where apps answer: `https://<app>.<domain>` or `http://<load balancer>/<app>/`. */
    readonly appsEndpoint: pulumi.Output<string>;
    readonly publicLoadBalancerDnsName: pulumi.Output<string>;
    /** Operator URLs (Nomad UI, Consul UI, Traefik dashboard, Bindle API), operator networks only. */
    readonly operatorUrls: Record<OperatorServiceId, pulumi.Output<string>>;
    /** The Bindle server apps are pushed to. */
    readonly bindle: BindleServer;
    /** How apps register their Nomad jobs. */
    readonly nomad: NomadAccess;
    /** What SpinApps deploy to. */
    readonly platform: AppPlatform;
    /** The platform libSQL server's databases, `<app>/<label>` → namespace and the URL Spin uses (inside the VPC). */
    readonly libsqlDatabases: Record<string, { namespace: string; url: string }>;

    constructor(name: string, args: SpinCloudComponentArgs, opts?: pulumi.ComponentResourceOptions) {
        const settings = resolveSpinCloudArgs(args);
        checkedLibsqlDatabases(args.libsqlDatabases ?? [], "SpinCloud libsqlDatabases");
        super("spin-cloud:index:SpinCloud", name, {}, opts);
        const parent = { parent: this };
        const clusterName = clusterNameOf(args);
        const tags = { "spin-cloud:cluster": clusterName, "managed-by": "pulumi", ...args.tags };
        this.settings = settings;
        this.cluster = {
            clusterName,
            nomadRegion: settings.nomadRegion,
            datacenter: settings.datacenter,
            awsRegion: args.awsRegion,
            serverCount: settings.serverCount,
            joinTag: { key: "spin-cloud-join", value: clusterName },
            ssmPrefix: `/spin-cloud/${clusterName}`,
        };

        const network = new Network(`${name}-net`, {
            cidr: settings.vpcCidr,
            availabilityZoneCount: settings.availabilityZoneCount,
            natGateways: settings.natGateways,
            tags,
        }, parent);
        const secrets = new ClusterSecrets(`${name}-secrets`, { cluster: this.cluster, tags }, parent);
        const bindleStorage = new BindleStorage(`${name}-bindle-storage`, {
            vpcId: network.vpcId,
            privateSubnetIds: network.privateSubnetIds,
            clientSecurityGroupId: network.securityGroupIds.client,
            awsRegion: args.awsRegion,
            ssmPrefix: this.cluster.ssmPrefix,
            tags,
        }, parent);
        // The servers' roll gates ask Nomad and Consul through the operator endpoint, which is
        // registered after the servers (it attaches them): its name is resolved below.
        const [operatorDnsName, resolveOperatorDnsName] = pulumi.deferredOutput<string>();
        const nomad = new NomadCluster(`${name}-nomad`, {
            cluster: this.cluster,
            architecture: settings.architecture,
            serverInstanceType: settings.serverInstanceType,
            clientInstanceType: settings.clientInstanceType,
            clientMinSize: settings.clientMinSize,
            clientMaxSize: settings.clientMaxSize,
            clientDesiredSize: settings.clientDesiredSize,
            rootVolumeSizeGb: settings.rootVolumeSizeGb,
            privateSubnetIds: network.privateSubnetIds,
            securityGroupIds: network.securityGroupIds,
            kmsKeyArn: secrets.kmsKeyArn,
            clientNodeClass: CLIENT_NODE_CLASS,
            clientHostVolumes: [{ ...BINDLE_HOST_VOLUME, readOnly: false }],
            clientSharedVolume: {
                hostVolume: BINDLE_HOST_VOLUME.name,
                addressParameter: BINDLE_EFS_PARAMETER.name,
                uid: BINDLE_CLIENT_REQUIREMENTS.hostVolume.uid,
                gid: BINDLE_CLIENT_REQUIREMENTS.hostVolume.gid,
                mode: BINDLE_CLIENT_REQUIREMENTS.hostVolume.mode,
            },
            tags,
            bootDependencies: [secrets, ...bindleStorage.bootDependencies],
            serverRoll: {
                nomadAddress: pulumi.interpolate`https://${operatorDnsName}:${NOMAD_HTTP_PORT}`,
                consulAddress: pulumi.interpolate`https://${operatorDnsName}:${CONSUL_HTTPS_PORT}`,
                caPem: secrets.caCertPem,
                nomadToken: secrets.nomadManagementToken,
                consulToken: secrets.consulManagementToken,
            },
        }, parent);
        const protection = settings.loadBalancerProtection
            ? { logsBucket: new LoadBalancerLogs(`${name}-lb`, { tags }, parent).bucket }
            : undefined;
        const ingress = new PublicIngress(`${name}-ingress`, {
            protection,
            vpcId: network.vpcId,
            publicSubnetIds: network.publicSubnetIds,
            clientSecurityGroupId: network.securityGroupIds.client,
            clientAsgName: nomad.clientAsgName,
            domain: settings.appsDomain ? { name: settings.appsDomain, hostedZoneId: settings.hostedZoneId } : undefined,
            tags,
        }, parent);
        const operator = new OperatorEndpoint(`${name}-operator`, {
            protection,
            vpcId: network.vpcId,
            publicSubnetIds: network.publicSubnetIds,
            securityGroupIds: network.securityGroupIds,
            serverInstanceIds: nomad.serverInstanceIds,
            clientAsgName: nomad.clientAsgName,
            operatorCidrs: settings.operatorCidrs,
            secrets,
            tags,
        }, parent);
        resolveOperatorDnsName(operator.dnsName);

        // `pulumi up` reaches Nomad through the operator endpoint, once the servers have a leader
        // and have bootstrapped ACLs with the management token the provider uses.
        const nomadAccess: NomadAccess = {
            provider: nomadProvider(`${name}-nomad`, {
                address: operator.nomadAddress,
                caPem: secrets.caCertPem,
                secretId: secrets.nomadManagementToken,
                region: settings.nomadRegion,
            }, parent),
            leader: new NomadLeader(`${name}-nomad-leader`, {
                address: operator.nomadAddress,
                caPem: secrets.caCertPem,
                token: secrets.nomadManagementToken,
                triggers: nomad.serverInstanceIds,
            }, { parent: this, dependsOn: [operator, ...nomad.serverRollGates] }),
        };
        new Traefik(`${name}-traefik`, {
            nomad: nomadAccess,
            job: { datacenters: [settings.datacenter], architecture: settings.architecture, vpcCidr: settings.vpcCidr },
            consulToken: secrets.consulTraefikToken,
        }, parent);
        this.bindle = new BindleServer(`${name}-bindle`, {
            nomad: nomadAccess,
            datacenter: settings.datacenter,
            architecture: settings.architecture,
            operatorUrl: operator.urls.bindle,
        }, parent);
        this.nomad = nomadAccess;

        this.vpcId = network.vpcId;
        this.serverPrivateIps = pulumi.all(nomad.serverPrivateIps);
        // Not `https://<server IP>`: the servers' certificate names no private IP (one certificate
        // serves every server, and it exists before their addresses do), so such a URL fails
        // verification with the published CA. The operator endpoint's certificate names its DNS name.
        this.nomadAddress = operator.nomadAddress;
        this.consulAddress = pulumi.interpolate`https://${operator.dnsName}:${CONSUL_HTTPS_PORT}`;
        this.clientAsgName = nomad.clientAsgName;
        this.caCertPem = secrets.caCertPem;
        this.consulManagementToken = secrets.consulManagementToken;
        this.nomadManagementToken = secrets.nomadManagementToken;
        this.operatorCommands = nomad.serverInstanceIds[0].apply((id) => operatorCommands(args.awsRegion, id));
        this.appsEndpoint = ingress.appsEndpoint;
        this.publicLoadBalancerDnsName = ingress.dnsName;
        this.operatorUrls = operator.urls;
        const appStores = new AwsAppStores(`${name}-app-stores`, {
            clusterName, region: args.awsRegion, deletionProtection: true, tags,
            libsql: { databases: args.libsqlDatabases ?? [], nomad: nomadAccess, datacenter: settings.datacenter, architecture: settings.architecture, signingKeyGeneration: settings.libsqlSigningKeyGeneration },
        }, { parent: this });
        this.platform = {
            clusterName,
            datacenter: settings.datacenter,
            architecture: settings.architecture,
            appsDomain: settings.appsDomain,
            sharedOrigin: pulumi.interpolate`${settings.appsDomain ? "https" : "http"}://${ingress.dnsName}`,
            runtime: { driver: "exec" },
            nomad: nomadAccess,
            bindle: this.bindle,
            caCertPem: secrets.caCertPem,
            // Tables are registered only for apps that declare stores (README "Data").
            stores: appStores,
        };
        this.libsqlDatabases = Object.fromEntries((appStores.libsql?.databases ?? []).map((d) => [`${d.app}/${d.label}`, { namespace: d.namespace, url: libsqlDatabaseUrl(d.namespace) }]));
        this.registerOutputs({
            vpcId: this.vpcId,
            serverPrivateIps: this.serverPrivateIps,
            nomadAddress: this.nomadAddress,
            consulAddress: this.consulAddress,
            clientAsgName: this.clientAsgName,
            operatorCommands: this.operatorCommands,
            appsEndpoint: this.appsEndpoint,
            operatorUrls: this.operatorUrls,
        });
    }
}
