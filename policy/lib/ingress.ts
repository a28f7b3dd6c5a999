/**
 * Every way the AWS provider can open a security group for inbound traffic, flattened into one
 * shape so the network policies read a single list:
 * - `aws.vpc.SecurityGroupIngressRule` (one source: `cidrIpv4`, `cidrIpv6`, a group or a prefix list),
 * - inline `ingress` blocks of `aws.ec2.SecurityGroup` and `aws.ec2.DefaultSecurityGroup`,
 * - `aws.ec2.SecurityGroupRule` with `type: "ingress"`.
 * Sources that are security groups or prefix lists are kept as `other`: they are never public.
 */
import { ALL_PORTS, PortRange } from "./ports";
import { asArray, asNumber, asRecord, asString, Props } from "./props";

export const INGRESS_RULE_TYPE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
export const SECURITY_GROUP_TYPE = "aws:ec2/securityGroup:SecurityGroup";
export const DEFAULT_SECURITY_GROUP_TYPE = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup";
export const SECURITY_GROUP_RULE_TYPE = "aws:ec2/securityGroupRule:SecurityGroupRule";

export const INGRESS_TYPES: readonly string[] = [
    INGRESS_RULE_TYPE, SECURITY_GROUP_TYPE, DEFAULT_SECURITY_GROUP_TYPE, SECURITY_GROUP_RULE_TYPE,
];

export type IngressSource = { readonly kind: "cidr"; readonly cidr: string } | { readonly kind: "other" };

export interface IngressRule {
    readonly source: IngressSource;
    /** Lower-cased protocol as written: `tcp`, `udp`, `icmp`, `-1`, `6`, … */
    readonly protocol: string;
    /** TCP/UDP ports reached, or undefined for protocols without ports (ICMP). */
    readonly ports: PortRange | undefined;
    /** Where the rule is written, for messages: `ingress[1]` or `the rule`. */
    readonly where: string;
}

const ALL_PROTOCOLS = new Set(["-1", "all"]);
const PORT_PROTOCOLS = new Set(["tcp", "udp", "6", "17"]);

function portsOf(protocol: string, fromPort: unknown, toPort: unknown): PortRange | undefined {
    if (ALL_PROTOCOLS.has(protocol)) {
        return ALL_PORTS;
    }
    if (!PORT_PROTOCOLS.has(protocol)) {
        return undefined;
    }
    const from = asNumber(fromPort);
    const to = asNumber(toPort) ?? from;
    return from === undefined || to === undefined ? ALL_PORTS : { from, to };
}

/** True when the rule reaches TCP port `port` (all-protocol rules reach every port). */
export function reachesTcpPort(rule: IngressRule, port: number): boolean {
    const tcp = ALL_PROTOCOLS.has(rule.protocol) || rule.protocol === "tcp" || rule.protocol === "6";
    return tcp && rule.ports !== undefined && rule.ports.from <= port && port <= rule.ports.to;
}

function cidrSources(cidrs: unknown[]): IngressSource[] {
    return cidrs.map(asString).filter((c): c is string => c !== undefined).map((cidr) => ({ kind: "cidr", cidr }));
}

/** Rules of an inline block or `SecurityGroupRule`: `cidrBlocks`, `ipv6CidrBlocks`, groups, `self`. */
function blockRules(block: Props, where: string): IngressRule[] {
    const protocol = String(block.protocol ?? "").toLowerCase();
    const ports = portsOf(protocol, block.fromPort, block.toPort);
    const sources = [...cidrSources(asArray(block.cidrBlocks)), ...cidrSources(asArray(block.ipv6CidrBlocks))];
    const hasOther = block.self === true || asArray(block.securityGroups).length > 0 ||
        asArray(block.prefixListIds).length > 0 || "sourceSecurityGroupId" in block;
    if (hasOther || sources.length === 0) {
        sources.push({ kind: "other" });
    }
    return sources.map((source) => ({ source, protocol, ports, where }));
}

function vpcRule(props: Props): IngressRule[] {
    const protocol = String(props.ipProtocol ?? "").toLowerCase();
    const ports = portsOf(protocol, props.fromPort, props.toPort);
    const sources = cidrSources([props.cidrIpv4, props.cidrIpv6]);
    return (sources.length > 0 ? sources : [{ kind: "other" } as const])
        .map((source) => ({ source, protocol, ports, where: "the rule" }));
}

/** Ingress rules a resource of `type` with inputs `props` creates; empty for other types. */
export function ingressRulesOf(type: string, props: Props): IngressRule[] {
    switch (type) {
        case INGRESS_RULE_TYPE:
            return vpcRule(props);
        case SECURITY_GROUP_TYPE:
        case DEFAULT_SECURITY_GROUP_TYPE:
            return asArray(props.ingress).flatMap((block, i) => blockRules(asRecord(block) ?? {}, `ingress[${i}]`));
        case SECURITY_GROUP_RULE_TYPE:
            return props.type === "ingress" ? blockRules(props, "the rule") : [];
        default:
            return [];
    }
}

/** `0.0.0.0/0 to tcp ports 8500-8503 (ingress[0])`. */
export function describeRule(rule: IngressRule, range: string): string {
    const from = rule.source.kind === "cidr" ? rule.source.cidr : "a security group";
    const protocol = ALL_PROTOCOLS.has(rule.protocol) ? "all protocols" : rule.protocol;
    return `${from} to ${protocol} ${range} (${rule.where})`;
}
