/**
 * systemd-resolved drop-in (NODE_LAYOUT.resolvedDropIn) that forwards the `consul` domain to the
 * local Consul agent's DNS interface, and nothing else.
 *
 * Keys per Consul's "Enable DNS forwarding" page (systemd-resolved section) and resolved.conf(5):
 * `Domains=~consul` is a routing-only domain (queries for *.consul go to this DNS server, no search
 * suffix); `DNS=` accepts `address:port` since systemd 246 (Ubuntu 24.04 ships systemd 255), so
 * Consul keeps its unprivileged port 8600; `DNSSEC=false` because Consul does not sign answers.
 */
import { IniDocument, renderIni } from "./ini";

/** Address of the Consul agent's DNS interface (Consul's default DNS port 8600 on loopback). */
export const CONSUL_DNS_ADDRESS = "127.0.0.1:8600";
/** The DNS domain forwarded to Consul (Consul's default `domain`). */
export const CONSUL_DNS_DOMAIN = "consul";

export function consulResolvedDropIn(): IniDocument {
    return {
        Resolve: {
            DNS: CONSUL_DNS_ADDRESS,
            DNSSEC: "false",
            Domains: `~${CONSUL_DNS_DOMAIN}`,
        },
    };
}

export function renderResolvedDropIn(): string {
    return renderIni(consulResolvedDropIn());
}
