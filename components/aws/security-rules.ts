import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Where a rule's traffic comes from (ingress) or goes to (egress). */
export type Peer = { readonly group: pulumi.Input<string> } | { readonly cidr: pulumi.Input<string> };

export interface PortRule {
    /** The security group the rule belongs to. */
    readonly securityGroupId: pulumi.Input<string>;
    readonly peer: Peer;
    readonly port: number;
    readonly toPort?: number;
    readonly protocol?: "tcp" | "udp" | "-1";
    readonly description: string;
}

function ruleArgs(rule: PortRule) {
    const all = rule.protocol === "-1";
    return {
        securityGroupId: rule.securityGroupId,
        ...("group" in rule.peer ? { referencedSecurityGroupId: rule.peer.group } : { cidrIpv4: rule.peer.cidr }),
        ipProtocol: rule.protocol ?? "tcp",
        fromPort: all ? undefined : rule.port,
        toPort: all ? undefined : rule.toPort ?? rule.port,
        description: rule.description,
    };
}

/** One ingress rule as its own resource (so rules of several components can share a group). */
export function allowIn(name: string, rule: PortRule, parent: pulumi.Resource): aws.vpc.SecurityGroupIngressRule {
    return new aws.vpc.SecurityGroupIngressRule(name, ruleArgs(rule), { parent });
}

/** One egress rule as its own resource. */
export function allowOut(name: string, rule: PortRule, parent: pulumi.Resource): aws.vpc.SecurityGroupEgressRule {
    return new aws.vpc.SecurityGroupEgressRule(name, ruleArgs(rule), { parent });
}

/**
 * A security group with no inline rules. Like Terraform, the provider removes the default
 * allow-all egress of a group it creates: callers add exactly the egress they need.
 */
export function securityGroup(name: string, vpcId: pulumi.Input<string>, description: string, tags: Record<string, string>, parent: pulumi.Resource): aws.ec2.SecurityGroup {
    return new aws.ec2.SecurityGroup(name, { vpcId, description, tags }, { parent });
}
