/**
 * Reading EC2 user data the way cloud-init does: base64 where the API wants it (launch
 * templates, `userDataBase64`), optionally gzip-compressed, and for `#cloud-config` documents the
 * `write_files` entries with their `encoding` (b64, gzip, gz+b64) undone.
 */
import * as zlib from "zlib";
import * as YAML from "yaml";
import { asArray, asRecord, asString, Props } from "./props";
import { userDataParts } from "./user-data-parts";

export const INSTANCE_TYPE = "aws:ec2/instance:Instance";
export const LAUNCH_TEMPLATE_TYPE = "aws:ec2/launchTemplate:LaunchTemplate";

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function gunzipIfCompressed(bytes: Buffer): Buffer {
    return bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? zlib.gunzipSync(bytes) : bytes;
}

/** Base64 text to UTF-8, gunzipping gzip payloads. */
export function decodeBase64Text(text: string): Decoded<string> {
    if (!BASE64.test(text)) {
        return { ok: false, reason: "is not base64" };
    }
    try {
        return { ok: true, value: gunzipIfCompressed(Buffer.from(text, "base64")).toString("utf8") };
    } catch (e) {
        return { ok: false, reason: `is not valid gzip: ${(e as Error).message}` };
    }
}

/** The user data of an instance or launch template as text; `undefined` when it has none. */
export function userDataText(type: string, props: Props): Decoded<string> | undefined {
    if (type === LAUNCH_TEMPLATE_TYPE) {
        const raw = asString(props.userData);
        return raw === undefined ? undefined : decodeBase64Text(raw);
    }
    if (type === INSTANCE_TYPE) {
        const plain = asString(props.userData);
        if (plain !== undefined) {
            return { ok: true, value: plain };
        }
        const encoded = asString(props.userDataBase64);
        return encoded === undefined ? undefined : decodeBase64Text(encoded);
    }
    return undefined;
}

export interface WrittenFile {
    readonly path: string;
    readonly content: string;
}

/** cloud-init's `write_files` encodings (cc_write_files.py `decode_perms`/`extract_contents`). */
function decodeContent(content: string, encoding: string | undefined): string {
    switch ((encoding ?? "text/plain").toLowerCase()) {
        case "b64":
        case "base64":
            return Buffer.from(content, "base64").toString("utf8");
        case "gz":
        case "gzip":
            return zlib.gunzipSync(Buffer.from(content, "latin1")).toString("utf8");
        case "gz+base64":
        case "gzip+base64":
        case "gz+b64":
        case "gzip+b64":
            return zlib.gunzipSync(Buffer.from(content, "base64")).toString("utf8");
        default:
            return content;
    }
}

export interface CloudConfig {
    readonly document: Props;
    readonly files: readonly WrittenFile[];
}

/** Parses a `#cloud-config` document and decodes its `write_files`. */
export function parseCloudConfig(text: string): Decoded<CloudConfig> {
    if (!text.startsWith("#cloud-config")) {
        return { ok: false, reason: "is not a #cloud-config document" };
    }
    let document: Props | undefined;
    try {
        document = asRecord(YAML.parse(text));
    } catch (e) {
        return { ok: false, reason: `is not valid YAML: ${(e as Error).message.split("\n")[0]}` };
    }
    if (!document) {
        return { ok: false, reason: "is not a YAML mapping" };
    }
    try {
        const files = asArray(document.write_files).map((entry) => asRecord(entry) ?? {})
            .filter((entry) => typeof entry.path === "string")
            .map((entry) => ({
                path: entry.path as string,
                content: decodeContent(String(entry.content ?? ""), asString(entry.encoding)),
            }));
        return { ok: true, value: { document, files } };
    } catch (e) {
        return { ok: false, reason: `has a write_files entry that does not decode: ${(e as Error).message}` };
    }
}

/** Content of the file written to `path`; the last entry wins, as on disk. */
export function fileAt(config: CloudConfig, path: string): string | undefined {
    return [...config.files].reverse().find((f) => f.path === path)?.content;
}

/**
 * Every `#cloud-config` part of user data in any format cloud-init reads (user-data-parts.ts),
 * merged: files of later parts win, as on disk. `ok: false` when no part is a cloud-config.
 */
export function cloudConfigOfUserData(text: string): Decoded<CloudConfig> {
    let parts;
    try {
        parts = userDataParts(text).filter((p) => p.type === "text/cloud-config");
    } catch (e) {
        return { ok: false, reason: `does not decode as cloud-init user data: ${(e as Error).message}` };
    }
    if (parts.length === 0) {
        return { ok: false, reason: "is not a #cloud-config document (nor a MIME multipart or archive holding one)" };
    }
    const parsed = parts.map((p) => parseCloudConfig(p.content.trimStart()));
    const failed = parsed.find((p) => !p.ok);
    if (failed && !failed.ok) {
        return failed;
    }
    const configs = parsed.filter((p): p is { ok: true; value: CloudConfig } => p.ok).map((p) => p.value);
    return { ok: true, value: { document: configs[configs.length - 1].document, files: configs.flatMap((c) => c.files) } };
}
