/**
 * The secret material of a cluster and where it lives in SSM Parameter Store. Pulumi writes each
 * entry as a SecureString under `<ssmPrefix>/<scope>/<name>`; a node's instance role may read only
 * `common/` and its own role's scope, and its boot script fetches them with
 * `get-parameters-by-path --with-decryption`.
 */
import { NodeRole } from "../types";

export type SecretScope = "common" | NodeRole;

export type SecretName =
    | "ca-cert"
    | "consul-gossip-key"
    | "consul-agent-token"
    | "consul-nomad-token"
    | "consul-dns-token"
    | "consul-traefik-token"
    | "nomad-gossip-key"
    | "consul-management-token"
    | "nomad-management-token"
    | "tls-cert"
    | "tls-key";

export interface SecretParameter {
    readonly scope: SecretScope;
    readonly name: SecretName;
    readonly description: string;
}

/** Every secret parameter of a cluster. A `tls-cert`/`tls-key` pair exists per role. */
export const SECRET_PARAMETERS: readonly SecretParameter[] = [
    { scope: "common", name: "ca-cert", description: "PEM certificate of the cluster CA" },
    { scope: "common", name: "consul-gossip-key", description: "Consul gossip encryption key (base64, 32 bytes)" },
    { scope: "common", name: "consul-agent-token", description: "Consul ACL token of every Consul agent" },
    { scope: "common", name: "consul-nomad-token", description: "Consul ACL token Nomad agents use to talk to Consul" },
    { scope: "common", name: "consul-dns-token", description: "Consul ACL token the agents use to answer DNS queries" },
    { scope: "server", name: "nomad-gossip-key", description: "Nomad server gossip encryption key (base64, 32 bytes)" },
    { scope: "server", name: "consul-management-token", description: "Consul initial management ACL token" },
    { scope: "server", name: "consul-traefik-token", description: "Consul ACL token of Traefik's Consul catalog provider (servers create it)" },
    { scope: "server", name: "nomad-management-token", description: "Nomad ACL bootstrap (management) token" },
    { scope: "server", name: "tls-cert", description: "PEM certificate of the servers (server.<region>.nomad, server.<dc>.consul)" },
    { scope: "server", name: "tls-key", description: "PEM private key of the servers" },
    { scope: "client", name: "tls-cert", description: "PEM certificate of the Nomad clients (client.<region>.nomad)" },
    { scope: "client", name: "tls-key", description: "PEM private key of the Nomad clients" },
];

/**
 * A non-secret node parameter that lives beside the secrets (same paths, same fetch at boot):
 * the EFS address clients mount Bindle's host volume from.
 */
export const BINDLE_EFS_PARAMETER = { scope: "client", name: "bindle-efs-address" } as const;

/** Full SSM parameter name of a secret or node parameter: `<prefix>/<scope>/<name>`. */
export function secretParameterName(ssmPrefix: string, scope: SecretScope, name: SecretName | typeof BINDLE_EFS_PARAMETER.name): string {
    return `${ssmPrefix}/${scope}/${name}`;
}

/** The SSM paths a node of `role` reads at boot, in order. */
export function secretPathsFor(ssmPrefix: string, role: NodeRole): string[] {
    return [`${ssmPrefix}/common`, `${ssmPrefix}/${role}`];
}
