/**
 * Ports the pack reasons about. The cluster ports are Nomad's and Consul's documented defaults,
 * the same ones `components/aws/network-rules.ts` opens between nodes (a test keeps both in step);
 * Bindle's and Traefik's come from `provisioning/platform.ts`, where the platform defines them.
 */
import { BINDLE_PORT, LIBSQL_PORTS, TRAEFIK_PORTS } from "../../provisioning/platform";

export { BINDLE_PORT };

export interface PortRange {
    readonly from: number;
    readonly to: number;
}

export interface NamedPortRange extends PortRange {
    readonly service: string;
}

/** Ports reachable only from security groups, private networks and the operators' networks. */
export const PROTECTED_PORTS: readonly NamedPortRange[] = [
    { service: "Nomad (HTTP, RPC, Serf)", from: 4646, to: 4648 },
    { service: "Consul (server RPC, LAN/WAN Serf)", from: 8300, to: 8302 },
    { service: "Consul (HTTP, HTTPS, gRPC, gRPC-TLS)", from: 8500, to: 8503 },
    { service: "Consul DNS", from: 8600, to: 8600 },
    { service: "Bindle", from: BINDLE_PORT, to: BINDLE_PORT },
    { service: "libSQL (user and admin API)", from: LIBSQL_PORTS.http, to: LIBSQL_PORTS.admin },
];

/** The only ports a public load balancer may take from the internet. */
export const PUBLIC_WEB_PORTS: readonly number[] = [80, 443];

/**
 * Ports on which a Traefik entry point is public: the internet's web ports, and the port of
 * Traefik's `web` entry point, where the public load balancer forwards app traffic.
 */
export const PUBLIC_ENTRY_POINT_PORTS: readonly number[] = [...PUBLIC_WEB_PORTS, TRAEFIK_PORTS.web];

export const SSH_PORT = 22;

export const ALL_PORTS: PortRange = { from: 0, to: 65535 };

export function overlaps(a: PortRange, b: PortRange): boolean {
    return a.from <= b.to && b.from <= a.to;
}

export function formatRange(range: PortRange): string {
    if (range.from === ALL_PORTS.from && range.to === ALL_PORTS.to) {
        return "all ports";
    }
    return range.from === range.to ? `port ${range.from}` : `ports ${range.from}-${range.to}`;
}
