/**
 * Bindle's key files, rendered from Ed25519 seeds that Pulumi keeps as secrets (so keys survive
 * between runs without being generated at plan time). Formats: deislabs/bindle
 * src/invoice/signature.rs — `SecretKeyFile { version, key: [SecretKeyEntry { label, keypair,
 * roles }] }` for the server's `--signing-keys`, and the public `KeyRing { version, key: [KeyEntry
 * { label, roles, key }] }` for `--keyring`; both TOML, version "1.0", roles lowercase.
 */
import { stringify } from "smol-toml";
import { SignatureRole, publicKeyOf } from "./invoice";
import { ed25519KeyFromSeed } from "../../provisioning/ed25519";

const KEY_FILE_VERSION = "1.0";

export interface BindleKey {
    readonly label: string;
    readonly roles: SignatureRole[];
    /** base64 of the 32-byte secret followed by the 32-byte public key (bindle's `keypair`). */
    readonly keypair: string;
    /** base64 of the raw 32-byte public key. */
    readonly publicKey: string;
}

/** The Ed25519 key whose secret is `seed` (32 bytes, base64). */
export function bindleKeyFromSeed(label: string, roles: SignatureRole[], seedBase64: string): BindleKey {
    const key = ed25519KeyFromSeed(seedBase64, `bindle key ${label}`);
    const seed = Buffer.from(seedBase64, "base64");
    const publicKey = publicKeyOf(key);
    return { label, roles, publicKey, keypair: Buffer.concat([seed, Buffer.from(publicKey, "base64")]).toString("base64") };
}

/** `--signing-keys` file content (secret). */
export function renderSecretKeyFile(keys: readonly BindleKey[]): string {
    return stringify({ version: KEY_FILE_VERSION, key: keys.map((k) => ({ label: k.label, keypair: k.keypair, roles: k.roles })) }) + "\n";
}

/** `--keyring` file content (public keys only). */
export function renderKeyring(keys: readonly BindleKey[]): string {
    return stringify({ version: KEY_FILE_VERSION, key: keys.map((k) => ({ label: k.label, roles: k.roles, key: k.publicKey })) }) + "\n";
}

/**
 * One htpasswd line for bindle-server: it accepts only hashes that start with `$2y$`
 * (src/authn/http_basic.rs `ciphertext.starts_with("$2y$")`). `$2a$` (Go's x/crypto/bcrypt, so
 * the random provider's `bcryptHash`) and `$2b$` name the same algorithm and encoding for ASCII
 * passwords, so only the prefix changes; anything else is refused.
 */
export function htpasswdLine(user: string, bcryptHash: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(user)) throw new Error(`htpasswd: user ${JSON.stringify(user)} must be [A-Za-z0-9._-]`);
    const match = /^\$2[aby]\$(\d\d\$[./A-Za-z0-9]{53})$/.exec(bcryptHash);
    if (!match) throw new Error("htpasswd: the hash must be bcrypt ($2a$, $2b$ or $2y$, cost, 53 characters of salt and hash)");
    return `${user}:$2y$${match[1]}\n`;
}
