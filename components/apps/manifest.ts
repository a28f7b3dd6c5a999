/**
 * Reads a Spin application directory (manifest version 2) and lists every file the app needs at
 * runtime: the manifest itself, each component's local Wasm `source` and its `files`. Pure apart
 * from reading files. Format: Spin manifest reference v2 (spinframework/spin-docs
 * content/v3/manifest-reference.md) and "Including Files with Components" (writing-apps.md).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parse as parseToml } from "smol-toml";
import { checkedStoreLabel } from "../../provisioning/jobs/spin-store-labels";

/** Media type Spin used for the manifest parcel of a bindle (spin crates/loader bindle, SPIN_MANIFEST_MEDIA_TYPE). */
export const SPIN_MANIFEST_MEDIA_TYPE = "application/vnd.fermyon.spin+toml";
export const MANIFEST_FILE = "spin.toml";

export type SpinEntryRole = "manifest" | "component-source" | "file";

export interface SpinAppEntry {
    /** Path relative to the app directory, posix separators, no `..`. */
    readonly path: string;
    readonly absolutePath: string;
    readonly sha256: string;
    readonly size: number;
    readonly mediaType: string;
    readonly role: SpinEntryRole;
}

export type SpinComponentSource =
    | { readonly kind: "local"; readonly path: string }
    | { readonly kind: "url"; readonly url: string; readonly digest: string }
    | { readonly kind: "registry"; readonly registry: string; readonly package: string; readonly version: string };

export interface SpinComponent {
    readonly id: string;
    readonly source: SpinComponentSource;
    /** Entry paths (relative to the app directory) the component's `files` select, sorted. */
    readonly files: string[];
    /** `key_value_stores` and `sqlite_databases` labels, sorted, each once (labels as Spin 3.4 checks them). */
    readonly keyValueStores: string[];
    readonly sqliteDatabases: string[];
}

export interface SpinHttpRoute {
    /** The `route` string, or undefined for a private endpoint (`route = { private = true }`). */
    readonly route?: string;
    readonly private: boolean;
    readonly component: string;
}

export interface SpinTrigger { readonly type: string; readonly component: string }

export interface SpinVariable { readonly name: string; readonly required: boolean; readonly secret: boolean; readonly default?: string }

export interface SpinAppPackage {
    readonly appDir: string;
    readonly name: string;
    readonly version?: string;
    readonly description?: string;
    readonly authors: string[];
    /** Every file of the app, sorted by path, each once. */
    readonly entries: SpinAppEntry[];
    readonly components: SpinComponent[];
    /** `[[trigger.http]]` entries, in manifest order. */
    readonly routes: SpinHttpRoute[];
    /** Every trigger of every type, in manifest order per type (types sorted). */
    readonly triggers: SpinTrigger[];
    readonly variables: SpinVariable[];
    /** Every label some component uses, sorted, each once. */
    readonly keyValueStores: string[];
    readonly sqliteDatabases: string[];
}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

const MEDIA_TYPES: Record<string, string> = {
    ".wasm": "application/wasm", ".html": "text/html", ".htm": "text/html", ".css": "text/css", ".js": "text/javascript",
    ".mjs": "text/javascript", ".json": "application/json", ".txt": "text/plain", ".md": "text/markdown", ".toml": "application/toml",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".ico": "image/vnd.microsoft.icon", ".webp": "image/webp", ".xml": "application/xml", ".pdf": "application/pdf",
};

/** Bindle's label default media type is application/octet-stream (bindle src/invoice/label.rs). */
export function mediaTypeFor(relPath: string): string {
    return MEDIA_TYPES[path.posix.extname(relPath).toLowerCase()] ?? "application/octet-stream";
}

/** A glob (`*`, `?`, `[...]`, `**` as a whole segment) as an anchored regular expression over posix paths. */
export function globToRegExp(pattern: string): RegExp {
    const segments = pattern.split("/");
    let out = "";
    segments.forEach((seg, i) => {
        const last = i === segments.length - 1;
        if (seg === "**") { out += last ? ".*" : "(?:[^/]*/)*"; return; }
        for (let j = 0; j < seg.length; j++) {
            const c = seg[j];
            if (c === "*") out += "[^/]*";
            else if (c === "?") out += "[^/]";
            else if (c === "[") {
                const end = seg.indexOf("]", j + 2);
                if (end < 0) { out += "\\["; continue; }
                let body = seg.slice(j + 1, end);
                if (body.startsWith("!")) body = "^" + body.slice(1);
                out += `[${body.replace(/\\/g, "\\\\")}]`;
                j = end;
            } else out += c.replace(/[.+^${}()|\\]/g, "\\$&");
        }
        if (!last) out += "/";
    });
    return new RegExp(`^${out}$`);
}

const hasGlob = (p: string) => /[*?[]/.test(p);

class Reader {
    private readonly appReal: string;
    constructor(readonly appDir: string, readonly manifestFile: string) {
        this.appReal = fs.realpathSync(appDir);
    }

    fail(message: string): never {
        throw new Error(`${this.manifestFile}: ${message}`);
    }

    /** Normalizes a manifest path to an app-relative posix path, rejecting anything outside the app directory. */
    relative(raw: string, what: string): string {
        if (typeof raw !== "string" || raw === "") this.fail(`${what}: path must be a non-empty string`);
        if (path.isAbsolute(raw) || path.posix.isAbsolute(raw) || /^[A-Za-z]:/.test(raw)) this.fail(`${what}: path "${raw}" must be relative to the app directory`);
        const norm = path.posix.normalize(raw.replace(/\\/g, "/")).replace(/\/+$/, "");
        if (norm === ".." || norm.startsWith("../")) this.fail(`${what}: path "${raw}" escapes the app directory`);
        return norm === "" ? "." : norm;
    }

    /** Absolute path of an app-relative path; symlinks must not lead outside the app directory. */
    resolve(rel: string, what: string): { abs: string; stat?: fs.Stats } {
        const abs = path.join(this.appDir, rel);
        let real: string;
        try { real = fs.realpathSync(abs); } catch { return { abs }; }
        if (real !== this.appReal && !real.startsWith(this.appReal + path.sep)) this.fail(`${what}: "${rel}" resolves outside the app directory (${real})`);
        return { abs, stat: fs.statSync(real) };
    }

    /** Every regular file under an app-relative directory, as sorted app-relative paths (symlinked directories are not followed). */
    walk(relDir: string, what: string): string[] {
        const found: string[] = [];
        const visit = (rel: string) => {
            const entries = fs.readdirSync(path.join(this.appDir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
            for (const e of entries) {
                const child = rel === "." ? e.name : `${rel}/${e.name}`;
                if (e.isDirectory()) visit(child);
                else if (e.isFile() || (e.isSymbolicLink() && this.resolve(child, what).stat?.isFile())) found.push(child);
            }
        };
        visit(relDir);
        return found;
    }

    /** The files one `files` element selects, app-relative. */
    expandFiles(item: unknown, what: string): string[] {
        if (typeof item === "string") {
            const pattern = this.relative(item, what);
            if (!hasGlob(pattern)) {
                const { stat } = this.resolve(pattern, what);
                if (!stat) this.fail(`${what}: file "${pattern}" does not exist`);
                if (stat.isDirectory()) this.fail(`${what}: "${pattern}" is a directory; use a glob ("${pattern}/**/*") or { source, destination }`);
                return [pattern];
            }
            const segs = pattern.split("/");
            const literal = segs.slice(0, segs.findIndex(hasGlob)).join("/") || ".";
            const { stat } = this.resolve(literal, what);
            if (!stat?.isDirectory()) return [];
            const re = globToRegExp(pattern);
            return this.walk(literal, what).filter((f) => re.test(f));
        }
        if (isTable(item)) {
            const { source, destination } = item;
            if (typeof source !== "string") this.fail(`${what}: a files table needs a string "source"`);
            if (typeof destination !== "string" || !destination.startsWith("/")) this.fail(`${what}: "destination" must be an absolute path (got ${JSON.stringify(destination)})`);
            const rel = this.relative(source, what);
            const { stat } = this.resolve(rel, what);
            if (!stat) this.fail(`${what}: source "${rel}" does not exist`);
            return stat.isDirectory() ? this.walk(rel, what) : [rel];
        }
        return this.fail(`${what}: each element must be a path/glob string or { source, destination }`);
    }
}

function readManifest(appDir: string, manifestFile: string): Table {
    const file = path.join(appDir, manifestFile);
    if (!fs.existsSync(file)) throw new Error(`${file}: no Spin manifest found in ${appDir}`);
    let doc: Table;
    try { doc = parseToml(fs.readFileSync(file, "utf8")) as Table; } catch (e) {
        throw new Error(`${file}: invalid TOML: ${(e as Error).message.split("\n")[0]}`);
    }
    const version = doc.spin_manifest_version;
    if (version !== 2) {
        throw new Error(`${file}: spin_manifest_version must be 2 (found ${JSON.stringify(version) ?? "nothing"}); manifest version 1 is not supported`);
    }
    return doc;
}

function stringList(r: Reader, value: unknown, what: string): string[] {
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) r.fail(`${what} must be an array of strings`);
    return value as string[];
}

function parseSource(r: Reader, value: unknown, what: string): SpinComponentSource {
    if (typeof value === "string") return { kind: "local", path: r.relative(value, what) };
    if (isTable(value) && typeof value.url === "string") {
        if (typeof value.digest !== "string" || !/^sha256:[0-9a-f]{64}$/.test(value.digest)) r.fail(`${what}: "digest" must be "sha256:<64 hex>"`);
        return { kind: "url", url: value.url, digest: value.digest };
    }
    if (isTable(value) && typeof value.registry === "string" && typeof value.package === "string" && typeof value.version === "string") {
        return { kind: "registry", registry: value.registry, package: value.package, version: value.version };
    }
    return r.fail(`${what} must be a path, { url, digest } or { registry, package, version }`);
}

function fileEntry(r: Reader, rel: string, role: SpinEntryRole): SpinAppEntry {
    const { abs } = r.resolve(rel, rel);
    const data = fs.readFileSync(abs);
    return { path: rel, absolutePath: abs, sha256: crypto.createHash("sha256").update(data).digest("hex"), size: data.length, mediaType: role === "manifest" ? SPIN_MANIFEST_MEDIA_TYPE : mediaTypeFor(rel), role };
}

/** Reads `<dir>/spin.toml` (manifest version 2) and every file it references, relative to `dir`. */
export function readSpinApp(dir: string, manifestFile: string = MANIFEST_FILE): SpinAppPackage {
    const appDir = path.resolve(dir);
    if (path.basename(manifestFile) !== manifestFile) throw new Error(`manifest file "${manifestFile}" must be a file name inside the app directory`);
    if (!fs.existsSync(appDir) || !fs.statSync(appDir).isDirectory()) throw new Error(`${appDir}: Spin app directory does not exist`);
    const doc = readManifest(appDir, manifestFile);
    const r: Reader = new Reader(appDir, path.join(appDir, manifestFile));

    const app = doc.application;
    if (!isTable(app) || typeof app.name !== "string" || app.name === "") r.fail(`[application] needs a string "name"`);
    for (const key of ["version", "description"] as const) if (app[key] !== undefined && typeof app[key] !== "string") r.fail(`application.${key} must be a string`);

    const componentTable: unknown = doc.component ?? {};
    if (!isTable(componentTable)) r.fail(`"component" must be a table of [component.<id>]`);
    const roles = new Map<string, SpinEntryRole>([[r.relative(manifestFile, "manifest"), "manifest"]]);
    const components: SpinComponent[] = Object.keys(componentTable).sort().map((id) => {
        const c = componentTable[id];
        const what = `component "${id}"`;
        if (!isTable(c)) r.fail(`${what} must be a table`);
        const source = parseSource(r, c.source, `${what} source`);
        if (source.kind === "local") {
            const { stat } = r.resolve(source.path, `${what} source`);
            if (!stat?.isFile()) r.fail(`${what}: source "${source.path}" does not exist (run spin build?)`);
            if (!roles.has(source.path)) roles.set(source.path, "component-source");
        }
        if (c.files !== undefined && !Array.isArray(c.files)) r.fail(`${what} files must be an array`);
        const excludes = stringList(r, c.exclude_files, `${what} exclude_files`).map((g) => globToRegExp(r.relative(g, `${what} exclude_files`)));
        const files = [...new Set(((c.files as unknown[]) ?? []).flatMap((item) => r.expandFiles(item, `${what} files`)))]
            .filter((f) => !excludes.some((re) => re.test(f))).sort();
        for (const f of files) if (!roles.has(f)) roles.set(f, "file");
        const labels = (key: string) => [...new Set(stringList(r, c[key], `${what} ${key}`).map((l) => checkedStoreLabel(l, `${r.manifestFile}: ${what} ${key}`)))].sort();
        return { id, source, files, keyValueStores: labels("key_value_stores"), sqliteDatabases: labels("sqlite_databases") };
    });
    const used = (pick: (c: SpinComponent) => string[]) => [...new Set(components.flatMap(pick))].sort();
    const ids = new Set(components.map((c) => c.id));

    const triggerTable: unknown = doc.trigger ?? {};
    if (!isTable(triggerTable)) r.fail(`"trigger" must be a table of [[trigger.<type>]] arrays`);
    const triggers: SpinTrigger[] = [];
    const routes: SpinHttpRoute[] = [];
    for (const type of Object.keys(triggerTable).sort()) {
        const list = triggerTable[type];
        if (!Array.isArray(list)) r.fail(`trigger.${type} must be an array of tables ([[trigger.${type}]])`);
        list.forEach((t: unknown, i: number) => {
            const what = `trigger.${type}[${i}]`;
            if (!isTable(t)) r.fail(`${what} must be a table`);
            if (typeof t.component !== "string") r.fail(`${what}: "component" must name a [component.<id>] (inline components are not supported)`);
            if (!ids.has(t.component)) r.fail(`${what}: component "${t.component}" is not defined`);
            triggers.push({ type, component: t.component });
            if (type !== "http") return;
            if (typeof t.route === "string") routes.push({ route: t.route, private: false, component: t.component });
            else if (isTable(t.route) && t.route.private === true) routes.push({ private: true, component: t.component });
            else r.fail(`${what}: "route" must be a string or { private = true }`);
        });
    }

    const varTable: unknown = doc.variables ?? {};
    if (!isTable(varTable)) r.fail(`"variables" must be a table`);
    const variables = Object.keys(varTable).sort().map((name): SpinVariable => {
        const v = varTable[name];
        if (!isTable(v)) r.fail(`variables.${name} must be a table`);
        if (v.default !== undefined && typeof v.default !== "string") r.fail(`variables.${name}.default must be a string`);
        return { name, required: v.required === true, secret: v.secret === true, ...(v.default !== undefined ? { default: v.default as string } : {}) };
    });

    const entries = [...roles.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([rel, role]) => fileEntry(r, rel, role));
    return {
        appDir, name: app.name, authors: stringList(r, app.authors, "application.authors"), entries, components, routes, triggers, variables,
        keyValueStores: used((c) => c.keyValueStores), sqliteDatabases: used((c) => c.sqliteDatabases),
        ...(typeof app.version === "string" ? { version: app.version } : {}),
        ...(typeof app.description === "string" ? { description: app.description } : {}),
    };
}
