/**
 * The non-secret Consul agent configuration of a node, as JSON. Secrets are not here: the boot
 * script writes them to `NODE_LAYOUT.consul.secretsFile`, a sibling file the agent merges:
 * `encrypt` and `acl.tokens.agent` on every node, plus `acl.tokens.initial_management` on servers.
 *
 * Reference: Consul agent configuration file docs, website/content/docs/reference/agent/
 * configuration-file/{general,acl,tls,encryption,join,ui,service-mesh}.mdx (hashicorp/consul).
 */
import { NODE_LAYOUT } from "./node-layout";
import { assertNever, ClusterProvisioning, NodeProvisioning } from "../types";
import { jsonFile } from "../json-file";

/** Consul listener ports; -1 disables a listener (general.mdx `ports`). */
export const CONSUL_PORTS = {
    http: 8500,
    https: 8501,
    grpc: 8502,
    grpcTls: 8503,
    dns: 8600,
    disabled: -1,
} as const;

/** go-sockaddr template: first RFC 6890 private IP of the interface holding the default route. */
export const PRIVATE_IP_TEMPLATE = "{{ GetPrivateIP }}";

const LOOPBACK = "127.0.0.1";

interface ConsulTlsInterface {
    readonly ca_file?: string;
    readonly cert_file?: string;
    readonly key_file?: string;
    readonly verify_incoming?: boolean;
    readonly verify_outgoing?: boolean;
}

/** Exactly the keys `consulAgentConfig` emits. */
export interface ConsulAgentConfig {
    readonly datacenter: string;
    readonly primary_datacenter: string;
    readonly data_dir: string;
    readonly log_level: "INFO";
    readonly server: boolean;
    readonly bootstrap_expect?: number;
    readonly bind_addr: string;
    readonly advertise_addr: string;
    readonly client_addr: string;
    readonly addresses?: { readonly https: string; readonly grpc_tls: string };
    readonly ports: {
        readonly http: number;
        readonly https: number;
        readonly grpc: number;
        readonly grpc_tls: number;
        readonly dns: number;
    };
    readonly retry_join: readonly string[];
    readonly acl: {
        readonly enabled: true;
        readonly default_policy: "deny";
        readonly down_policy: "extend-cache";
        readonly enable_token_persistence: true;
    };
    readonly tls: {
        readonly defaults: ConsulTlsInterface;
        readonly internal_rpc: { readonly verify_server_hostname: true };
        readonly https?: ConsulTlsInterface;
        readonly grpc?: ConsulTlsInterface;
    };
    readonly auto_encrypt: { readonly allow_tls: true } | { readonly tls: true };
    readonly connect: { readonly enabled: true };
    readonly ui_config: { readonly enabled: boolean };
    readonly enable_script_checks: false;
}

/**
 * A go-discover value, quoted when its lexer needs it: a space, `"` or `\` must be quoted
 * (go-discover config.go `Parse`), and an unquoted `=` ends the token (config.go `lex`).
 */
function goDiscoverValue(value: string): string {
    return /[\s"\\=]/.test(value) ? JSON.stringify(value) : value;
}

/**
 * Cloud auto-join string for the servers' EC2 tag, used by Consul `retry_join` and Nomad
 * `server_join.retry_join` (go-discover provider/aws: `tag_key`, `tag_value`, `region`;
 * `addr_type` defaults to `private_v4`).
 */
export function awsCloudAutoJoin(cluster: ClusterProvisioning): string {
    return [
        "provider=aws",
        `tag_key=${goDiscoverValue(cluster.joinTag.key)}`,
        `tag_value=${goDiscoverValue(cluster.joinTag.value)}`,
        `region=${goDiscoverValue(cluster.awsRegion)}`,
    ].join(" ");
}

function commonConfig(cluster: ClusterProvisioning) {
    return {
        datacenter: cluster.datacenter,
        // "It must be provided to enable ACLs" (general.mdx `primary_datacenter`); single DC here.
        primary_datacenter: cluster.datacenter,
        data_dir: NODE_LAYOUT.consul.dataDir,
        log_level: "INFO" as const,
    };
}

/**
 * Plain HTTP (8500), plain gRPC and DNS listen on loopback only (`client_addr`): the local Nomad
 * agent, Traefik and the CLI use them without their traffic ever leaving the host, and every
 * request still needs an ACL token (default deny).
 */
function serverConfig(cluster: ClusterProvisioning): ConsulAgentConfig {
    const tlsListeners = `${LOOPBACK} ${PRIVATE_IP_TEMPLATE}`;
    return {
        ...commonConfig(cluster),
        server: true,
        bootstrap_expect: cluster.serverCount,
        bind_addr: PRIVATE_IP_TEMPLATE,
        advertise_addr: PRIVATE_IP_TEMPLATE,
        client_addr: LOOPBACK,
        // HTTPS (API + UI) and gRPC-TLS also on the private IP: they present the server
        // certificate, which the cluster CA verifies (and which has a 127.0.0.1 SAN for Nomad).
        addresses: { https: tlsListeners, grpc_tls: tlsListeners },
        ports: {
            http: CONSUL_PORTS.http,
            https: CONSUL_PORTS.https,
            grpc: CONSUL_PORTS.disabled,
            grpc_tls: CONSUL_PORTS.grpcTls,
            dns: CONSUL_PORTS.dns,
        },
        retry_join: [awsCloudAutoJoin(cluster)],
        acl: consulAclConfig(),
        tls: {
            defaults: {
                ca_file: NODE_LAYOUT.tls.caFile,
                cert_file: NODE_LAYOUT.tls.certFile,
                key_file: NODE_LAYOUT.tls.keyFile,
                // internal RPC "must" verify incoming certificates (tls.mdx security note).
                verify_incoming: true,
                verify_outgoing: true,
            },
            internal_rpc: { verify_server_hostname: true },
            // API/UI callers (browsers, Nomad) are authenticated by ACL tokens, not client certs.
            https: { verify_incoming: false },
            grpc: { verify_incoming: false },
        },
        // Servers hand clients certificates from the Connect CA (encryption.mdx `allow_tls`).
        auto_encrypt: { allow_tls: true },
        // Required by auto_encrypt.allow_tls; "should be enabled on all servers" (service-mesh.mdx).
        connect: { enabled: true },
        ui_config: { enabled: true },
        enable_script_checks: false,
    };
}

/**
 * Clients hold no certificate of their own: `auto_encrypt.tls` fetches one from the servers,
 * signed by the Connect CA. Our CA cannot verify it, so clients serve neither HTTPS nor gRPC-TLS;
 * local consumers use the loopback plain listeners (see `serverConfig`).
 */
function clientConfig(cluster: ClusterProvisioning): ConsulAgentConfig {
    return {
        ...commonConfig(cluster),
        server: false,
        bind_addr: PRIVATE_IP_TEMPLATE,
        advertise_addr: PRIVATE_IP_TEMPLATE,
        client_addr: LOOPBACK,
        ports: {
            http: CONSUL_PORTS.http,
            https: CONSUL_PORTS.disabled,
            grpc: CONSUL_PORTS.grpc,
            grpc_tls: CONSUL_PORTS.disabled,
            dns: CONSUL_PORTS.dns,
        },
        retry_join: [awsCloudAutoJoin(cluster)],
        acl: consulAclConfig(),
        tls: {
            // Client side of the auto_encrypt setup in docs/secure/encryption/tls/enable/new/builtin.mdx.
            defaults: { ca_file: NODE_LAYOUT.tls.caFile, verify_incoming: false, verify_outgoing: true },
            internal_rpc: { verify_server_hostname: true },
        },
        auto_encrypt: { tls: true },
        connect: { enabled: true },
        ui_config: { enabled: false },
        enable_script_checks: false,
    };
}

/** ACLs on, default deny, on every agent (shared with the local target: local-agent-config.ts). */
export function consulAclConfig(): ConsulAgentConfig["acl"] {
    return { enabled: true, default_policy: "deny", down_policy: "extend-cache", enable_token_persistence: true };
}

export function consulAgentConfig(node: NodeProvisioning): ConsulAgentConfig {
    switch (node.role) {
        case "server":
            return serverConfig(node.cluster);
        case "client":
            return clientConfig(node.cluster);
        default:
            return assertNever(node, "node role");
    }
}

/** The file content of `NODE_LAYOUT.consul.configFile`. */
export function renderConsulAgentConfig(node: NodeProvisioning): string {
    return jsonFile(consulAgentConfig(node));
}
