/**
 * The platform's traffic, flow by flow, against the security-group rules the shipped stacks
 * register. A flow (source, destination, port) passes when the destination's group admits it
 * (a rule whose peer is the source's group or a CIDR holding the source's address) and, for a
 * source with a group, that group lets it out. This is how EC2 evaluates security groups
 * (stateful, allow-only, union of rules; "Security group rules" in the VPC user guide).
 */
import * as assert from "assert";
import { cidrContains, parseIpv4Cidr, planSubnets } from "../../components/settings/cidr";
import { MockRun, ofType } from "../harness/mocks";
import { shippedStack } from "../harness/shipped-stacks";

import { TEST_OPERATOR_CIDRS } from "../harness/stack-config";

type Endpoint = "internet" | "operator" | "publicLb" | "operatorLb" | "server" | "client" | "efs";
type Protocol = "tcp" | "udp";

/** Security group (logical name) of each endpoint that has one. */
const GROUPS: Partial<Record<Endpoint, string>> = {
    publicLb: "spin-cloud-ingress-alb",
    operatorLb: "spin-cloud-operator-nlb",
    server: "spin-cloud-net-server",
    client: "spin-cloud-net-client",
    efs: "spin-cloud-bindle-storage-efs",
};

interface Rule { group: string; peerGroup?: string; cidr?: string; protocol: string; from?: number; to?: number }

class Firewall {
    private readonly ingress: Rule[];
    private readonly egress: Rule[];
    private readonly addresses: Record<Endpoint, string>;

    constructor(run: MockRun, vpcCidr: string) {
        const groupNames = new Map(ofType(run, "aws:ec2/securityGroup:SecurityGroup").map((g) => [`${g.name}-id`, g.name]));
        const rules = (type: string): Rule[] => ofType(run, type).map((r) => ({
            group: groupNames.get(r.inputs.securityGroupId as string) ?? `unknown:${r.inputs.securityGroupId}`,
            peerGroup: r.inputs.referencedSecurityGroupId === undefined ? undefined : groupNames.get(r.inputs.referencedSecurityGroupId as string),
            cidr: r.inputs.cidrIpv4 as string | undefined,
            protocol: r.inputs.ipProtocol as string,
            from: r.inputs.fromPort as number | undefined,
            to: r.inputs.toPort as number | undefined,
        }));
        this.ingress = rules("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
        this.egress = rules("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule");
        const plan = planSubnets(vpcCidr, 2);
        const host = (cidr: string) => cidr.replace(/\.0\/\d+$/, ".10");
        this.addresses = {
            internet: "8.8.8.8", operator: TEST_OPERATOR_CIDRS[0].replace(/\.0\/\d+$/, ".7"),
            publicLb: host(plan.publicSubnets[0]), operatorLb: host(plan.publicSubnets[1]),
            server: host(plan.privateSubnets[0]), client: host(plan.privateSubnets[1]), efs: host(plan.privateSubnets[0]).replace(/10$/, "20"),
        };
    }

    private matches(rule: Rule, peer: Endpoint, port: number, protocol: Protocol): boolean {
        const peerOk = rule.peerGroup !== undefined
            ? rule.peerGroup === GROUPS[peer]
            : rule.cidr !== undefined && cidrContains(parseIpv4Cidr(rule.cidr)!, parseIpv4Cidr(`${this.addresses[peer]}/32`)!);
        const portOk = rule.protocol === "-1" || (rule.protocol === protocol && rule.from! <= port && port <= rule.to!);
        return peerOk && portOk;
    }

    admits(source: Endpoint, destination: Endpoint, port: number, protocol: Protocol = "tcp"): boolean {
        const into = GROUPS[destination];
        const outOf = GROUPS[source];
        const admitted = into === undefined || this.ingress.some((r) => r.group === into && this.matches(r, source, port, protocol));
        const leaves = outOf === undefined || this.egress.some((r) => r.group === outOf && this.matches(r, destination, port, protocol));
        return admitted && leaves;
    }
}

type Flow = readonly [Endpoint, Endpoint, number, Protocol?, string?];

/** What the platform does, and so must pass. */
const OPEN: readonly Flow[] = [
    ["internet", "publicLb", 80, "tcp", "app traffic"],
    ["publicLb", "client", 8080, "tcp", "ALB to Traefik web"],
    ["publicLb", "client", 8082, "tcp", "ALB health check of Traefik /ping"],
    ["client", "client", 8085, "tcp", "Nomad client downloads parcels from Bindle on another client"],
    ["client", "client", 20000, "tcp", "Traefik to an app allocation on another client"],
    ["client", "client", 32000, "tcp", "Traefik to an app allocation (top of the dynamic range)"],
    ["operator", "operatorLb", 4646, "tcp", "operator to Nomad"],
    ["operator", "operatorLb", 8501, "tcp", "operator to Consul"],
    ["operator", "operatorLb", 8081, "tcp", "operator to the Traefik dashboard"],
    ["operator", "operatorLb", 8085, "tcp", "operator (and pulumi up) to Bindle"],
    ["operatorLb", "server", 4646, "tcp", "operator endpoint to Nomad"],
    ["operatorLb", "server", 8501, "tcp", "operator endpoint to Consul"],
    ["operatorLb", "client", 8081, "tcp", "operator endpoint to the Traefik dashboard"],
    ["operatorLb", "client", 8085, "tcp", "operator endpoint to Bindle"],
    ["server", "server", 4647, "tcp", "Nomad RPC / Raft"],
    ["server", "server", 4648, "tcp", "Nomad Serf"],
    ["server", "server", 4648, "udp", "Nomad Serf"],
    ["server", "server", 8300, "tcp", "Consul RPC / Raft"],
    ["server", "server", 8301, "udp", "Consul LAN gossip"],
    ["server", "server", 8302, "tcp", "Consul WAN gossip"],
    ["client", "server", 4647, "tcp", "Nomad client RPC"],
    ["client", "server", 8300, "tcp", "Consul client RPC (and auto_encrypt)"],
    ["client", "server", 8301, "tcp", "Consul LAN gossip"],
    ["server", "client", 8301, "udp", "Consul LAN gossip"],
    ["client", "client", 8301, "udp", "Consul LAN gossip"],
    ["server", "client", 4647, "tcp", "Nomad servers to client RPC (alloc logs, exec)"],
    ["client", "efs", 2049, "tcp", "Bindle's host volume on EFS"],
];

/** What nothing needs, and so must stay closed. */
const CLOSED: readonly Flow[] = [
    ["internet", "publicLb", 8085], ["internet", "publicLb", 8080], ["internet", "operatorLb", 4646],
    ["internet", "operatorLb", 8085], ["internet", "client", 8080], ["internet", "client", 8085],
    ["internet", "server", 4646], ["internet", "server", 8501], ["internet", "efs", 2049],
    ["internet", "client", 22], ["operator", "server", 22], ["operator", "client", 4646],
    ["publicLb", "client", 8085, "tcp", "apps' load balancer to Bindle"],
    ["publicLb", "client", 8081, "tcp", "apps' load balancer to the dashboard"],
    ["publicLb", "client", 20000, "tcp", "apps' load balancer straight to an allocation"],
    ["publicLb", "server", 4646], ["publicLb", "server", 8501],
    ["operatorLb", "client", 8080], ["operatorLb", "server", 4647],
    ["client", "server", 4646, "tcp", "workloads on a client to Nomad's API on the servers"],
    ["server", "client", 8085, "tcp", "servers need no parcels"],
    ["server", "client", 20000, "tcp", "servers to allocations"],
    ["server", "efs", 2049],
    ["client", "server", 4648, "tcp", "server-only Serf"], ["client", "server", 8302, "tcp", "WAN gossip"],
];

describe("network flows of the platform", () => {
    for (const stack of ["dev", "prod"]) {
        describe(`stack ${stack}`, () => {
            let firewall: Firewall;
            before(async () => {
                const run = await shippedStack(stack, { exampleApp: false });
                const [vpc] = ofType(run, "aws:ec2/vpc:Vpc");
                firewall = new Firewall(run, vpc.inputs.cidrBlock as string);
            });

            it("admits every flow the platform uses", () => {
                const blocked = OPEN.filter(([s, d, port, protocol]) => !firewall.admits(s, d, port, protocol ?? "tcp"));
                assert.deepStrictEqual(blocked.map((f) => `${f[0]} -> ${f[1]}:${f[2]}/${f[3] ?? "tcp"} (${f[4]})`), []);
            });

            it("keeps every other flow in the table closed", () => {
                const open = CLOSED.filter(([s, d, port, protocol]) => firewall.admits(s, d, port, protocol ?? "tcp"));
                assert.deepStrictEqual(open.map((f) => `${f[0]} -> ${f[1]}:${f[2]}/${f[3] ?? "tcp"} ${f[4] ?? ""}`), []);
            });

            it(`serves 443 to the internet only with a domain (${stack})`, () => {
                assert.strictEqual(firewall.admits("internet", "publicLb", 443), stack === "prod");
            });
        });
    }
});
