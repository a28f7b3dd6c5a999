/**
 * Recognising secret material in text that ends up readable by anyone who can describe an
 * instance (user data): PEM private keys, gossip encryption keys and ACL tokens. Secrets belong
 * in SSM SecureStrings that the node fetches at boot.
 */

export type SecretKind = "private key" | "gossip key" | "token";

export interface SecretFinding {
    readonly kind: SecretKind;
    /** Where it was found, e.g. `write_files /etc/x.json at acl.tokens.agent`. */
    readonly where: string;
}

const PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
/** Base64 of exactly 32 bytes: 43 characters and one padding `=`. */
const KEY_32_BYTES = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
/** `encrypt = "…"`, `"encrypt": "…"`, `encrypt: …` followed by a 32-byte base64 value. */
const ENCRYPT_ASSIGNMENT = /["']?\bencrypt["']?\s*[:=]\s*["']?([A-Za-z0-9+/]{43}=)/g;
/** A key naming a token or secret ID (`token`, `CONSUL_HTTP_TOKEN`, `SecretID`), then a UUID value. */
const TOKEN_ASSIGNMENT = new RegExp(`["']?[A-Za-z0-9_.-]*(?:token|secret_?id)["']?\\s*[:=]\\s*["']?${UUID.source}`, "gi");
const TOKEN_KEY = /token|secret_?id/i;

export function isGossipKey(value: string): boolean {
    return KEY_32_BYTES.test(value);
}

/** Findings in free text (shell, env files, YAML, HCL, JSON as text). */
export function scanText(text: string, where: string): SecretFinding[] {
    const findings: SecretFinding[] = [];
    if (PRIVATE_KEY.test(text)) {
        findings.push({ kind: "private key", where });
    }
    for (const match of text.matchAll(ENCRYPT_ASSIGNMENT)) {
        if (isGossipKey(match[1])) {
            findings.push({ kind: "gossip key", where });
        }
    }
    if ([...text.matchAll(TOKEN_ASSIGNMENT)].length > 0) {
        findings.push({ kind: "token", where });
    }
    return findings;
}

/**
 * Findings in a parsed JSON document, where nesting hides the key: `acl.tokens.agent` holds a
 * token although its own key is `agent`.
 */
export function scanJson(value: unknown, where: string, path: string[] = []): SecretFinding[] {
    if (Array.isArray(value)) {
        return value.flatMap((v, i) => scanJson(v, where, [...path, String(i)]));
    }
    if (typeof value === "object" && value !== null) {
        return Object.entries(value).flatMap(([k, v]) => scanJson(v, where, [...path, k]));
    }
    if (typeof value !== "string") {
        return [];
    }
    const at = `${where} at ${path.join(".")}`;
    const key = path[path.length - 1] ?? "";
    if (key === "encrypt" && isGossipKey(value)) {
        return [{ kind: "gossip key", where: at }];
    }
    if (path.some((segment) => TOKEN_KEY.test(segment)) && UUID.test(value)) {
        return [{ kind: "token", where: at }];
    }
    return PRIVATE_KEY.test(value) ? [{ kind: "private key", where: at }] : [];
}

/** Deduplicated `kind (where)` list for a message. */
export function describeFindings(findings: readonly SecretFinding[]): string {
    return [...new Set(findings.map((f) => `${f.kind} in ${f.where}`))].join("; ");
}
