/**
 * Agent configurations of the local target's one node (local.ts): a Consul server and a Nomad
 * agent that is server and client at once, both run by the user, single-node, loopback only.
 * As on AWS the files are non-secret JSON; the tokens go to sibling fragments the agents merge
 * (`layout.consul.secretsFile`, `layout.nomad.secretsFile`), built by `localConsulSecrets` and
 * `localNomadSecrets` for the caller to write with mode 0600.
 *
 * What the local node leaves out, and why:
 * - TLS (both agents): every listener binds 127.0.0.1, so no byte leaves the host. TLS would
 *   guard loopback traffic only against a local user able to read it, and reading another
 *   user's loopback traffic takes root, who can read the agents' data and keys anyway; it would
 *   cost a CA, certificates and a trust setup for the CLIs, Traefik and the browser. Every
 *   request still needs an ACL token (default deny), which is what stops other local users.
 * - Gossip encryption (Consul `encrypt`, Nomad `server.encrypt`): Serf binds loopback only
 *   (`bind_addr`), so no other host can send or receive gossip, and a single member has no
 *   peer to gossip with; a key would protect nothing.
 * - Joining (Consul `retry_join`, Nomad `server_join`, Consul's auto-join): nothing to join.
 *
 * Reference: Consul reference/agent/configuration-file/{general,node,acl,ui}.mdx; Nomad
 * configuration/{index,server,client,consul,acl,telemetry}.mdx, drivers/raw_exec.mdx.
 */
import { ConsulAgentConfig, consulAclConfig, CONSUL_PORTS } from "../agents/consul-config";
import { LOOPBACK } from "../loopback";
import { LocalNode } from "./node";
import { hostVolumes, labelledBlocks, NomadAgentConfig, NomadHostVolumeBlock, NomadLabelledBlocks, nomadTelemetry } from "../agents/nomad-config";
import { BINDLE_HOST_VOLUME } from "../platform";
import { jsonFile } from "../json-file";

/** Exactly the keys `localConsulAgentConfig` emits. */
export interface LocalConsulAgentConfig
    extends Pick<ConsulAgentConfig, "datacenter" | "primary_datacenter" | "data_dir" | "log_level" | "acl" | "enable_script_checks"> {
    readonly node_name: string;
    readonly server: true;
    readonly bootstrap_expect: 1;
    readonly bind_addr: typeof LOOPBACK;
    readonly advertise_addr: typeof LOOPBACK;
    readonly client_addr: typeof LOOPBACK;
    readonly ports: {
        readonly http: number;
        readonly https: typeof CONSUL_PORTS.disabled;
        readonly grpc: number;
        readonly grpc_tls: typeof CONSUL_PORTS.disabled;
        readonly dns: number;
        readonly server: number;
        readonly serf_lan: number;
        readonly serf_wan: number;
    };
    readonly ui_config: { readonly enabled: true };
}

/** `plugin "raw_exec" { config { enabled = true } }` (drivers/raw_exec.mdx "Plugin Options"). */
export interface NomadRawExecPluginConfig {
    readonly enabled: true;
}

/** Exactly the keys `localNomadAgentConfig` emits. */
export interface LocalNomadAgentConfig extends Pick<NomadAgentConfig, "region" | "datacenter" | "data_dir" | "acl" | "telemetry"> {
    readonly name: string;
    readonly bind_addr: typeof LOOPBACK;
    readonly advertise: { readonly http: typeof LOOPBACK; readonly rpc: typeof LOOPBACK; readonly serf: typeof LOOPBACK };
    readonly ports: { readonly http: number; readonly rpc: number; readonly serf: number };
    readonly server: { readonly enabled: true; readonly bootstrap_expect: 1 };
    readonly client: {
        readonly enabled: true;
        readonly node_class: string;
        readonly network_interface: string;
        readonly preferred_address_family: "ipv4";
        readonly options: { readonly "driver.allowlist": "raw_exec" };
        readonly reserved: { readonly reserved_ports: string };
        readonly host_volume: NomadLabelledBlocks<NomadHostVolumeBlock>;
    };
    readonly plugin: NomadLabelledBlocks<{ readonly config: readonly [NomadRawExecPluginConfig] }>;
    readonly consul: {
        readonly address: string;
        readonly ssl: false;
        readonly grpc_address: string;
        readonly auto_advertise: true;
        readonly server_auto_join: false;
        readonly client_auto_join: false;
    };
}

/**
 * go-sockaddr template naming the loopback interface (`lo` on Linux, `lo0` on macOS), which
 * Nomad evaluates at start (client.mdx `network_interface` accepts a template; config.go
 * `parseSingleInterfaceTemplate` requires one existing interface name). Without it the client
 * fingerprints the default-route interface, so dynamic ports and `NOMAD_IP_<label>` would be
 * the LAN address; `nomad agent -dev` picks the loopback the same way (`lo`/`lo0`, config.go
 * `devModeConfig.networkConfig`).
 */
export const LOOPBACK_INTERFACE_TEMPLATE = '{{ GetAllInterfaces | include "flags" "loopback" | include "type" "IPv4" | attr "name" }}';

/** Consul node name and Nomad agent name: RFC 1035 label, as Consul DNS wants (general.mdx `datacenter`). */
function localNodeName(node: LocalNode): string {
    if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(node.clusterName)) {
        throw new Error(`local cluster name ${JSON.stringify(node.clusterName)} is not a DNS label (letters, digits, inner hyphens, at most 63)`);
    }
    return node.clusterName;
}

/**
 * Named after the cluster, not the host (the default, node.mdx `node_name`): a laptop's hostname
 * changes with the network, and a renamed node with the same node ID would not re-register.
 */
export function localConsulAgentConfig(node: LocalNode): LocalConsulAgentConfig {
    const ports = node.ports;
    return {
        node_name: localNodeName(node),
        datacenter: node.datacenter,
        // "It must be provided to enable ACLs" (general.mdx `primary_datacenter`).
        primary_datacenter: node.datacenter,
        data_dir: node.layout.consul.dataDir,
        log_level: "INFO",
        server: true,
        bootstrap_expect: 1,
        // Server RPC and Serf LAN/WAN: loopback only (see the file comment on gossip encryption).
        bind_addr: LOOPBACK,
        advertise_addr: LOOPBACK,
        // HTTP, gRPC and DNS.
        client_addr: LOOPBACK,
        ports: {
            http: ports.consulHttp,
            // No TLS listener: servers enable gRPC-TLS on 8503 unless it is disabled (general.mdx `ports`).
            https: CONSUL_PORTS.disabled,
            // Plain gRPC for Nomad's `grpc_address`.
            grpc: ports.consulGrpc,
            grpc_tls: CONSUL_PORTS.disabled,
            dns: ports.consulDns,
            server: ports.consulServer,
            serf_lan: ports.consulSerfLan,
            serf_wan: ports.consulSerfWan,
        },
        acl: consulAclConfig(),
        ui_config: { enabled: true },
        enable_script_checks: false,
    };
}

/** The file content of `node.layout.consul.configFile`. */
export function renderLocalConsulAgentConfig(node: LocalNode): string {
    return jsonFile(localConsulAgentConfig(node));
}

/** The agents' own ports, kept out of Nomad's port assignment (client.mdx `reserved_ports`). */
function agentPorts(node: LocalNode): string {
    const p = node.ports;
    const ports = [p.consulHttp, p.consulDns, p.consulGrpc, p.consulServer, p.consulSerfLan, p.consulSerfWan, p.nomadHttp, p.nomadRpc, p.nomadSerf];
    return [...new Set(ports)].sort((a, b) => a - b).join(",");
}

/**
 * One agent, server and client (the in-process client calls the local server directly:
 * agent.go `clientConfig` sets `RPCHandler = a.server`, as `nomad agent -dev` relies on).
 */
export function localNomadAgentConfig(node: LocalNode): LocalNomadAgentConfig {
    const ports = node.ports;
    return {
        name: localNodeName(node),
        region: node.nomadRegion,
        datacenter: node.datacenter,
        data_dir: node.layout.nomad.dataDir,
        bind_addr: LOOPBACK,
        // Explicit: Nomad refuses to default an advertise address to loopback outside dev mode
        // (config.go `normalizeAdvertise`); the ports are appended from `ports`.
        advertise: { http: LOOPBACK, rpc: LOOPBACK, serf: LOOPBACK },
        ports: { http: ports.nomadHttp, rpc: ports.nomadRpc, serf: ports.nomadSerf },
        server: { enabled: true, bootstrap_expect: 1 },
        client: {
            enabled: true,
            node_class: node.nodeClass,
            network_interface: LOOPBACK_INTERFACE_TEMPLATE,
            // The loopback also holds ::1 (and fe80::1 on macOS): prefer 127.0.0.1 for task
            // addresses (client config `preferred_address_family`, Nomad 1.8.2+, PR #23389).
            preferred_address_family: "ipv4",
            // Only raw_exec: `exec` needs root on Linux and does not exist on macOS, and a
            // Docker installed on the machine must not take platform or app jobs.
            options: { "driver.allowlist": "raw_exec" },
            reserved: { reserved_ports: agentPorts(node) },
            host_volume: hostVolumes([{ name: BINDLE_HOST_VOLUME.name, path: node.layout.bindleData, readOnly: false }]),
        },
        // raw_exec runs tasks as the agent's own user, the only user an unprivileged agent has.
        plugin: labelledBlocks([["raw_exec", { config: [{ enabled: true }] as const }]]),
        consul: {
            address: `${LOOPBACK}:${ports.consulHttp}`,
            ssl: false,
            grpc_address: `${LOOPBACK}:${ports.consulGrpc}`,
            auto_advertise: true,
            // Both default to true (consul.mdx); with a single agent there is no server to find,
            // and turning them off keeps Nomad from depending on Consul to form its cluster.
            server_auto_join: false,
            client_auto_join: false,
        },
        acl: { enabled: true },
        telemetry: nomadTelemetry(),
    };
}

/** The file content of `node.layout.nomad.configFile`. */
export function renderLocalNomadAgentConfig(node: LocalNode): string {
    return jsonFile(localNomadAgentConfig(node));
}

function checkedToken(name: string, value: string): string {
    if (typeof value !== "string" || !/^[\x21-\x7e]+$/.test(value)) {
        throw new Error(`${name} must be a non-empty token of printable ASCII without spaces`);
    }
    return value;
}

export interface LocalConsulSecretTokens {
    /** `acl.tokens.initial_management`: the management token the server bootstraps ACLs with. */
    readonly managementToken: string;
    /** `acl.tokens.agent`: the agent's own token (policy `consul-agent`, consul-acl-policies.ts). */
    readonly agentToken: string;
    /** `acl.tokens.dns`, if `*.consul` DNS lookups must answer (policy `consul-dns`). */
    readonly dnsToken?: string;
}

export interface LocalConsulSecrets {
    readonly acl: { readonly tokens: { readonly agent: string; readonly dns?: string; readonly initial_management: string } };
}

/** The content of `node.layout.consul.secretsFile` (as JSON), keys as bootstrap.sh writes them on AWS. */
export function localConsulSecrets(tokens: LocalConsulSecretTokens): LocalConsulSecrets {
    return {
        acl: {
            tokens: {
                agent: checkedToken("agentToken", tokens.agentToken),
                ...(tokens.dnsToken === undefined ? {} : { dns: checkedToken("dnsToken", tokens.dnsToken) }),
                initial_management: checkedToken("managementToken", tokens.managementToken),
            },
        },
    };
}

export interface LocalNomadSecrets {
    readonly consul: { readonly token: string };
}

/** The content of `node.layout.nomad.secretsFile` (as JSON): Nomad's Consul token (policy `nomad-agent`). */
export function localNomadSecrets(tokens: { readonly consulToken: string }): LocalNomadSecrets {
    return { consul: { token: checkedToken("consulToken", tokens.consulToken) } };
}
