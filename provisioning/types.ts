/**
 * Plain data that describes a node to provision. Every renderer in `provisioning/` is a pure
 * function of these types: same input, byte-identical output. Nothing here may hold a secret:
 * secrets live in SSM Parameter Store and are fetched by the node at boot (see `secrets.ts`).
 */

/** CPU architecture of a node, named as EC2 and the Ubuntu AMI catalogue name it. */
export type Architecture = "arm64" | "x86_64";

/** What every node of one cluster shares. */
export interface ClusterProvisioning {
    /** Short cluster name, used in tags, paths and node names, e.g. `spin-cloud-dev`. */
    readonly clusterName: string;
    /** Nomad region (Nomad's `region`, part of its TLS names `server.<region>.nomad`). */
    readonly nomadRegion: string;
    /** Consul datacenter and Nomad datacenter (`server.<datacenter>.consul`). */
    readonly datacenter: string;
    /** AWS region the nodes run in: used by cloud auto-join and by the SSM fetch at boot. */
    readonly awsRegion: string;
    /** Number of Nomad/Consul servers: `bootstrap_expect` for both. */
    readonly serverCount: number;
    /** EC2 tag that marks the servers for cloud auto-join (Consul `retry_join`, Nomad `server_join`). */
    readonly joinTag: { readonly key: string; readonly value: string };
    /** SSM Parameter Store path prefix of this cluster's secrets, no trailing slash: `/spin-cloud/dev`. */
    readonly ssmPrefix: string;
}

/** A Nomad client host volume, exposed to jobs by name. */
export interface HostVolume {
    readonly name: string;
    readonly path: string;
    readonly readOnly: boolean;
}

/**
 * A host volume every client shares: an NFS export (EFS on AWS) that bootstrap.sh mounts at the
 * host volume's path, through /etc/fstab, before Nomad starts.
 */
export interface NfsHostVolume {
    /** Name of the entry of the client's `hostVolumes` this export backs; its `path` is the mount point. */
    readonly hostVolume: string;
    /**
     * Name of the non-secret SSM parameter under the client's role path (`<ssmPrefix>/client/<name>`)
     * whose value is the NFS server's DNS name. The boot fetches that path with the secrets.
     */
    readonly addressParameter: string;
    /** Owner and octal mode (e.g. "0750") of the volume's root directory once mounted. */
    readonly uid: number;
    readonly gid: number;
    readonly mode: string;
}

/** A Nomad + Consul server node. */
export interface ServerNode {
    readonly role: "server";
    readonly architecture: Architecture;
    readonly cluster: ClusterProvisioning;
}

/** A Nomad client + Consul client node; Spin is installed on it. */
export interface ClientNode {
    readonly role: "client";
    readonly architecture: Architecture;
    readonly cluster: ClusterProvisioning;
    /** Nomad `node_class`, used by jobs to target a pool of clients. */
    readonly nodeClass: string;
    readonly hostVolumes: readonly HostVolume[];
    /** The host volume backed by a shared NFS export, if any (none on a local, non-AWS client). */
    readonly sharedVolume?: NfsHostVolume;
}

export type NodeProvisioning = ServerNode | ClientNode;
export type NodeRole = NodeProvisioning["role"];

/** Compile-time exhaustiveness check for switches over discriminated unions. */
export function assertNever(value: never, what: string): never {
    throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
