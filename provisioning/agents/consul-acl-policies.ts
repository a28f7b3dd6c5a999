/**
 * Consul ACL policies of the cluster's own agents, as JSON rules (Consul accepts JSON for any
 * HCL rule: docs/reference/acl/rule.mdx shows each rule in both forms). The first server's boot
 * script writes each to `<NODE_LAYOUT.consul.policyDir>/<name>.json`, registers it with
 * `consul acl policy create -rules @file` and creates the token named in `token` with it.
 */
import { SecretName } from "./secrets";
import { jsonFile } from "../json-file";

export type ConsulPolicyDisposition = "read" | "write" | "deny" | "list";

/** `<resource>_prefix "<segment>" { policy = ... }` rules, or `<resource> = "..."` ones. */
export type ConsulPolicyRules = Readonly<
    Record<string, ConsulPolicyDisposition | Readonly<Record<string, { readonly policy: ConsulPolicyDisposition }>>>
>;

export type ConsulAgentTokenName = Extract<SecretName, "consul-agent-token" | "consul-nomad-token" | "consul-dns-token" | "consul-traefik-token">;

export interface ConsulAclPolicy {
    /** Policy name; also the file name under `NODE_LAYOUT.consul.policyDir`. */
    readonly name: string;
    readonly description: string;
    readonly rules: ConsulPolicyRules;
    /** The SSM secret holding the SecretID of the token this policy is attached to. */
    readonly token: ConsulAgentTokenName;
}

function everything(policy: ConsulPolicyDisposition) {
    return { "": { policy } };
}

export const CONSUL_ACL_POLICIES: readonly ConsulAclPolicy[] = [
    {
        // node:write to register itself (any node name: one token serves all agents) and
        // service:read to discover services (docs/secure/acl/token/agent.mdx "Requirements").
        name: "consul-agent",
        description: "Consul agents: register their own node, discover services",
        rules: {
            node_prefix: everything("write"),
            service_prefix: everything("read"),
        },
        token: "consul-agent-token",
    },
    {
        // Nomad's "Nomad Clients" policy (nomad integrations/consul/acl.mdx "Nomad Agents").
        // The token is shared by servers and clients (secrets.ts scope `common`), so the servers'
        // extra `acl = "write"` and `mesh = "write"` (for service-mesh config entries) are left
        // out: `acl = "write"` reads every token's secret and must not sit on nodes running jobs.
        name: "nomad-agent",
        description: "Nomad agents: register Nomad services and checks, discover servers",
        rules: {
            agent_prefix: everything("read"),
            node_prefix: everything("write"),
            service_prefix: everything("write"),
        },
        token: "consul-nomad-token",
    },
    {
        // With default-deny, `*.service.consul` lookups need a token of their own: the agent's
        // `acl.tokens.dns` (docs/secure/acl/token/dns.mdx: service, node and query read). Using
        // the `default` token instead would open the same reads to every anonymous API caller.
        name: "consul-dns",
        description: "Consul DNS interface: answer service and node lookups",
        rules: {
            node_prefix: everything("read"),
            service_prefix: everything("read"),
            query_prefix: everything("read"),
        },
        token: "consul-dns-token",
    },
    {
        // Traefik's Consul catalog provider lists services and their nodes, nothing more.
        name: "traefik",
        description: "Traefik: read the service catalog to build routes",
        rules: {
            node_prefix: everything("read"),
            service_prefix: everything("read"),
        },
        token: "consul-traefik-token",
    },
];

/** The content of `<NODE_LAYOUT.consul.policyDir>/<policy.name>.json`. */
export function renderConsulPolicyRules(policy: ConsulAclPolicy): string {
    return jsonFile(policy.rules);
}
