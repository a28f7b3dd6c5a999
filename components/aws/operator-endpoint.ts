import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BINDLE_PORT, TRAEFIK_PORTS } from "../../provisioning/platform";
import { NodeRole } from "../../provisioning/types";
import { ClusterSecrets } from "./cluster-secrets";
import { ALB_SSL_POLICY } from "./public-ingress";
import { allowIn, allowOut, securityGroup } from "./security-rules";
import { CONSUL_HTTPS_PORT, NOMAD_HTTP_PORT } from "./operator-access";
import { LB_LOG_PREFIXES } from "./lb-access-logs";

export interface OperatorEndpointArgs {
    /** Production: deletion protection, and access logs to this bucket (LoadBalancerLogs). */
    protection?: { readonly logsBucket: pulumi.Input<string> };
    vpcId: pulumi.Input<string>;
    publicSubnetIds: pulumi.Input<string>[];
    securityGroupIds: Record<NodeRole, pulumi.Input<string>>;
    serverInstanceIds: pulumi.Input<string>[];
    clientAsgName: pulumi.Input<string>;
    /** The only networks allowed in (validated: none wider than /8, never 0.0.0.0/0). */
    operatorCidrs: string[];
    /** Issues the endpoint's certificate from the cluster CA, which operators already trust. */
    secrets: ClusterSecrets;
    tags: Record<string, string>;
}

/** What the operator endpoint exposes; the same port outside as on the nodes. */
export const OPERATOR_SERVICES = [
    { id: "nomad", port: NOMAD_HTTP_PORT, role: "server", backend: "TLS", targetGroupPrefix: "nomad-", description: "Nomad API and UI" },
    { id: "consul", port: CONSUL_HTTPS_PORT, role: "server", backend: "TLS", targetGroupPrefix: "consl-", description: "Consul API and UI" },
    { id: "traefik", port: TRAEFIK_PORTS.dashboard, role: "client", backend: "TCP", targetGroupPrefix: "trfkd-", description: "Traefik dashboard and API" },
    { id: "bindle", port: BINDLE_PORT, role: "client", backend: "TCP", targetGroupPrefix: "bndl-", description: "Bindle API" },
] as const;

export type OperatorServiceId = (typeof OPERATOR_SERVICES)[number]["id"];

/** URL paths operators open on each service. */
const URL_PATHS: Record<OperatorServiceId, string> = { nomad: "/ui/", consul: "/ui/", traefik: "/dashboard/", bindle: "/v1/" };

/**
 * The operators' way in: a Network Load Balancer whose security group admits only
 * `operatorCidrs`, with a TLS listener per service. TLS ends at the load balancer with a
 * certificate from the cluster CA (imported into ACM) for the load balancer's name; Nomad and
 * Consul are reached again over TLS behind it. `pulumi up` talks to Nomad through it too.
 */
export class OperatorEndpoint extends pulumi.ComponentResource {
    readonly dnsName: pulumi.Output<string>;
    readonly urls: Record<OperatorServiceId, pulumi.Output<string>>;
    /** Nomad API address for the Nomad provider: `https://<name>:4646`. */
    readonly nomadAddress: pulumi.Output<string>;

    constructor(name: string, args: OperatorEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:ingress:OperatorEndpoint", name, {}, opts);
        const parent = { parent: this };
        const tags = { ...args.tags, Name: name };

        const group = securityGroup(`${name}-nlb`, args.vpcId, "spin-cloud operator endpoint (operator networks only)", tags, this);
        for (const { id, port, role, description } of OPERATOR_SERVICES) {
            const nodes = args.securityGroupIds[role];
            args.operatorCidrs.forEach((cidr, i) => allowIn(`${name}-${id}-operators-${i}`, {
                securityGroupId: group.id, peer: { cidr }, port, description: `${description} from operators`,
            }, this));
            allowOut(`${name}-${id}-to-${role}s`, {
                securityGroupId: group.id, peer: { group: nodes }, port, description: `${description} on the ${role}s`,
            }, this);
            allowIn(`${name}-${id}-from-nlb`, {
                securityGroupId: nodes, peer: { group: group.id }, port, description: `${description} from the operator endpoint`,
            }, this);
        }

        const nlb = new aws.lb.LoadBalancer(`${name}-nlb`, {
            loadBalancerType: "network",
            internal: false,
            subnets: args.publicSubnetIds,
            securityGroups: [group.id],
            enableCrossZoneLoadBalancing: true,
            ...(args.protection ? {
                enableDeletionProtection: true,
                accessLogs: { enabled: true, bucket: args.protection.logsBucket, prefix: LB_LOG_PREFIXES.operator },
            } : {}),
            tags,
        }, parent);
        const tlsCert = args.secrets.issueCertificate(`${name}-tls`, "spin-cloud operator endpoint", [nlb.dnsName]);
        const certificate = new aws.acm.Certificate(`${name}-tls`, {
            privateKey: tlsCert.privateKeyPem,
            certificateBody: tlsCert.certPem,
            certificateChain: args.secrets.caCertPem,
            tags,
        }, parent);

        for (const service of OPERATOR_SERVICES) {
            const targets = new aws.lb.TargetGroup(`${name}-${service.id}`, {
                // Target group names are at most 32 characters and the autoname (logical name,
                // "-", 7 random characters) would exceed that: see TARGET_GROUP_NAMING.
                namePrefix: service.targetGroupPrefix,
                vpcId: args.vpcId,
                targetType: "instance",
                protocol: service.backend,
                port: service.port,
                deregistrationDelay: 30,
                healthCheck: { protocol: "TCP", interval: 30, healthyThreshold: 3, unhealthyThreshold: 3 },
                tags,
            }, parent);
            if (service.role === "server") {
                args.serverInstanceIds.forEach((id, i) => new aws.lb.TargetGroupAttachment(`${name}-${service.id}-${i}`, {
                    targetGroupArn: targets.arn,
                    targetId: id,
                    port: service.port,
                }, parent));
            } else {
                new aws.autoscaling.Attachment(`${name}-${service.id}`, {
                    autoscalingGroupName: args.clientAsgName,
                    lbTargetGroupArn: targets.arn,
                }, parent);
            }
            new aws.lb.Listener(`${name}-${service.id}`, {
                loadBalancerArn: nlb.arn,
                port: service.port,
                protocol: "TLS",
                sslPolicy: ALB_SSL_POLICY,
                certificateArn: certificate.arn,
                defaultActions: [{ type: "forward", targetGroupArn: targets.arn }],
                tags,
            }, parent);
        }

        this.dnsName = nlb.dnsName;
        const url = (id: OperatorServiceId) => {
            const service = OPERATOR_SERVICES.find((s) => s.id === id)!;
            return pulumi.interpolate`https://${nlb.dnsName}:${service.port}${URL_PATHS[id]}`;
        };
        this.urls = { nomad: url("nomad"), consul: url("consul"), traefik: url("traefik"), bindle: url("bindle") };
        this.nomadAddress = pulumi.interpolate`https://${nlb.dnsName}:${NOMAD_HTTP_PORT}`;
        this.registerOutputs({ dnsName: this.dnsName, urls: this.urls });
    }
}
