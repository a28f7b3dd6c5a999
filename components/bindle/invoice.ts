/**
 * Bindle invoices for Spin apps: built from a `SpinAppPackage`, rendered as TOML deterministically,
 * versioned by content, optionally signed. Keys and casing follow deislabs/bindle docs/invoice-spec.md
 * (`bindleVersion`, `[bindle]`, `[annotations]`, `[[parcel]]`) and docs/label-spec.md (`sha256`,
 * `mediaType`, `name`, `size`, label `[annotations]`); the server rejects unknown fields
 * (src/invoice/mod.rs: `deny_unknown_fields`), so nothing else is added.
 */
import * as crypto from "crypto";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import type { SpinAppEntry, SpinAppPackage } from "../apps/manifest";

/** invoice-spec.md: "`bindleVersion` is required, and should be `1.0.0`". */
export const BINDLE_VERSION = "1.0.0";
/** Roles of signature-spec / src/invoice/signature.rs (`SignatureRole`, serialized lowercase). */
export type SignatureRole = "creator" | "approver" | "host" | "proxy";

export interface Label {
    sha256: string;
    mediaType: string;
    name: string;
    size: number;
    annotations?: Record<string, string>;
}
export interface Parcel { label: Label }
export interface InvoiceSignature { by: string; signature: string; key: string; role: SignatureRole; at: number }
export interface BindleSpec { name: string; version: string; description?: string; authors?: string[] }
export interface Invoice {
    bindleVersion: string;
    /** Set by the server once yanked (invoice-spec.md "Top-level Fields"); never set by this module. */
    yanked?: boolean;
    bindle: BindleSpec;
    annotations?: Record<string, string>;
    parcel?: Parcel[];
    signature?: InvoiceSignature[];
}

/** Annotation keys this platform writes (invoice `[annotations]` and label `[annotations]`). */
export const ANNOTATIONS = { manifest: "spin_manifest", manifestVersion: "spin_manifest_version", app: "spin_app_name", role: "spin_role" } as const;

/** reference-spec.md allows alphanumerics, `-`, `.`, `_` and `/`; we keep to ASCII so the name is URL-safe verbatim. */
const NAME_RE = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
/** SemVer 2 core version (reference-spec.md: "Version MUST be a valid SemVer 2 version"). */
const CORE_SEMVER_RE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export interface InvoiceOptions {
    /** Bindle name; defaults to the Spin application name. */
    readonly name?: string;
    /** Defaults to the application description. */
    readonly description?: string;
}

function sortedEntries(entries: readonly SpinAppEntry[]): SpinAppEntry[] {
    return [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Content version: `<app version or 0.0.0>-sha-<16 hex>`, the hex being the start of the SHA-256
 * of the whole invoice rendered without its version. `sha-…` is one alphanumeric pre-release
 * identifier, so it is valid SemVer even when the hex is all digits with a leading zero.
 */
export function contentVersion(base: string, unversioned: Invoice): string {
    const digest = crypto.createHash("sha256").update(renderInvoice(unversioned)).digest("hex").slice(0, 16);
    return `${base}-sha-${digest}`;
}

/** Builds the invoice of a Spin app: one parcel per file, sorted by path, labelled with its Spin role. */
export function buildInvoice(pkg: Pick<SpinAppPackage, "name" | "version" | "description" | "authors" | "entries">, opts: InvoiceOptions = {}): Invoice {
    const name = opts.name ?? pkg.name;
    if (!NAME_RE.test(name)) throw new Error(`bindle name "${name}" is invalid: use letters, digits, "-", ".", "_" and "/"-separated segments`);
    const base = pkg.version ?? "0.0.0";
    if (!CORE_SEMVER_RE.test(base)) throw new Error(`application.version "${base}" must be major.minor.patch (SemVer)`);
    const entries = sortedEntries(pkg.entries);
    const manifests = entries.filter((e) => e.role === "manifest");
    if (manifests.length !== 1) throw new Error(`the app must have exactly one manifest entry (found ${manifests.length})`);
    const description = opts.description ?? pkg.description;
    const invoice: Invoice = {
        bindleVersion: BINDLE_VERSION,
        bindle: {
            name, version: "",
            ...(description ? { description } : {}),
            ...(pkg.authors.length ? { authors: [...pkg.authors] } : {}),
        },
        annotations: { [ANNOTATIONS.manifest]: manifests[0].path, [ANNOTATIONS.manifestVersion]: "2", [ANNOTATIONS.app]: pkg.name },
        parcel: entries.map((e) => ({
            label: { sha256: e.sha256, mediaType: e.mediaType, name: e.path, size: e.size, annotations: { [ANNOTATIONS.role]: e.role } },
        })),
    };
    invoice.bindle.version = contentVersion(base, invoice);
    return invoice;
}

/** Deterministic TOML: fixed key order (spec order), arrays of tables for parcels and signatures. */
export function renderInvoice(invoice: Invoice): string {
    const ordered: Record<string, unknown> = { bindleVersion: invoice.bindleVersion, ...(invoice.yanked !== undefined ? { yanked: invoice.yanked } : {}) };
    const b = invoice.bindle;
    ordered.bindle = { name: b.name, version: b.version, ...(b.description !== undefined ? { description: b.description } : {}), ...(b.authors ? { authors: b.authors } : {}) };
    if (invoice.annotations) ordered.annotations = { ...invoice.annotations };
    if (invoice.parcel) {
        ordered.parcel = invoice.parcel.map(({ label: l }) => ({
            label: { sha256: l.sha256, mediaType: l.mediaType, name: l.name, size: l.size, ...(l.annotations ? { annotations: { ...l.annotations } } : {}) },
        }));
    }
    if (invoice.signature) ordered.signature = invoice.signature.map((s) => ({ by: s.by, signature: s.signature, key: s.key, role: s.role, at: s.at }));
    return stringifyToml(ordered);
}

function str(v: unknown, what: string): string {
    if (typeof v !== "string") throw new Error(`invoice: ${what} must be a string`);
    return v;
}

/** Parses invoice TOML, checking the keys this module relies on. */
export function parseInvoice(toml: string): Invoice {
    let doc: Record<string, any>;
    try { doc = parseToml(toml) as Record<string, any>; } catch (e) { throw new Error(`invoice: invalid TOML: ${(e as Error).message.split("\n")[0]}`); }
    const bindle = doc.bindle ?? {};
    const invoice: Invoice = { bindleVersion: str(doc.bindleVersion, "bindleVersion"), bindle: { name: str(bindle.name, "bindle.name"), version: str(bindle.version, "bindle.version") } };
    if (typeof doc.yanked === "boolean") invoice.yanked = doc.yanked;
    if (bindle.description !== undefined) invoice.bindle.description = str(bindle.description, "bindle.description");
    if (bindle.authors !== undefined) invoice.bindle.authors = (bindle.authors as unknown[]).map((a, i) => str(a, `bindle.authors[${i}]`));
    if (doc.annotations !== undefined) invoice.annotations = { ...doc.annotations };
    if (doc.parcel !== undefined) {
        invoice.parcel = (doc.parcel as any[]).map((p, i) => {
            const l = p?.label ?? {};
            if (typeof l.size !== "number" && typeof l.size !== "bigint") throw new Error(`invoice: parcel[${i}].label.size must be an integer`);
            return { label: { sha256: str(l.sha256, `parcel[${i}].label.sha256`), mediaType: str(l.mediaType, `parcel[${i}].label.mediaType`), name: str(l.name, `parcel[${i}].label.name`), size: Number(l.size), ...(l.annotations ? { annotations: { ...l.annotations } } : {}) } };
        });
    }
    if (doc.signature !== undefined) invoice.signature = (doc.signature as any[]).map((s) => ({ by: s.by, signature: s.signature, key: s.key, role: s.role, at: Number(s.at) }));
    return invoice;
}

/** Invoice name per reference-spec.md: `<name>/<version>`. */
export function bindleId(invoice: Pick<Invoice, "bindle">): string {
    return `${invoice.bindle.name}/${invoice.bindle.version}`;
}

/**
 * The text a signature covers, as bindle computes it (src/invoice/mod.rs `cleartext`): `by`,
 * name, version, role, `~`, then each parcel's sha256 in invoice order, joined by newlines.
 */
export function invoiceCleartext(invoice: Invoice, by: string, role: SignatureRole): string {
    return [by, invoice.bindle.name, invoice.bindle.version, role, "~", ...(invoice.parcel ?? []).map((p) => p.label.sha256)].join("\n");
}

const b64url = (b: Buffer) => b.toString("base64url");

/**
 * An Ed25519 private key: PKCS#8 PEM, or bindle's secret-key-file `keypair` (base64 of the
 * 32-byte secret followed by the 32-byte public key, src/invoice/signature.rs `SecretKeyEntry`).
 */
export function loadSigningKey(privateKey: string): crypto.KeyObject {
    let key: crypto.KeyObject;
    if (privateKey.includes("-----BEGIN")) key = crypto.createPrivateKey(privateKey);
    else {
        const raw = Buffer.from(privateKey.trim(), "base64");
        if (raw.length !== 64) throw new Error(`signing key: a bindle keypair is 64 bytes of base64 (got ${raw.length})`);
        key = crypto.createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: b64url(raw.subarray(0, 32)), x: b64url(raw.subarray(32)) }, format: "jwk" });
        if (publicKeyOf(key) !== raw.subarray(32).toString("base64")) throw new Error("signing key: the keypair's public half does not match its secret half");
    }
    if (key.asymmetricKeyType !== "ed25519") throw new Error(`signing key: must be Ed25519 (got ${key.asymmetricKeyType})`);
    return key;
}

/** Base64 of the raw 32-byte public key: the form of `key` in signatures and keyring entries. */
export function publicKeyOf(key: crypto.KeyObject): string {
    const jwk = crypto.createPublicKey(key).export({ format: "jwk" }) as { x: string };
    return Buffer.from(jwk.x, "base64url").toString("base64");
}

/** A fresh key in bindle's secret-key-file form, with its public key for the server's keyring. */
export function generateSigningKey(): { keypair: string; publicKey: string } {
    const { privateKey } = crypto.generateKeyPairSync("ed25519");
    const jwk = privateKey.export({ format: "jwk" }) as { d: string; x: string };
    const pub = Buffer.from(jwk.x, "base64url");
    return { keypair: Buffer.concat([Buffer.from(jwk.d, "base64url"), pub]).toString("base64"), publicKey: pub.toString("base64") };
}

/** Adds a `[[signature]]` block; a key may sign an invoice only once (src/invoice/mod.rs `sign`). */
export function signInvoice(invoice: Invoice, signer: { by: string; privateKey: string }, role: SignatureRole = "creator", at: number = Math.floor(Date.now() / 1000)): Invoice {
    const key = loadSigningKey(signer.privateKey);
    const pub = publicKeyOf(key);
    if ((invoice.signature ?? []).some((s) => s.key === pub)) throw new Error(`signing key ${pub} has already signed ${bindleId(invoice)}`);
    const signature = crypto.sign(null, Buffer.from(invoiceCleartext(invoice, signer.by, role), "utf8"), key).toString("base64");
    return { ...invoice, signature: [...(invoice.signature ?? []), { by: signer.by, signature, key: pub, role, at }] };
}
