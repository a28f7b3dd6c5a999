/**
 * Names in the agent TLS certificates. One certificate per role serves both Nomad and Consul
 * (`NODE_LAYOUT.tls.certFile`); with `verify_server_hostname` the peers check these SANs:
 * - Nomad servers expect `server.<region>.nomad` from servers and `client.<region>.nomad` from
 *   clients (nomad/rpc.go `validateLocalServerTLSCertificate` / `validateLocalClientTLSCertificate`);
 * - Consul agents expect `server.<datacenter>.consul` from servers (Consul tls.mdx
 *   `verify_server_hostname`). Consul clients get their own certificate through auto_encrypt.
 * `localhost` and 127.0.0.1 are what `nomad tls cert create` always adds (command/tls_cert_create.go),
 * and let the local Nomad/Consul clients verify the agents over loopback.
 */
import { assertNever, ClusterProvisioning, NodeRole } from "../types";

export interface CertificateSubject {
    readonly commonName: string;
    readonly dnsNames: string[];
    readonly ipAddresses: string[];
}

/**
 * Key usages of the agent certificates, as @pulumi/tls `allowedUses` names: agents are both TLS
 * servers and TLS clients of each other (`nomad tls cert create` sets ServerAuth + ClientAuth).
 */
export const AGENT_CERT_ALLOWED_USES: readonly string[] = ["digital_signature", "key_encipherment", "server_auth", "client_auth"];

const LOCAL_DNS_NAMES = ["localhost"];
const LOCAL_IP_ADDRESSES = ["127.0.0.1"];

export function certificateSubject(role: NodeRole, cluster: ClusterProvisioning): CertificateSubject {
    switch (role) {
        case "server": {
            const nomadName = `server.${cluster.nomadRegion}.nomad`;
            return {
                commonName: nomadName,
                dnsNames: [nomadName, `server.${cluster.datacenter}.consul`, ...LOCAL_DNS_NAMES],
                ipAddresses: [...LOCAL_IP_ADDRESSES],
            };
        }
        case "client": {
            const nomadName = `client.${cluster.nomadRegion}.nomad`;
            return {
                commonName: nomadName,
                dnsNames: [nomadName, ...LOCAL_DNS_NAMES],
                ipAddresses: [...LOCAL_IP_ADDRESSES],
            };
        }
        default:
            return assertNever(role, "node role");
    }
}
