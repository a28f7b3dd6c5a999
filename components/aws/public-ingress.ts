import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TRAEFIK_PORTS } from "../../provisioning/platform";
import { allowIn, allowOut, securityGroup } from "./security-rules";
import { LB_LOG_PREFIXES } from "./lb-access-logs";

export interface PublicIngressArgs {
    /** Production: deletion protection, and access logs to this bucket (LoadBalancerLogs). */
    protection?: { readonly logsBucket: pulumi.Input<string> };
    vpcId: pulumi.Input<string>;
    publicSubnetIds: pulumi.Input<string>[];
    /** Security group of the Nomad clients that run Traefik. */
    clientSecurityGroupId: pulumi.Input<string>;
    /** The client Auto Scaling Group: every client runs Traefik (a system job). */
    clientAsgName: pulumi.Input<string>;
    /** With a domain: ACM wildcard certificate, HTTPS and an HTTP→HTTPS redirect. */
    domain?: { name: string; hostedZoneId: string };
    tags: Record<string, string>;
}

/**
 * Target group names: at most 32 characters, and pulumi-aws autonames them as the logical name,
 * "-" and 7 random characters (provider/resources.go `"name": tfbridge.AutoName("name", 32, "-")`
 * on aws_lb_target_group), which `spin-cloud-operator-consul` and its siblings exceed. So every
 * target group gets a `namePrefix` (the provider allows at most 6 characters, then appends 26
 * unique ones; the bridge fills no autoname when the conflicting `namePrefix` is set,
 * pulumi/pulumi-aws#143). A random suffix keeps create-before-replace working and names unique
 * per stack and account. test/aws/resource-names.test.ts checks every name against its limit.
 */
export const TARGET_GROUP_NAMING = { nameMax: 32, prefixMax: 6 } as const;
export const TRAEFIK_TARGET_GROUP_PREFIX = "web-";

/** TLS 1.3 with 1.2 fallback: AWS's recommended policy for ALB HTTPS listeners. */
export const ALB_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/**
 * The public way in: an Application Load Balancer in the public subnets that forwards app
 * traffic to Traefik's `web` entry point on every client and health-checks Traefik's `/ping`.
 * The only security-group rules open to the internet in the whole cloud are its 80 and 443.
 */
export class PublicIngress extends pulumi.ComponentResource {
    readonly dnsName: pulumi.Output<string>;
    /** Base URL of the apps: `https://<app>.<domain>` with a domain, else the load balancer's. */
    readonly appsEndpoint: pulumi.Output<string>;
    readonly securityGroupId: pulumi.Output<string>;

    constructor(name: string, args: PublicIngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:ingress:PublicIngress", name, {}, opts);
        const parent = { parent: this };
        const tags = { ...args.tags, Name: name };

        const group = securityGroup(`${name}-alb`, args.vpcId, "spin-cloud public load balancer", tags, this);
        const publicPorts = args.domain ? [80, 443] : [80];
        for (const port of publicPorts) {
            allowIn(`${name}-alb-${port}`, {
                securityGroupId: group.id,
                peer: { cidr: "0.0.0.0/0" },
                port,
                description: port === 443 ? "HTTPS from the internet" : "HTTP from the internet",
            }, this);
        }
        for (const [entryPoint, port] of [["web", TRAEFIK_PORTS.web], ["ping", TRAEFIK_PORTS.ping]] as const) {
            allowOut(`${name}-alb-to-traefik-${entryPoint}`, {
                securityGroupId: group.id, peer: { group: args.clientSecurityGroupId }, port, description: `To Traefik ${entryPoint} on the clients`,
            }, this);
            allowIn(`${name}-traefik-${entryPoint}-from-alb`, {
                securityGroupId: args.clientSecurityGroupId, peer: { group: group.id }, port, description: `Traefik ${entryPoint} from the public load balancer`,
            }, this);
        }

        const alb = new aws.lb.LoadBalancer(`${name}-alb`, {
            loadBalancerType: "application",
            internal: false,
            subnets: args.publicSubnetIds,
            securityGroups: [group.id],
            dropInvalidHeaderFields: true,
            ...(args.protection ? {
                enableDeletionProtection: true,
                accessLogs: { enabled: true, bucket: args.protection.logsBucket, prefix: LB_LOG_PREFIXES.ingress },
            } : {}),
            tags,
        }, parent);
        const targets = new aws.lb.TargetGroup(`${name}-traefik`, {
            // See TARGET_GROUP_NAMING: the autoname would be longer than 32 characters.
            namePrefix: TRAEFIK_TARGET_GROUP_PREFIX,
            vpcId: args.vpcId,
            targetType: "instance",
            protocol: "HTTP",
            port: TRAEFIK_PORTS.web,
            deregistrationDelay: 30,
            healthCheck: {
                protocol: "HTTP",
                port: String(TRAEFIK_PORTS.ping),
                path: "/ping",
                matcher: "200",
                interval: 15,
                healthyThreshold: 2,
                unhealthyThreshold: 3,
            },
            tags,
        }, parent);
        new aws.autoscaling.Attachment(`${name}-traefik`, {
            autoscalingGroupName: args.clientAsgName,
            lbTargetGroupArn: targets.arn,
        }, parent);
        const forward = [{ type: "forward", targetGroupArn: targets.arn }];

        if (args.domain) {
            const certificateArn = this.certificate(name, args.domain, tags);
            new aws.lb.Listener(`${name}-https`, {
                loadBalancerArn: alb.arn,
                port: 443,
                protocol: "HTTPS",
                sslPolicy: ALB_SSL_POLICY,
                certificateArn,
                defaultActions: forward,
                tags,
            }, parent);
            new aws.lb.Listener(`${name}-http`, {
                loadBalancerArn: alb.arn,
                port: 80,
                protocol: "HTTP",
                defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
                tags,
            }, parent);
            for (const record of [`*.${args.domain.name}`, args.domain.name]) {
                new aws.route53.Record(`${name}-${record === args.domain.name ? "apex" : "wildcard"}`, {
                    zoneId: args.domain.hostedZoneId,
                    name: record,
                    type: "A",
                    aliases: [{ name: alb.dnsName, zoneId: alb.zoneId, evaluateTargetHealth: true }],
                }, parent);
            }
            this.appsEndpoint = pulumi.output(`https://<app>.${args.domain.name}`);
        } else {
            new aws.lb.Listener(`${name}-http`, {
                loadBalancerArn: alb.arn,
                port: 80,
                protocol: "HTTP",
                defaultActions: forward,
                tags,
            }, parent);
            this.appsEndpoint = pulumi.interpolate`http://${alb.dnsName}/<app>/`;
        }

        this.dnsName = alb.dnsName;
        this.securityGroupId = group.id;
        this.registerOutputs({ dnsName: this.dnsName, appsEndpoint: this.appsEndpoint });
    }

    /** A DNS-validated ACM certificate for `*.<domain>` and `<domain>`. */
    private certificate(name: string, domain: { name: string; hostedZoneId: string }, tags: Record<string, string>): pulumi.Output<string> {
        const parent = { parent: this };
        const certificate = new aws.acm.Certificate(`${name}-apps`, {
            domainName: `*.${domain.name}`,
            subjectAlternativeNames: [domain.name],
            validationMethod: "DNS",
            tags,
        }, { parent: this });
        // The wildcard and the apex name share one validation record.
        const option = certificate.domainValidationOptions[0];
        const record = new aws.route53.Record(`${name}-apps-validation`, {
            zoneId: domain.hostedZoneId,
            name: option.resourceRecordName,
            type: option.resourceRecordType,
            records: [option.resourceRecordValue],
            ttl: 300,
            allowOverwrite: true,
        }, parent);
        return new aws.acm.CertificateValidation(`${name}-apps`, {
            certificateArn: certificate.arn,
            validationRecordFqdns: [record.fqdn],
        }, parent).certificateArn;
    }
}
