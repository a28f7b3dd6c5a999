/**
 * What a secure Consul or Nomad agent configuration (the JSON files cloud-init writes at the
 * paths of `provisioning/agents/node-layout.ts`) must say. Each function lists the problems of one parsed
 * config; an empty list means the config passes.
 *
 * Consul: acl.enabled, acl.default_policy "deny", outgoing TLS verified against the CA, server
 * hostnames verified on internal RPC, and on servers incoming internal RPC certificates verified.
 * Nomad: acl.enabled, TLS on HTTP and RPC with CA/cert/key files, verify_server_hostname.
 */
import { asRecord, Props } from "./props";

export type AgentRole = "server" | "client";

function flag(value: unknown): boolean {
    return value === true;
}

function setPath(value: unknown): boolean {
    return typeof value === "string" && value.trim() !== "";
}

/** Consul 1.12+ `tls.defaults` / `tls.internal_rpc`, falling back to the deprecated top-level keys. */
function consulTls(config: Props) {
    const tls = asRecord(config.tls) ?? {};
    const defaults = asRecord(tls.defaults) ?? {};
    const rpc = asRecord(tls.internal_rpc) ?? {};
    const pick = (key: string) => rpc[key] ?? defaults[key] ?? config[key];
    return {
        caFile: pick("ca_file"),
        verifyOutgoing: pick("verify_outgoing"),
        verifyIncoming: pick("verify_incoming"),
        verifyServerHostname: rpc.verify_server_hostname ?? config.verify_server_hostname,
    };
}

export function consulConfigProblems(config: Props, role: AgentRole | undefined): string[] {
    const problems: string[] = [];
    const acl = asRecord(config.acl) ?? {};
    if (!flag(acl.enabled)) {
        problems.push("acl.enabled is not true");
    }
    if (acl.default_policy !== "deny") {
        problems.push(`acl.default_policy is ${JSON.stringify(acl.default_policy ?? "unset")}, not "deny"`);
    }
    const tls = consulTls(config);
    if (!setPath(tls.caFile)) {
        problems.push("no TLS ca_file (tls.defaults.ca_file)");
    }
    if (!flag(tls.verifyOutgoing)) {
        problems.push("tls verify_outgoing is not true");
    }
    if (!flag(tls.verifyServerHostname)) {
        problems.push("tls.internal_rpc.verify_server_hostname is not true");
    }
    // Gossip encryption is only worth its key when both directions are verified (Consul's
    // encrypt_verify_incoming / encrypt_verify_outgoing default to true; false turns it off).
    for (const key of ["encrypt_verify_incoming", "encrypt_verify_outgoing"]) {
        if (config[key] === false || config[key] === "false") {
            problems.push(`${key} is false, so gossip from agents without the key is accepted`);
        }
    }
    const isServer = role === "server" || config.server === true;
    if (isServer && !flag(tls.verifyIncoming)) {
        problems.push("a server does not verify incoming internal RPC certificates (tls verify_incoming)");
    }
    return problems;
}

/**
 * True when a Nomad agent config enables the `raw_exec` driver: the plugin block
 * (`plugin.raw_exec.config.enabled`, in JSON as objects or as HCL-JSON lists of blocks) or the
 * deprecated client options `driver.raw_exec.enable`.
 */
export function enablesRawExec(config: Props): boolean {
    const blocks = (value: unknown): Props[] => (Array.isArray(value) ? value : [value]).map(asRecord).filter((v): v is Props => v !== undefined);
    const plugins = blocks(config.plugin).flatMap((p) => blocks(p.raw_exec));
    const enabled = plugins.flatMap((p) => blocks(p.config)).some((c) => c.enabled === true || c.enabled === "true");
    const options = asRecord(asRecord(config.client)?.options) ?? {};
    const legacy = ["1", "true", true].includes(options["driver.raw_exec.enable"] as string);
    return enabled || legacy;
}

export function nomadConfigProblems(config: Props): string[] {
    const problems: string[] = [];
    if (!flag(asRecord(config.acl)?.enabled)) {
        problems.push("acl.enabled is not true");
    }
    const tls = asRecord(config.tls) ?? {};
    for (const key of ["http", "rpc", "verify_server_hostname"]) {
        if (!flag(tls[key])) {
            problems.push(`tls.${key} is not true`);
        }
    }
    for (const key of ["ca_file", "cert_file", "key_file"]) {
        if (!setPath(tls[key])) {
            problems.push(`tls.${key} is not set`);
        }
    }
    return problems;
}

/** Parses an agent JSON config; `undefined` when it is not a JSON object. */
export function parseAgentJson(text: string): Props | undefined {
    try {
        return asRecord(JSON.parse(text));
    } catch {
        return undefined;
    }
}
