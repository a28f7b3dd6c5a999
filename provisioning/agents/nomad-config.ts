/**
 * The non-secret Nomad agent configuration of a node, as JSON. Secrets are not here: the boot
 * script writes them to `NODE_LAYOUT.nomad.secretsFile`, which the agent merges: `consul.token`
 * on every node, plus `server.encrypt` on servers.
 *
 * Reference: Nomad agent configuration docs, website/content/docs/configuration/{index,server,
 * server_join,client,consul,acl,tls,telemetry}.mdx and drivers/exec.mdx (hashicorp/nomad).
 */
import { awsCloudAutoJoin, CONSUL_PORTS, PRIVATE_IP_TEMPLATE } from "./consul-config";
import { NODE_LAYOUT } from "./node-layout";
import { assertNever, ClientNode, ClusterProvisioning, HostVolume, NodeProvisioning, ServerNode } from "../types";
import { jsonFile } from "../json-file";

/**
 * A labelled HCL block (`host_volume "name" { ... }`) in the JSON form Nomad's own fixture
 * command/agent/testdata/basic.json uses (generated from basic.hcl and tested equal to it):
 * a list of one-key objects, each holding a list with the block body.
 */
export type NomadLabelledBlocks<T> = ReadonlyArray<Readonly<Record<string, readonly [T]>>>;

export function labelledBlocks<T>(entries: ReadonlyArray<readonly [string, T]>): NomadLabelledBlocks<T> {
    return entries.map(([label, body]) => ({ [label]: [body] as const }));
}

export interface NomadHostVolumeBlock {
    readonly path: string;
    readonly read_only: boolean;
}

/** `exec` driver plugin options (drivers/exec.mdx "Plugin Options"). */
export interface NomadExecPluginConfig {
    readonly default_pid_mode: "private";
    readonly default_ipc_mode: "private";
    readonly no_pivot_root: false;
}

export type NomadPluginBlock = { readonly config: readonly [NomadExecPluginConfig] };

export interface NomadConsulBlock {
    readonly address: string;
    readonly ssl: boolean;
    readonly ca_file?: string;
    readonly verify_ssl?: true;
    readonly grpc_address?: string;
    readonly auto_advertise: true;
    readonly server_auto_join?: true;
    readonly client_auto_join?: true;
}

/** Exactly the keys `nomadAgentConfig` emits. */
export interface NomadAgentConfig {
    readonly region: string;
    readonly datacenter: string;
    readonly data_dir: string;
    readonly bind_addr: string;
    readonly addresses: { readonly http: string };
    readonly advertise: { readonly http: string; readonly rpc: string; readonly serf: string };
    /** Clients: SIGINT (the unit's KillSignal) drains the node before the agent leaves. */
    readonly leave_on_interrupt?: true;
    readonly server?: {
        readonly enabled: true;
        readonly bootstrap_expect: number;
        readonly server_join: { readonly retry_join: readonly string[] };
    };
    readonly client?: {
        readonly enabled: true;
        readonly node_class: string;
        readonly host_volume?: NomadLabelledBlocks<NomadHostVolumeBlock>;
        readonly drain_on_shutdown?: { readonly deadline: string };
    };
    readonly plugin?: NomadLabelledBlocks<NomadPluginBlock>;
    readonly consul: NomadConsulBlock;
    readonly acl: { readonly enabled: true };
    readonly tls: {
        readonly http: true;
        readonly rpc: true;
        readonly ca_file: string;
        readonly cert_file: string;
        readonly key_file: string;
        readonly verify_server_hostname: true;
        readonly verify_https_client: false;
    };
    readonly telemetry: {
        readonly disable_hostname: true;
        readonly prometheus_metrics: true;
        readonly publish_allocation_metrics: true;
        readonly publish_node_metrics: true;
    };
}

const LOOPBACK = "127.0.0.1";

/**
 * RPC and Serf bind to the private IP only. HTTP binds to all addresses so the local CLI and boot
 * scripts can reach https://127.0.0.1:4646 (the agent certificates carry a 127.0.0.1 SAN); the
 * security groups limit who reaches it from outside and Nomad ACLs authorise every call.
 */
function commonConfig(cluster: ClusterProvisioning) {
    return {
        region: cluster.nomadRegion,
        datacenter: cluster.datacenter,
        // Outside the exec driver's chroot (/bin, /etc, /lib*, /sbin, /usr), as index.mdx requires.
        data_dir: NODE_LAYOUT.nomad.dataDir,
        bind_addr: PRIVATE_IP_TEMPLATE,
        addresses: { http: "0.0.0.0" },
        advertise: { http: PRIVATE_IP_TEMPLATE, rpc: PRIVATE_IP_TEMPLATE, serf: PRIVATE_IP_TEMPLATE },
    };
}

function commonSecurity() {
    return {
        acl: { enabled: true as const },
        tls: {
            http: true as const,
            rpc: true as const,
            ca_file: NODE_LAYOUT.tls.caFile,
            cert_file: NODE_LAYOUT.tls.certFile,
            key_file: NODE_LAYOUT.tls.keyFile,
            verify_server_hostname: true as const,
            // HTTPS clients need no certificate: Consul's JWT auth method (workload identity) cannot
            // present one to fetch Nomad's JWKS (integrations/consul/acl.mdx "Mutual TLS in Nomad"),
            // nor can browsers on the UI. Nomad ACLs authorise every HTTP call; RPC stays mutual TLS.
            verify_https_client: false as const,
        },
        telemetry: nomadTelemetry(),
    };
}

/** The `telemetry` block of every Nomad agent, AWS and local alike. */
export function nomadTelemetry(): NomadAgentConfig["telemetry"] {
    return {
        // Prometheus labels the host; hostname-prefixed gauge names would split every series.
        disable_hostname: true,
        prometheus_metrics: true,
        publish_allocation_metrics: true,
        publish_node_metrics: true,
    };
}

function serverConfig(node: ServerNode): NomadAgentConfig {
    return {
        ...commonConfig(node.cluster),
        server: {
            enabled: true,
            bootstrap_expect: node.cluster.serverCount,
            server_join: { retry_join: [awsCloudAutoJoin(node.cluster)] },
        },
        // The local Consul server agent serves HTTPS with the server certificate (127.0.0.1 SAN).
        consul: {
            address: `${LOOPBACK}:${CONSUL_PORTS.https}`,
            ssl: true,
            ca_file: NODE_LAYOUT.tls.caFile,
            verify_ssl: true,
            auto_advertise: true,
            server_auto_join: true,
        },
        ...commonSecurity(),
    };
}

/** `client.host_volume` blocks, in the given order; duplicate names are an error. */
export function hostVolumes(volumes: readonly HostVolume[]): NomadLabelledBlocks<NomadHostVolumeBlock> {
    const seen = new Set<string>();
    for (const volume of volumes) {
        if (seen.has(volume.name)) {
            throw new Error(`duplicate Nomad host volume name: ${volume.name}`);
        }
        seen.add(volume.name);
    }
    return labelledBlocks(volumes.map((v) => [v.name, { path: v.path, read_only: v.readOnly }] as const));
}

/** How long a stopping client may take to move its allocations away; the unit's stop timeout is longer. */
export const CLIENT_DRAIN_DEADLINE = "2m";

function clientConfig(node: ClientNode): NomadAgentConfig {
    const execConfig: NomadExecPluginConfig = { default_pid_mode: "private", default_ipc_mode: "private", no_pivot_root: false };
    const plugins: ReadonlyArray<readonly [string, NomadPluginBlock]> = [
        // Spin apps and the Bindle server both run under exec; no client runs docker.
        ["exec", { config: [execConfig] }],
    ];
    return {
        ...commonConfig(node.cluster),
        // A client that stops (an instance refresh terminating it, a scale-in) first drains: its
        // allocations move to other clients within the deadline (Nomad v1.6.3
        // website/content/docs/configuration/client.mdx "drain_on_shutdown Block": needs
        // leave_on_interrupt for SIGINT; systemd's TimeoutStopSec must outlast it).
        leave_on_interrupt: true,
        client: {
            enabled: true,
            node_class: node.nodeClass,
            ...(node.hostVolumes.length > 0 ? { host_volume: hostVolumes(node.hostVolumes) } : {}),
            drain_on_shutdown: { deadline: CLIENT_DRAIN_DEADLINE },
        },
        plugin: labelledBlocks(plugins),
        // The client Consul agent has no certificate our CA can verify (auto_encrypt), so Nomad
        // uses its loopback-only plain listeners; servers are found through Consul's catalog.
        consul: {
            address: `${LOOPBACK}:${CONSUL_PORTS.http}`,
            ssl: false,
            grpc_address: `${LOOPBACK}:${CONSUL_PORTS.grpc}`,
            auto_advertise: true,
            client_auto_join: true,
        },
        ...commonSecurity(),
    };
}

export function nomadAgentConfig(node: NodeProvisioning): NomadAgentConfig {
    switch (node.role) {
        case "server":
            return serverConfig(node);
        case "client":
            return clientConfig(node);
        default:
            return assertNever(node, "node role");
    }
}

/** The file content of `NODE_LAYOUT.nomad.configFile`. */
export function renderNomadAgentConfig(node: NodeProvisioning): string {
    return jsonFile(nomadAgentConfig(node));
}
