/**
 * Every format cloud-init accepts as user data, undone the way cloud-init does (Debian's
 * cloud-init, cloudinit/user_data.py `convert_string` / `UserDataProcessor._process_msg` /
 * `_explode_archive`, handlers/__init__.py `INCLUSION_TYPES_MAP`):
 * - gzip anywhere (the whole blob, or a MIME part of a gzip content type);
 * - MIME multipart (`mime-version:` in the first 4096 bytes), parts decoded from base64 or
 *   quoted-printable, nested multiparts walked;
 * - `#cloud-config-archive`: a YAML list of parts (`content`, optional `type`);
 * - `## template: jinja`: the header line dropped, the rest typed again;
 * - `#include` / `#include-once`: URLs cloud-init fetches (kept as text: a URL can carry credentials);
 * - `#cloud-config`, `#!` scripts, `#cloud-boothook`, `#part-handler`, `#cloud-config-jsonp`: text.
 */
import * as zlib from "zlib";
import * as YAML from "yaml";
import { asArray, asRecord, asString } from "./props";

export interface UserDataPart {
    /** cloud-init's type for it: `text/cloud-config`, `text/x-shellscript`, … (`text/plain` when unknown). */
    readonly type: string;
    readonly content: string;
    /** Where it is, for messages: `user data`, `user data part 2 (boot.sh)`. */
    readonly where: string;
}

/** handlers/__init__.py INCLUSION_TYPES_MAP, longest prefix first as `type_from_starts_with` tries them. */
const STARTS_WITH: readonly (readonly [string, string])[] = ([
    ["#include", "text/x-include-url"],
    ["#include-once", "text/x-include-once-url"],
    ["#!", "text/x-shellscript"],
    ["#cloud-config", "text/cloud-config"],
    ["#part-handler", "text/part-handler"],
    ["#cloud-boothook", "text/cloud-boothook"],
    ["#cloud-config-archive", "text/cloud-config-archive"],
    ["#cloud-config-jsonp", "text/cloud-config-jsonp"],
    ["## template: jinja", "text/jinja2"],
] as const).slice().sort((a, b) => b[0].length - a[0].length);

/** user_data.py DECOMP_TYPES. */
const GZIP_TYPES = new Set([
    "application/gzip", "application/gzip-compressed", "application/gzipped", "application/x-compress",
    "application/x-compressed", "application/x-gzip", "application/x-gzip-compressed",
]);
const MAX_DEPTH = 5;

export function typeFromStartsWith(text: string): string | undefined {
    const lower = text.trimStart().slice(0, 64).toLowerCase();
    return STARTS_WITH.find(([prefix]) => lower.startsWith(prefix))?.[1];
}

function gunzipMaybe(bytes: Buffer): Buffer {
    return bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? zlib.gunzipSync(bytes) : bytes;
}

interface MimeEntity {
    readonly headers: Record<string, string>;
    readonly body: string;
}

function parseEntity(text: string): MimeEntity {
    const split = /\r?\n\r?\n/.exec(text);
    const head = split ? text.slice(0, split.index) : text;
    const body = split ? text.slice(split.index + split[0].length) : "";
    const headers: Record<string, string> = {};
    for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
        const colon = line.indexOf(":");
        if (colon > 0) {
            headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
    }
    return { headers, body };
}

function headerParam(value: string, name: string): string | undefined {
    const match = new RegExp(`;\\s*${name}="?([^";]+)"?`, "i").exec(value);
    return match?.[1];
}

/** A MIME part's payload as bytes (util.fully_decoded_payload: Content-Transfer-Encoding undone). */
function decodedBody(entity: MimeEntity): Buffer {
    const encoding = (entity.headers["content-transfer-encoding"] ?? "").toLowerCase();
    if (encoding === "base64") {
        return Buffer.from(entity.body.replace(/\s+/g, ""), "base64");
    }
    if (encoding === "quoted-printable") {
        const text = entity.body.replace(/=\r?\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
        return Buffer.from(text, "latin1");
    }
    return Buffer.from(entity.body, "utf8");
}

function mimeParts(entity: MimeEntity, where: string, depth: number): UserDataPart[] {
    const contentType = entity.headers["content-type"] ?? "text/plain";
    const mediaType = contentType.split(";")[0].trim().toLowerCase();
    if (mediaType.startsWith("multipart/")) {
        const boundary = headerParam(contentType, "boundary");
        if (!boundary) {
            return [{ type: "text/plain", content: entity.body, where }];
        }
        const sections = entity.body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?:--)?[ \\t]*\\r?\\n?`));
        return sections.slice(1).filter((s) => s.trim() !== "")
            .flatMap((section, i) => mimeParts(parseEntity(section), `${where} part ${i + 1}`, depth + 1));
    }
    let bytes = decodedBody(entity);
    if (GZIP_TYPES.has(mediaType)) {
        bytes = zlib.gunzipSync(bytes);
    }
    const filename = headerParam(entity.headers["content-disposition"] ?? "", "filename") ?? headerParam(contentType, "name");
    const label = filename ? `${where} (${filename})` : where;
    return partsOf(gunzipMaybe(bytes).toString("utf8"), label, depth + 1, GZIP_TYPES.has(mediaType) ? undefined : mediaType);
}

function archiveParts(text: string, where: string, depth: number): UserDataPart[] {
    const entries = asArray(YAML.parse(text.replace(/^#cloud-config-archive[^\n]*\n/i, "")));
    return entries.flatMap((entry, i) => {
        const record = asRecord(entry);
        const content = typeof entry === "string" ? entry : asString(record?.content) ?? "";
        return partsOf(content, `${where} entry ${i}`, depth + 1, asString(record?.type));
    });
}

/** The parts of a text cloud-init reads, `declaredType` the MIME or archive type it came with. */
function partsOf(text: string, where: string, depth: number, declaredType?: string): UserDataPart[] {
    if (depth > MAX_DEPTH) {
        return [{ type: "text/plain", content: text, where }];
    }
    if (text.slice(0, 4096).toLowerCase().includes("mime-version:")) {
        return mimeParts(parseEntity(text), where, depth);
    }
    const type = typeFromStartsWith(text) ?? declaredType ?? "text/plain";
    if (type === "text/jinja2") {
        return partsOf(text.replace(/^[^\n]*\n/, ""), where, depth + 1, declaredType);
    }
    if (type === "text/cloud-config-archive") {
        return archiveParts(text, where, depth);
    }
    return [{ type, content: text, where }];
}

/** Every part of a user data blob (bytes as the instance receives them: gzip undone first, like convert_string). */
export function userDataParts(blob: Buffer | string): UserDataPart[] {
    const bytes = gunzipMaybe(typeof blob === "string" ? Buffer.from(blob, "utf8") : blob);
    return partsOf(bytes.toString("utf8"), "user data", 0);
}
