/**
 * Recognising secret material in text that ends up readable by more principals than the secret
 * should be (user data, Nomad jobspecs, command lines, tags, plain SSM parameters): PEM private
 * keys, gossip encryption keys, ACL tokens (under any name, as `key=value`, `key: value` or a
 * command-line flag), cloud credentials, credentials in URLs, and the same material
 * base64-encoded (optionally gzipped) inside the text. Secrets belong in SSM SecureStrings or
 * Nomad Variables that the node or task fetches at run time.
 */
import * as zlib from "zlib";

export type SecretKind = "private key" | "gossip key" | "token" | "cloud credential" | "password";

export interface SecretFinding {
    readonly kind: SecretKind;
    /** Where it was found, e.g. `write_files /etc/x.json at acl.tokens.agent`. */
    readonly where: string;
}

const PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
/** Base64 of exactly 32 bytes (Consul and Nomad gossip keys): 43 characters and one padding `=`. */
const KEY_32_BYTES = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const B64_32 = "[A-Za-z0-9+/]{43}=";
/** A key or flag whose value is a gossip key: `encrypt`, `CONSUL_GOSSIP_KEY`, `gossip_key`, `-encrypt`. */
const GOSSIP_NAME = "[A-Za-z0-9_.-]*(?:encrypt|gossip)[A-Za-z0-9_.-]*";
/** A key or flag naming a token or secret ID (`token`, `CONSUL_HTTP_TOKEN`, `SecretID`, `-token`). */
const TOKEN_NAME = "[A-Za-z0-9_.-]*(?:token|secret_?id)[A-Za-z0-9_.-]*";
/** `name = v`, `"name": "v"`, `name: v`, `-name=v`, `--name v`, `name v` (a flag or header). */
const assignment = (name: string, value: string) =>
    new RegExp(`["']?\\b${name}["']?(?:\\s*[:=]\\s*|\\s+)["']?(${value})`, "gi");
const GOSSIP_ASSIGNMENT = assignment(GOSSIP_NAME, B64_32);
const TOKEN_ASSIGNMENT = assignment(TOKEN_NAME, UUID.source);
/** `consul keyring -install <key>` / `nomad operator gossip keyring install <key>`. */
const KEYRING_INSTALL = new RegExp(`keyring\\s+(?:-install[= ]|install\\s+)["']?(${B64_32})`, "g");
/** AWS secret access keys (40 characters) after their documented names, and access key IDs. */
const AWS_SECRET = /\baws_?secret_?access_?key["']?(?:\s*[:=]\s*|\s+)["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/gi;
const AWS_SESSION_TOKEN = /\baws_?session_?token["']?(?:\s*[:=]\s*|\s+)["']?([A-Za-z0-9/+=]{100,})/gi;
const AWS_ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/;
/** Well-known prefixed tokens: GitHub, Vault service/batch tokens. */
const PREFIXED_TOKEN = /\b(?:gh[pousr]_[A-Za-z0-9]{36}|hv[sb]\.[A-Za-z0-9_-]{24,})\b/;
/** `https://user:password@host` and pre-signed URLs (their signature is a credential). */
const URL_CREDENTIAL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@'"]+:[^\s/@'"]+@|[?&]X-Amz-(?:Signature|Security-Token)=/i;
/** A literal password (`PASSWORD=…`, `"password": "…"`), not a reference (`$VAR`, `{{ … }}`, `<…>`). */
const PASSWORD_ASSIGNMENT = /["']?\b[A-Za-z0-9_.-]*(?:password|passwd)["']?\s*[:=]\s*["']?([^\s"'$<{][^\s"']{7,})/gi;
/** Base64 runs long enough to hide a secret; decoded and scanned again. */
const BASE64_RUN = /[A-Za-z0-9+/]{40,}={0,2}/g;
const MAX_DEPTH = 2;

export function isGossipKey(value: string): boolean {
    return KEY_32_BYTES.test(value);
}

/** Printable text a base64 run decodes to (gzip undone), or undefined when it is binary. */
function decodedRun(run: string): string | undefined {
    try {
        let bytes = Buffer.from(run, "base64");
        if (bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
            bytes = zlib.gunzipSync(bytes);
        }
        const text = bytes.toString("utf8");
        // eslint-disable-next-line no-control-regex
        return /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes("\ufffd") ? text : undefined;
    } catch {
        return undefined;
    }
}

/** Findings in free text (shell, env files, YAML, HCL, JSON as text, command lines, URLs). */
export function scanText(text: string, where: string, depth = 0): SecretFinding[] {
    const findings: SecretFinding[] = [];
    const add = (kind: SecretKind) => findings.push({ kind, where });
    if (PRIVATE_KEY.test(text)) {
        add("private key");
    }
    const gossip = [...text.matchAll(GOSSIP_ASSIGNMENT), ...text.matchAll(KEYRING_INSTALL)];
    if (gossip.some((m) => isGossipKey(m[1]))) {
        add("gossip key");
    }
    if ([...text.matchAll(TOKEN_ASSIGNMENT)].length > 0 || PREFIXED_TOKEN.test(text) || URL_CREDENTIAL.test(text)) {
        add("token");
    }
    if ([...text.matchAll(AWS_SECRET)].length > 0 || [...text.matchAll(AWS_SESSION_TOKEN)].length > 0 || AWS_ACCESS_KEY_ID.test(text)) {
        add("cloud credential");
    }
    if ([...text.matchAll(PASSWORD_ASSIGNMENT)].length > 0) {
        add("password");
    }
    if (depth < MAX_DEPTH) {
        for (const run of text.matchAll(BASE64_RUN)) {
            const decoded = decodedRun(run[0]);
            if (decoded !== undefined) {
                findings.push(...scanText(decoded, `${where} (base64-decoded)`, depth + 1));
            }
        }
    }
    return findings;
}

const TOKEN_KEY = /token|secret_?id/i;
const GOSSIP_KEY = /encrypt|gossip/i;
const AWS_SECRET_KEY = /^aws_?secret_?access_?key$/i;
const PASSWORD_KEY = /password|passwd/i;

/** Findings for one string value under the key path `path` (the key tells what a bare value is). */
export function scanValue(value: string, path: readonly string[], where: string): SecretFinding[] {
    const at = path.length > 0 ? `${where} at ${path.join(".")}` : where;
    const key = path[path.length - 1] ?? "";
    if (path.some((segment) => GOSSIP_KEY.test(segment)) && isGossipKey(value.trim())) {
        return [{ kind: "gossip key", where: at }];
    }
    if (path.some((segment) => TOKEN_KEY.test(segment)) && UUID.test(value)) {
        return [{ kind: "token", where: at }];
    }
    if (AWS_SECRET_KEY.test(key) && /^[A-Za-z0-9/+]{40}$/.test(value.trim())) {
        return [{ kind: "cloud credential", where: at }];
    }
    if (PASSWORD_KEY.test(key) && value.length >= 8 && !/^(\$|\{\{|<)/.test(value.trim())) {
        return [{ kind: "password", where: at }];
    }
    return scanText(value, at);
}

/**
 * Findings in a parsed JSON document, where nesting hides the key: `acl.tokens.agent` holds a
 * token although its own key is `agent`.
 */
export function scanJson(value: unknown, where: string, path: string[] = []): SecretFinding[] {
    if (Array.isArray(value)) {
        const items = value.flatMap((v, i) => scanJson(v, where, [...path, String(i)]));
        // An argv list (`["-token", "<uuid>"]`) hides the flag from each element: read it as one line too.
        const line = value.every((v) => typeof v === "string") ? scanText(value.join(" "), `${where} at ${path.join(".")}`) : [];
        return [...items, ...line];
    }
    if (typeof value === "object" && value !== null) {
        return Object.entries(value).flatMap(([k, v]) => scanJson(v, where, [...path, k]));
    }
    return typeof value === "string" ? scanValue(value, path, where) : [];
}

/** Deduplicated `kind (where)` list for a message. */
export function describeFindings(findings: readonly SecretFinding[]): string {
    return [...new Set(findings.map((f) => `${f.kind} in ${f.where}`))].join("; ");
}
