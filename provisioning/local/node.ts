/**
 * The local target: the whole platform on one machine, as the user who runs `pulumi up`. One
 * agent is Nomad server and client at once, next to one Consul server; everything binds to
 * loopback. The renderers and job builders are the AWS ones; only what differs is described here.
 */
import { isSafeAbsolutePath, LocalPorts } from "../loopback";
import { Architecture } from "../types";

/** Absolute paths of the binaries the installer put in the cache (or found on PATH). */
export interface LocalBinaries {
    readonly consul: string;
    readonly nomad: string;
    readonly traefik: string;
    readonly bindleServer: string;
    readonly spin: string;
}

/** Where the local platform keeps its state: everything under one directory the user owns. */
export function localLayout(stateDir: string) {
    if (!isSafeAbsolutePath(stateDir)) {
        throw new Error(`local state directory is ${JSON.stringify(stateDir)}; it must be an absolute path of [A-Za-z0-9._+/-] (no spaces)`);
    }
    const dir = stateDir.replace(/\/+$/, "");
    return {
        root: dir,
        consul: { configDir: `${dir}/consul.d`, configFile: `${dir}/consul.d/agent.json`, secretsFile: `${dir}/consul.d/secrets.json`, dataDir: `${dir}/consul/data`, policyDir: `${dir}/consul-policies` },
        nomad: { configDir: `${dir}/nomad.d`, configFile: `${dir}/nomad.d/agent.json`, secretsFile: `${dir}/nomad.d/secrets.json`, dataDir: `${dir}/nomad/data` },
        bindleData: `${dir}/bindle`,
    } as const;
}
export type LocalLayout = ReturnType<typeof localLayout>;

/** The one local node: Nomad server + client and Consul server, in single-node mode. */
export interface LocalNode {
    readonly role: "local";
    readonly architecture: Architecture;
    readonly clusterName: string;
    readonly nomadRegion: string;
    readonly datacenter: string;
    readonly nodeClass: string;
    readonly ports: LocalPorts;
    readonly layout: LocalLayout;
    readonly binaries: LocalBinaries;
}
