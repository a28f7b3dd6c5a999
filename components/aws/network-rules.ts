/**
 * Which node talks to which on what port. Data, so the Network component, the tests and the
 * policy pack read one table. Ports: Consul's and Nomad's documented defaults.
 *
 * Besides the agents' own traffic, three platform flows run between clients (the third: Spin to
 * the platform libSQL server, below): the Nomad client
 * that runs an app's allocation downloads its parcels from Bindle, which runs on one (any)
 * client (`http://bindle.service.consul:8085`, provisioning/jobs/spin-app-job.ts artifacts), and
 * Traefik on every client forwards to the allocations' dynamic ports on every client.
 * test/aws/network-flows.test.ts checks the flows, open and closed, against the rules.
 */
import { BINDLE_PORT, LIBSQL_PORTS } from "../../provisioning/platform";
import { NodeRole } from "../../provisioning/types";

export type Protocol = "tcp" | "udp";

export interface ClusterRule {
    /** Role whose security group receives the traffic. */
    readonly to: NodeRole;
    /** Roles allowed to send it. */
    readonly from: readonly NodeRole[];
    readonly port: number;
    readonly toPort?: number;
    readonly protocols: readonly Protocol[];
    readonly description: string;
}

const ALL: readonly NodeRole[] = ["server", "client"];
const SERVERS: readonly NodeRole[] = ["server"];
const CLIENTS: readonly NodeRole[] = ["client"];

function onEveryRole(rule: Omit<ClusterRule, "to">): ClusterRule[] {
    return ALL.map((to) => ({ ...rule, to }));
}

/** Nomad's default dynamic port range for allocations (client `min_dynamic_port`/`max_dynamic_port`). */
export const NOMAD_DYNAMIC_PORTS = { from: 20000, to: 32000 } as const;

export const CLUSTER_RULES: readonly ClusterRule[] = [
    // Nomad's HTTP API on the servers: operators come through the operator endpoint (its own
    // rule); no client, and so no workload on a client, needs it.
    { to: "server", from: SERVERS, port: 4646, protocols: ["tcp"], description: "Nomad HTTP API" },
    ...onEveryRole({ from: ALL, port: 4647, protocols: ["tcp"], description: "Nomad RPC" }),
    { to: "server", from: SERVERS, port: 4648, protocols: ["tcp", "udp"], description: "Nomad server gossip (Serf WAN)" },
    { to: "server", from: ALL, port: 8300, protocols: ["tcp"], description: "Consul server RPC" },
    ...onEveryRole({ from: ALL, port: 8301, protocols: ["tcp", "udp"], description: "Consul LAN gossip" }),
    { to: "server", from: SERVERS, port: 8302, protocols: ["tcp", "udp"], description: "Consul WAN gossip" },
    ...onEveryRole({ from: ALL, port: 8500, protocols: ["tcp"], description: "Consul HTTP API" }),
    ...onEveryRole({ from: ALL, port: 8501, protocols: ["tcp"], description: "Consul HTTPS API" }),
    ...onEveryRole({ from: ALL, port: 8503, protocols: ["tcp"], description: "Consul gRPC (TLS)" }),
    ...onEveryRole({ from: ALL, port: 8600, protocols: ["tcp", "udp"], description: "Consul DNS" }),
    { to: "client", from: CLIENTS, port: BINDLE_PORT, protocols: ["tcp"], description: "Bindle API (parcel downloads by the Nomad clients)" },
    // Apps' Spin reaches the platform libSQL server (`http://<ns>.libsql.service.consul:8090`,
    // provisioning/jobs/libsql-databases.ts); its admin port listens on the node's loopback only.
    { to: "client", from: CLIENTS, port: LIBSQL_PORTS.http, protocols: ["tcp"], description: "libSQL user API (apps' SQLite databases)" },
];

/** Ports every cluster rule opens, for tests and policies: `${port}/${protocol}`. */
export function clusterPorts(role: NodeRole): string[] {
    return CLUSTER_RULES.filter((r) => r.to === role)
        .flatMap((r) => r.protocols.map((p) => `${r.port}/${p}`));
}
