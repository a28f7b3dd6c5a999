/**
 * Loopback endpoints, unprivileged ports and paths safe to carry unquoted: what the job builders
 * and settings need to describe the local target's placement without importing the target.
 */
import { BINDLE_PORT, TRAEFIK_PORTS } from "./platform";

export const LOOPBACK = "127.0.0.1";

/** `http://127.0.0.1:<port><path>`: every local endpoint. */
export function loopbackUrl(port: number, path = ""): string {
    return `http://${LOOPBACK}:${port}${path}`;
}

/** A port an unprivileged agent can listen on (the local Nomad runs as the user). */
export function isUnprivilegedPort(port: number): boolean {
    return Number.isInteger(port) && port >= 1024 && port <= 65535;
}

/**
 * A path on this machine that commands, configs and jobs can carry unquoted: absolute, of letters,
 * digits and `. _ + - /` only (no spaces, no `~`).
 */
export function isSafeAbsolutePath(path: string): boolean {
    return /^\/[A-Za-z0-9._+\/-]+$/.test(path);
}

/** Every port the local platform listens on (all on 127.0.0.1). */
export interface LocalPorts {
    readonly consulHttp: number;
    readonly consulDns: number;
    readonly consulGrpc: number;
    readonly consulServer: number;
    readonly consulSerfLan: number;
    readonly consulSerfWan: number;
    readonly nomadHttp: number;
    readonly nomadRpc: number;
    readonly nomadSerf: number;
    readonly traefikWeb: number;
    readonly traefikDashboard: number;
    readonly traefikPing: number;
    readonly bindle: number;
}

/** The ports the agents use by default on a node; the local target shifts them all by one offset. */
const STANDARD_PORTS: LocalPorts = {
    consulHttp: 8500,
    consulDns: 8600,
    consulGrpc: 8502,
    consulServer: 8300,
    consulSerfLan: 8301,
    consulSerfWan: 8302,
    nomadHttp: 4646,
    nomadRpc: 4647,
    nomadSerf: 4648,
    traefikWeb: TRAEFIK_PORTS.web,
    traefikDashboard: TRAEFIK_PORTS.dashboard,
    traefikPing: TRAEFIK_PORTS.ping,
    bindle: BINDLE_PORT,
};

/**
 * Default offset: 10000 keeps every port clear of the usual dev servers (3000, 5000, 8000, 8080,
 * 8443, 9000…) and of agents already running with their standard ports.
 */
export const LOCAL_PORT_OFFSET = { default: 10000, min: 1024, max: 55000 } as const;

/** The standard ports shifted by `offset` (LOCAL_PORT_OFFSET). */
export function localPorts(offset: number): LocalPorts {
    if (!Number.isInteger(offset) || offset < LOCAL_PORT_OFFSET.min || offset > LOCAL_PORT_OFFSET.max) {
        throw new Error(`local port offset is ${JSON.stringify(offset)}; it must be an integer from ${LOCAL_PORT_OFFSET.min} to ${LOCAL_PORT_OFFSET.max}`);
    }
    return Object.fromEntries(Object.entries(STANDARD_PORTS).map(([k, v]) => [k, v + offset])) as unknown as LocalPorts;
}
