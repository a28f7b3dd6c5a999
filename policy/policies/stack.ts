/** Stack policies: checks that need several resources at once. */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { classifyCidr } from "../lib/cidr";
import { DEFAULT_SECURITY_GROUP_TYPE, INGRESS_TYPES, ingressRulesOf, SECURITY_GROUP_TYPE } from "../lib/ingress";
import { describeResource } from "../lib/props";
import {
    LOAD_BALANCER_ROLE, referencedResource, referencedResources, ROLE_TAG, roleOf, SERVER_ROLE, stackConfigFromEnv,
    stackNameOf,
} from "../lib/stack";
import { configSchema, tunables } from "./config";
import { isPublicWebPortOnly } from "./network";

const INSTANCE_TYPE = "aws:ec2/instance:Instance";
const SUBNET_TYPE = "aws:ec2/subnet:Subnet";
const GROUP_TYPES = [SECURITY_GROUP_TYPE, DEFAULT_SECURITY_GROUP_TYPE];
const LOAD_BALANCER_TYPES = ["aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"];

/** The stack config key and value that mark a stack as a local target (no cloud quorum to keep). */
export const TARGET_CONFIG_KEY = "spin-cloud:target";
export const LOCAL_TARGET = "local";

/**
 * The explicit exemption of the server quorum policy: a stack is a local target when its stack
 * config sets `spin-cloud:target: local`, or when the policy config lists it in `localStacks`.
 */
export function isLocalTarget(stack: string | undefined, stackConfig: Record<string, string>, localStacks: readonly string[]): boolean {
    return stackConfig[TARGET_CONFIG_KEY] === LOCAL_TARGET || (stack !== undefined && localStacks.includes(stack));
}

/** The availability zone of a server: its subnet's `availabilityZone`, else its own output. */
function zoneOf(server: PolicyResource, resources: readonly PolicyResource[]): string | undefined {
    const subnet = referencedResource(server, "subnetId", resources, [SUBNET_TYPE]);
    const zone = subnet ? subnet.props.availabilityZone : server.props.availabilityZone;
    return typeof zone === "string" ? zone : undefined;
}

export const serverQuorum: StackValidationPolicy = {
    name: "nomad-servers-odd-multi-az",
    description: "Nomad/Consul servers (instances tagged spin-cloud:role=server) are an odd number >= 3 over >= 2 AZs.",
    enforcementLevel: "mandatory",
    configSchema: configSchema("localStacks"),
    validateStack: (args, report) => {
        const { localStacks } = tunables(args.getConfig, "localStacks");
        const stack = stackNameOf(args.resources);
        if (isLocalTarget(stack, stackConfigFromEnv(), localStacks)) {
            return args.notApplicable(`stack '${stack}' is a local target (${TARGET_CONFIG_KEY}: ${LOCAL_TARGET} or policy config localStacks)`);
        }
        const servers = args.resources.filter((r) => r.type === INSTANCE_TYPE && roleOf(r.props) === SERVER_ROLE);
        if (servers.length === 0) {
            return args.notApplicable(`no instance tagged ${ROLE_TAG}=${SERVER_ROLE}`);
        }
        if (servers.length < 3 || servers.length % 2 === 0) {
            report(`Stack '${stack}' has ${servers.length} Nomad/Consul servers; Raft needs an odd number of at least 3 ` +
                `to keep a majority through one failure. Set spin-cloud:serverCount to 3 or 5.`);
        }
        const zones = servers.map((s) => zoneOf(s, args.resources));
        const unknown = servers.filter((_, i) => zones[i] === undefined);
        for (const server of unknown) {
            report(`Cannot tell the availability zone of server ${describeResource(server.name, server.type)}: its subnetId ` +
                `matches no aws.ec2.Subnet of this stack. Place servers in the stack's own private subnets.`, server.urn);
        }
        const distinct = new Set(zones.filter((z) => z !== undefined));
        if (unknown.length === 0 && distinct.size < 2) {
            report(`Stack '${stack}' runs all ${servers.length} servers in ${[...distinct].join(", ") || "one zone"}; ` +
                `a zone outage would take the whole control plane down. Spread them over at least 2 availability ` +
                `zones (spin-cloud:availabilityZoneCount >= 2).`);
        }
    },
};

/** True when `group` belongs to a load balancer: tagged so, or attached to an ELBv2 load balancer. */
function isLoadBalancerGroup(group: PolicyResource, resources: readonly PolicyResource[]): boolean {
    if (roleOf(group.props) === LOAD_BALANCER_ROLE) {
        return true;
    }
    return resources.filter((r) => LOAD_BALANCER_TYPES.includes(r.type))
        .some((lb) => referencedResources(lb, "securityGroups", resources, GROUP_TYPES).includes(group));
}

/** The security group an ingress resource adds rules to. */
function groupOf(resource: PolicyResource, resources: readonly PolicyResource[]): PolicyResource | undefined {
    return GROUP_TYPES.includes(resource.type)
        ? resource
        : referencedResource(resource, "securityGroupId", resources, GROUP_TYPES);
}

export const publicIngressOnlyOnLoadBalancer: StackValidationPolicy = {
    name: "public-ingress-only-on-load-balancer",
    description: "Internet ingress on 80/443 is only allowed on a load balancer's security group.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        for (const resource of args.resources.filter((r) => INGRESS_TYPES.includes(r.type))) {
            const publicWeb = ingressRulesOf(resource.type, resource.props)
                .filter((rule) => rule.source.kind === "cidr" && classifyCidr(rule.source.cidr) === "internet" && isPublicWebPortOnly(rule));
            if (publicWeb.length === 0) {
                continue;
            }
            const group = groupOf(resource, args.resources);
            if (!group || !isLoadBalancerGroup(group, args.resources)) {
                const target = group ? `security group '${group.name}'` : "a security group outside this stack";
                report(`${describeResource(resource.name, resource.type)} opens tcp ${publicWeb.map((r) => r.ports?.from).join(", ")} ` +
                    `to the internet on ${target}, which is not a load balancer's. Put public listeners on a load ` +
                    `balancer whose group is tagged ${ROLE_TAG}=${LOAD_BALANCER_ROLE} or listed in its securityGroups.`, resource.urn);
            }
        }
    },
};
