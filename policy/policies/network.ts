/** Security-group ingress policies: what may come in from where. */
import { ReportViolation, ResourceValidation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { classifyCidr, parseCidr } from "../lib/cidr";
import { describeRule, INGRESS_TYPES, IngressRule, ingressRulesOf, reachesTcpPort } from "../lib/ingress";
import { formatRange, overlaps, PROTECTED_PORTS, PUBLIC_WEB_PORTS, SSH_PORT } from "../lib/ports";
import { stackConfigFromEnv, stackListSetting } from "../lib/stack";
import { configSchema, tunables } from "./config";

/** The stack setting that lists the operators' networks (validated by components/settings/config.ts). */
export const OPERATOR_CIDRS_KEY = "spin-cloud:operatorCidrs";

/** A validation over the flattened ingress rules of any security-group resource type. */
function validateIngress(check: (rules: IngressRule[], args: ResourceValidationArgs, report: ReportViolation) => void): ResourceValidation {
    return (args, report) => {
        if (!INGRESS_TYPES.includes(args.type)) {
            return args.notApplicable(`Policy only applies to ${INGRESS_TYPES.join(", ")}`);
        }
        check(ingressRulesOf(args.type, args.props), args, report);
    };
}

/**
 * The widest public IPv4 network that is not "the internet": the program refuses operator
 * networks wider than a /8 (components/settings/config.ts WIDEST_OPERATOR_PREFIX), so the pack
 * treats a wider public range (0.0.0.0/1, 0.0.0.0/4) as the internet. IPv6: wider than a /32.
 */
export const LARGEST_PUBLIC_PREFIX = 8;
const LARGEST_PUBLIC_PREFIX_V6 = 32;

/** `internet` for a /0 and for public ranges wider than LARGEST_PUBLIC_PREFIX; else the CIDR's class. */
export function sourceClass(rule: IngressRule) {
    if (rule.source.kind !== "cidr") {
        return "other";
    }
    const cls = classifyCidr(rule.source.cidr);
    const parsed = parseCidr(rule.source.cidr);
    const widest = parsed?.family === 6 ? LARGEST_PUBLIC_PREFIX_V6 : LARGEST_PUBLIC_PREFIX;
    return cls === "public" && parsed !== undefined && parsed.prefix < widest ? "internet" : cls;
}

/** True when the rule opens exactly one public web port (80 or 443) over TCP. */
export function isPublicWebPortOnly(rule: IngressRule): boolean {
    const tcp = rule.protocol === "tcp" || rule.protocol === "6";
    return tcp && rule.ports !== undefined && rule.ports.from === rule.ports.to && PUBLIC_WEB_PORTS.includes(rule.ports.from);
}

export const noPublicIngress: ResourceValidationPolicy = {
    name: "no-public-ingress",
    description: "Ingress from 0.0.0.0/0, ::/0 or a public range wider than a /8 (IPv6: /32) is allowed on TCP 80 or 443 only, one port per rule.",
    enforcementLevel: "mandatory",
    validateResource: validateIngress((rules, args, report) => {
        for (const rule of rules.filter((r) => sourceClass(r) === "internet" && !isPublicWebPortOnly(r))) {
            const range = rule.ports ? formatRange(rule.ports) : "(no ports)";
            report(`${args.type} '${args.name}' admits ${describeRule(rule, range)} from the whole internet (or a public range wider than a /${LARGEST_PUBLIC_PREFIX}). ` +
                `Only a load balancer's security group may be public, on tcp 80/443 one port per rule; ` +
                `reach anything else through the load balancer or SSM Session Manager.`);
        }
    }),
};

export const noSshIngress: ResourceValidationPolicy = {
    name: "no-ssh-ingress",
    description: "No security group admits TCP port 22 from anywhere: operators use SSM Session Manager.",
    enforcementLevel: "mandatory",
    validateResource: validateIngress((rules, args, report) => {
        for (const rule of rules.filter((r) => reachesTcpPort(r, SSH_PORT))) {
            report(`${args.type} '${args.name}' admits SSH: ${describeRule(rule, formatRange(rule.ports!))}. ` +
                `Remove it (narrow the port range if 22 is only inside it); open a shell with ` +
                `'aws ssm start-session' (stack output operatorCommands.shell) instead.`);
        }
    }),
};

/**
 * Operator networks: the stack's `spin-cloud:operatorCidrs` (stack config reaches the pack as
 * `PULUMI_CONFIG`) and the policy config's `operatorCidrs`. Never a /0.
 */
export function operatorNetworks(policyConfig: readonly string[], stackConfig: Record<string, string>): Set<string> {
    return new Set([...policyConfig, ...stackListSetting(stackConfig, OPERATOR_CIDRS_KEY)]
        .map((c) => c.trim()).filter((c) => classifyCidr(c) !== "internet"));
}

export const clusterPortsNotPublic: ResourceValidationPolicy = {
    name: "cluster-ports-not-public",
    description: "Nomad (4646-4648), Consul (8300-8302, 8500-8503, 8600) and Bindle ports admit private sources and operator networks only.",
    enforcementLevel: "mandatory",
    configSchema: configSchema("operatorCidrs"),
    validateResource: validateIngress((rules, args, report) => {
        const operators = operatorNetworks(tunables(args.getConfig, "operatorCidrs").operatorCidrs, stackConfigFromEnv());
        for (const rule of rules) {
            const source = sourceClass(rule);
            const isOperator = rule.source.kind === "cidr" && operators.has(rule.source.cidr.trim());
            if (isOperator || (source !== "internet" && source !== "public" && source !== "invalid")) {
                continue;
            }
            for (const protectedRange of PROTECTED_PORTS.filter((p) => rule.ports && overlaps(rule.ports, p))) {
                report(`${args.type} '${args.name}' admits ${describeRule(rule, formatRange(rule.ports!))}, which ` +
                    `includes ${protectedRange.service} ${formatRange(protectedRange)}, from a network that is neither ` +
                    `private nor an operator network (${OPERATOR_CIDRS_KEY}). Admit these ports from the cluster's ` +
                    `security groups, the VPC CIDR or the operators' networks only.`);
            }
        }
    }),
};
