/**
 * Stack policies over several AWS resources: HTTP listeners of a load balancer with a domain must
 * redirect to HTTPS, and public CIDRs must not add up to a large range on a private port.
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { addressCount, classifyCidr, parseCidr } from "../lib/cidr";
import { DEFAULT_SECURITY_GROUP_TYPE, INGRESS_TYPES, IngressRule, ingressRulesOf, SECURITY_GROUP_TYPE } from "../lib/ingress";
import { formatRange } from "../lib/ports";
import { asString, describeResource, Props } from "../lib/props";
import { referencedResource, stackConfigFromEnv } from "../lib/stack";
import { ELBV2_TYPES, httpActionProblems } from "./aws-guard";
import { configSchema, tunables } from "./config";
import { isPublicWebPortOnly, LARGEST_PUBLIC_PREFIX, operatorNetworks } from "./network";

export const LISTENER_TYPES: readonly string[] = ["aws:lb/listener:Listener", "aws:alb/listener:Listener"];
export const LISTENER_RULE_TYPES: readonly string[] = ["aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule"];
/** The stack setting that gives the cloud a domain (validated by components/settings/config.ts). */
export const APPS_DOMAIN_KEY = "spin-cloud:appsDomain";

/** A resource referenced by an ARN input: the dependency graph, else the candidates' `arn` output. */
function byArn(resource: PolicyResource, prop: string, resources: readonly PolicyResource[], types: readonly string[]): PolicyResource | undefined {
    const viaGraph = referencedResource(resource, prop, [], types);
    if (viaGraph) {
        return viaGraph;
    }
    const arn = asString(resource.props[prop]);
    return arn === undefined ? undefined : resources.find((r) => types.includes(r.type) && r.props.arn === arn);
}

/** An ELBv2 listener's protocol: as written, else HTTP on an application load balancer (the API's default). */
function listenerProtocol(listener: Props, loadBalancer: PolicyResource | undefined): string {
    const written = asString(listener.protocol);
    if (written) {
        return written.toUpperCase();
    }
    return loadBalancer === undefined || (loadBalancer.props.loadBalancerType ?? "application") === "application" ? "HTTP" : "TCP";
}

export const albHttpToHttpsRedirection: StackValidationPolicy = {
    name: "alb-http-to-https-redirection",
    description: "With a domain (spin-cloud:appsDomain, or an HTTPS listener on the same load balancer), HTTP listeners only redirect to HTTPS.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const listeners = args.resources.filter((r) => LISTENER_TYPES.includes(r.type))
            .map((l) => ({ listener: l, lb: byArn(l, "loadBalancerArn", args.resources, ELBV2_TYPES) }))
            .map((x) => ({ ...x, protocol: listenerProtocol(x.listener.props, x.lb) }));
        const domain = asString(stackConfigFromEnv()[APPS_DOMAIN_KEY])?.trim();
        const hasHttps = (lb: PolicyResource | undefined) =>
            listeners.some((x) => x.protocol === "HTTPS" && (lb === undefined || x.lb === undefined || x.lb === lb));
        for (const { listener, lb, protocol } of listeners.filter((x) => x.protocol === "HTTP")) {
            if (!domain && !hasHttps(lb)) {
                continue;
            }
            const why = domain ? `the stack has a domain (${APPS_DOMAIN_KEY}: ${domain})` : "its load balancer serves HTTPS";
            const problem = httpActionProblems(listener.props.defaultActions);
            if (problem) {
                report(`${describeResource(listener.name, listener.type)} listens on ${protocol} port ${listener.props.port ?? 80} and ` +
                    `${problem}, although ${why}. Make its only default action { type: "redirect", redirect: { protocol: ` +
                    `"HTTPS", port: "443", statusCode: "HTTP_301" } }.`, listener.urn);
            }
            for (const rule of args.resources.filter((r) => LISTENER_RULE_TYPES.includes(r.type) && byArn(r, "listenerArn", args.resources, LISTENER_TYPES) === listener)) {
                const ruleProblem = httpActionProblems(rule.props.actions);
                if (ruleProblem) {
                    report(`${describeResource(rule.name, rule.type)} on HTTP listener '${listener.name}' ${ruleProblem}, so it serves ` +
                        `plain HTTP although ${why}. Remove the rule, or attach it to the HTTPS listener.`, rule.urn);
                }
            }
        }
    },
};

const GROUP_TYPES = [SECURITY_GROUP_TYPE, DEFAULT_SECURITY_GROUP_TYPE];

/** The security group a rule resource adds to: itself, its graph dependency, or the literal id. */
function groupKey(resource: PolicyResource, resources: readonly PolicyResource[]): string {
    if (GROUP_TYPES.includes(resource.type)) {
        return `resource:${resource.urn}`;
    }
    const group = referencedResource(resource, "securityGroupId", resources, GROUP_TYPES);
    return group ? `resource:${group.urn}` : `id:${String(resource.props.securityGroupId ?? resource.urn)}`;
}

interface PublicGrant {
    readonly resource: PolicyResource;
    readonly rule: IngressRule;
    readonly cidr: string;
}

/** Protocol and port range of a rule, as a key: rules on the same ports add up. */
function portKey(rule: IngressRule): string {
    const protocol = ["-1", "all"].includes(rule.protocol) ? "all" : rule.protocol === "6" ? "tcp" : rule.protocol === "17" ? "udp" : rule.protocol;
    return `${protocol} ${rule.ports ? formatRange(rule.ports) : "(no ports)"}`;
}

export const publicRangesInAggregate: StackValidationPolicy = {
    name: "no-public-ingress-in-aggregate",
    description: `Public CIDRs admitted to the same group and ports do not add up to more than a /${LARGEST_PUBLIC_PREFIX} on anything but tcp 80/443.`,
    enforcementLevel: "mandatory",
    configSchema: configSchema("operatorCidrs"),
    validateStack: (args, report) => {
        const operators = operatorNetworks(tunables(args.getConfig, "operatorCidrs").operatorCidrs, stackConfigFromEnv());
        const grants = new Map<string, PublicGrant[]>();
        for (const resource of args.resources.filter((r) => INGRESS_TYPES.includes(r.type))) {
            for (const rule of ingressRulesOf(resource.type, resource.props)) {
                if (rule.source.kind !== "cidr" || isPublicWebPortOnly(rule)) {
                    continue;
                }
                const cidr = rule.source.cidr.trim();
                const parsed = parseCidr(cidr);
                // A single range this large is no-public-ingress's; operator networks are vetted (at most a /8).
                if (!parsed || classifyCidr(cidr) !== "public" || parsed.prefix < (parsed.family === 4 ? LARGEST_PUBLIC_PREFIX : 32) ||
                    operators.has(cidr)) {
                    continue;
                }
                const key = `${groupKey(resource, args.resources)} ${portKey(rule)} v${parsed.family}`;
                grants.set(key, [...(grants.get(key) ?? []), { resource, rule, cidr }]);
            }
        }
        for (const [key, list] of grants) {
            const family = key.endsWith("v4") ? 4 : 6;
            const limit = 2n ** BigInt(family === 4 ? 32 - LARGEST_PUBLIC_PREFIX : 128 - 32);
            const total = addressCount(list.map((g) => g.cidr));
            if (total > limit) {
                const names = [...new Set(list.map((g) => `'${g.resource.name}'`))].join(", ");
                report(`Ingress ${names} together admit ${total} public addresses (${list.map((g) => g.cidr).join(", ")}) to ` +
                    `${portKey(list[0].rule)}, more than a /${family === 4 ? LARGEST_PUBLIC_PREFIX : 32}: that is public ingress ` +
                    `in all but name. Admit the operators' own networks only, or go through the load balancer.`, list[0].resource.urn);
            }
        }
    },
};
