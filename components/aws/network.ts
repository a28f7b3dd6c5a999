import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { NodeRole } from "../../provisioning/types";
import { planSubnets } from "../settings/cidr";
import { NatGatewayMode } from "../settings/config";
import { CLUSTER_RULES, NOMAD_DYNAMIC_PORTS } from "./network-rules";
import { allowIn, allowOut, securityGroup } from "./security-rules";

export interface NetworkArgs {
    /** IPv4 CIDR of the VPC (validated by `resolveSpinCloudArgs`). */
    cidr: string;
    /** Number of availability zones to use (2–6). */
    availabilityZoneCount: number;
    /** One NAT gateway, or one per zone. */
    natGateways: NatGatewayMode;
    /** Tags added to every resource. */
    tags: Record<string, string>;
}

/**
 * A VPC over several availability zones: public subnets for load balancers, private subnets for
 * nodes behind NAT, and one security group per node role that admits only the cluster ports
 * that role serves. No SSH anywhere: operators use SSM Session Manager.
 */
export class Network extends pulumi.ComponentResource {
    readonly vpcId: pulumi.Output<string>;
    readonly vpcCidr: string;
    readonly availabilityZones: pulumi.Output<string[]>;
    readonly publicSubnetIds: pulumi.Output<string>[];
    readonly privateSubnetIds: pulumi.Output<string>[];
    readonly securityGroupIds: Record<NodeRole, pulumi.Output<string>>;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:network:Network", name, {}, opts);
        const parent = { parent: this };
        const tags = (suffix: string) => ({ ...args.tags, Name: `${name}-${suffix}` });
        const plan = planSubnets(args.cidr, args.availabilityZoneCount);

        const zones = aws.getAvailabilityZonesOutput({
            state: "available",
            filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }],
        }, parent).apply((result) => {
            if (result.names.length < args.availabilityZoneCount) {
                throw new pulumi.ResourceError(
                    `availabilityZoneCount is ${args.availabilityZoneCount} but this region has only ` +
                    `${result.names.length} available zones (${result.names.join(", ")})`, this);
            }
            return result.names.slice(0, args.availabilityZoneCount);
        });

        const vpc = new aws.ec2.Vpc(`${name}-vpc`, {
            cidrBlock: args.cidr,
            enableDnsHostnames: true,
            enableDnsSupport: true,
            tags: tags("vpc"),
        }, parent);
        // Take every rule away from the VPC's default group so nothing can use it by accident.
        new aws.ec2.DefaultSecurityGroup(`${name}-default-sg`, { vpcId: vpc.id, tags: tags("default-deny") }, parent);
        const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: tags("igw") }, parent);

        const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, {
            vpcId: vpc.id,
            routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
            tags: tags("public"),
        }, parent);
        const publicSubnets = plan.publicSubnets.map((cidr, i) => {
            const subnet = new aws.ec2.Subnet(`${name}-public-${i}`, {
                vpcId: vpc.id,
                cidrBlock: cidr,
                availabilityZone: zones.apply((z) => z[i]),
                mapPublicIpOnLaunch: false,
                tags: { ...tags(`public-${i}`), "spin-cloud:tier": "public" },
            }, parent);
            new aws.ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: subnet.id, routeTableId: publicRoutes.id }, parent);
            return subnet;
        });

        const natCount = args.natGateways === "perAz" ? args.availabilityZoneCount : 1;
        const nats = publicSubnets.slice(0, natCount).map((subnet, i) => {
            const eip = new aws.ec2.Eip(`${name}-nat-${i}`, { domain: "vpc", tags: tags(`nat-${i}`) }, parent);
            return new aws.ec2.NatGateway(`${name}-nat-${i}`, {
                allocationId: eip.id,
                subnetId: subnet.id,
                tags: tags(`nat-${i}`),
            }, { parent: this, dependsOn: [igw] });
        });

        const privateSubnets = plan.privateSubnets.map((cidr, i) => {
            const subnet = new aws.ec2.Subnet(`${name}-private-${i}`, {
                vpcId: vpc.id,
                cidrBlock: cidr,
                availabilityZone: zones.apply((z) => z[i]),
                tags: { ...tags(`private-${i}`), "spin-cloud:tier": "private" },
            }, parent);
            const routes = new aws.ec2.RouteTable(`${name}-private-${i}`, {
                vpcId: vpc.id,
                routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nats[i % natCount].id }],
                tags: tags(`private-${i}`),
            }, parent);
            new aws.ec2.RouteTableAssociation(`${name}-private-${i}`, { subnetId: subnet.id, routeTableId: routes.id }, parent);
            return subnet;
        });

        const nodeGroup = (role: NodeRole) => {
            const group = securityGroup(`${name}-${role}`, vpc.id, `spin-cloud ${role} nodes`, tags(role), this);
            // Nodes reach the internet through NAT for packages and AWS APIs (SSM, EC2 auto-join).
            allowOut(`${name}-${role}-egress`, {
                securityGroupId: group.id, peer: { cidr: "0.0.0.0/0" }, port: 0, protocol: "-1", description: "All outbound (through NAT)",
            }, this);
            return group;
        };
        const groups = { server: nodeGroup("server"), client: nodeGroup("client") };
        // Allocations' dynamic ports: only Traefik, on the clients, forwards to them (the load
        // balancers reach Traefik's static ports, never an allocation).
        allowIn(`${name}-client-dynamic-ports`, {
            securityGroupId: groups.client.id,
            peer: { group: groups.client.id },
            port: NOMAD_DYNAMIC_PORTS.from,
            toPort: NOMAD_DYNAMIC_PORTS.to,
            description: "Nomad dynamic ports from the clients (Traefik to app allocations)",
        }, this);
        for (const rule of CLUSTER_RULES) {
            for (const from of rule.from) {
                for (const protocol of rule.protocols) {
                    allowIn(`${name}-${rule.to}-${rule.port}-${protocol}-from-${from}`, {
                        securityGroupId: groups[rule.to].id,
                        peer: { group: groups[from].id },
                        protocol,
                        port: rule.port,
                        toPort: rule.toPort,
                        description: `${rule.description} from ${from}s`,
                    }, this);
                }
            }
        }

        this.vpcId = vpc.id;
        this.vpcCidr = args.cidr;
        this.availabilityZones = zones;
        this.publicSubnetIds = publicSubnets.map((s) => s.id);
        this.privateSubnetIds = privateSubnets.map((s) => s.id);
        this.securityGroupIds = { server: groups.server.id, client: groups.client.id };
        this.registerOutputs({
            vpcId: this.vpcId,
            publicSubnetIds: this.publicSubnetIds,
            privateSubnetIds: this.privateSubnetIds,
            securityGroupIds: this.securityGroupIds,
        });
    }
}
