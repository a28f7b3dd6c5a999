/** Ed25519 keys from the 32-byte seeds Pulumi keeps as secrets (random.RandomBytes), so a key survives every `up`. Pure. */
import * as crypto from "crypto";

/** The private key whose seed is `seedBase64` (32 bytes, base64); `what` names the key in the error. */
export function ed25519KeyFromSeed(seedBase64: string, what: string): crypto.KeyObject {
    const seed = Buffer.from(seedBase64, "base64");
    if (seed.length !== 32) throw new Error(`${what}: the seed must be 32 bytes of base64, got ${seed.length}`);
    return crypto.createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: seed.toString("base64url"), x: "" }, format: "jwk" });
}
