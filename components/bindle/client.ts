/**
 * A small Bindle HTTP client (Node http/https only). Paths and status codes: deislabs/bindle
 * docs/protocol-spec.md and the reference server (src/server/routes.rs, handlers.rs, filters.rs,
 * reply.rs). The server mounts the API under `/v1`, so `serverUrl` is e.g. `https://host:8085/v1`.
 *
 * - POST `/_i` (Content-Type `application/toml`): 201 all parcels present, 202 with `missing`
 *   labels; an existing invoice is 409 (ProviderError::Exists); a bad or unsigned invoice 400.
 * - POST `/_i/{name}/{version}@{sha256}`: 200 "parcel created"; 409 if its directory exists (even
 *   empty, after an interrupted upload) or a write is in progress, so 409 does not mean "present":
 *   confirm with GET `/_r/missing` (components/bindle/push.ts); 400 for a sha not in the invoice
 *   or a digest/size mismatch; 403 when the bindle is yanked.
 * - GET `/_i/{id}` (403 if yanked, 404 if unknown), DELETE `/_i/{id}` yanks (200),
 *   GET `/_r/missing/{id}` lists missing parcel labels.
 * - Errors carry a TOML body `error = "..."`; no credentials on a write is 403, bad ones 401.
 */
import * as http from "http";
import * as https from "https";
import { parse as parseToml } from "smol-toml";
import { Invoice, Label, bindleId as idOf, parseInvoice } from "./invoice";

export const TOML_MEDIA_TYPE = "application/toml";

export interface BindleClientOptions {
    /** Base URL of the API including its `/v1` prefix. */
    readonly serverUrl: string;
    /** PEM of the CA that signed the server's certificate (https only). */
    readonly caPem?: string;
    /** HTTP basic auth (the server's htpasswd mode). */
    readonly username?: string;
    readonly password?: string;
    /** Attempts per request on 5xx and connection errors (default 4); 4xx is never retried. */
    readonly maxAttempts?: number;
    /** First retry delay, doubled per retry (default 250 ms). */
    readonly backoffMs?: number;
    /** Socket inactivity timeout (default 60 s). */
    readonly timeoutMs?: number;
}

/** An Error with the HTTP status (undefined for connection/TLS errors) and the server's message. */
export type BindleError = Error & { readonly status?: number; readonly serverMessage?: string; readonly reason?: "yanked" };

/**
 * A plain Error with properties rather than a subclass: this module is serialized into the
 * dynamic provider, where class identity does not survive.
 */
export function bindleError(message: string, status?: number, serverMessage?: string, reason?: "yanked"): BindleError {
    return Object.assign(new Error(message), { name: "BindleError", status, serverMessage, ...(reason ? { reason } : {}) });
}

export interface CreateInvoiceResult {
    /** created: 201; accepted: 202 (parcels missing); exists: 409, the invoice was already there. */
    readonly status: "created" | "accepted" | "exists";
    readonly bindleId: string;
    /** Labels of the parcels the server still needs. */
    readonly missing: Label[];
}

export interface BindleClient {
    createInvoice(invoiceToml: string): Promise<CreateInvoiceResult>;
    uploadParcel(bindleId: string, sha256: string, data: Buffer): Promise<"created" | "exists">;
    getInvoice(bindleId: string, opts?: { yanked?: boolean }): Promise<Invoice | undefined>;
    getMissingParcels(bindleId: string): Promise<Label[]>;
    yankInvoice(bindleId: string): Promise<"yanked" | "not-found">;
}

interface Response { readonly status: number; readonly body: Buffer; readonly attempts: number }

/** `error = "..."` of a TOML error body (protocol-spec.md "Errors"), else the start of the body. */
export function errorMessageOf(body: Buffer): string {
    const text = body.toString("utf8");
    try {
        const parsed = parseToml(text) as { error?: unknown };
        if (typeof parsed.error === "string") return parsed.error;
    } catch { /* not TOML */ }
    try {
        const parsed = JSON.parse(text) as { error?: unknown };
        if (typeof parsed.error === "string") return parsed.error;
    } catch { /* not JSON */ }
    return text.trim().slice(0, 300) || "(empty body)";
}

function checkId(bindleId: string): string {
    // Invoice names are `<name>/<version>` (reference-spec.md); `@` separates the parcel sha in URLs.
    if (!/^[A-Za-z0-9_.+-]+(\/[A-Za-z0-9_.+-]+)+$/.test(bindleId)) throw bindleError(`invalid bindle id "${bindleId}"`);
    return bindleId;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const RETRYABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "ESOCKETTIMEDOUT"]);

/** Bodies from this size on are sent only after the server's `100 Continue`. */
const EXPECT_CONTINUE_BYTES = 64 * 1024;
/** Sent anyway when the server neither continues nor answers within this time (RFC 9110 10.1.1). */
const CONTINUE_WAIT_MS = 2_000;

function requestOnce(opts: BindleClientOptions, method: string, url: URL, body: Buffer | undefined, contentType: string | undefined, freshConnection = false): Promise<{ status: number; body: Buffer }> {
    const headers: Record<string, string | number> = { Accept: TOML_MEDIA_TYPE };
    if (body) { headers["Content-Type"] = contentType ?? "application/octet-stream"; headers["Content-Length"] = body.length; }
    // bindle-server answers a refused parcel upload (409 exists / write in progress, 403 yanked)
    // without reading the body and closes the connection, so a large body ends in EPIPE/ECONNRESET
    // instead of the answer. With `Expect: 100-continue` hyper sends 100 only when the handler
    // reads the body (hyper proto/h1 `Wants::EXPECT`), so the refusal arrives before any byte is sent.
    const expectContinue = body !== undefined && body.length >= EXPECT_CONTINUE_BYTES;
    if (expectContinue) headers.Expect = "100-continue";
    if (opts.username !== undefined) headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ""}`).toString("base64")}`;
    const isHttps = url.protocol === "https:";
    const requestOptions: https.RequestOptions = {
        method, headers, timeout: opts.timeoutMs ?? 60_000, ...(isHttps && opts.caPem ? { ca: opts.caPem } : {}),
        // `agent: false`: a new connection for this request only (Node's global agent keeps
        // connections alive since Node 19, and a kept connection would always reach the same target).
        ...(freshConnection ? { agent: false } : {}),
    };
    return new Promise((resolve, reject) => {
        const req = (isHttps ? https : http).request(url, requestOptions, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
            res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(Object.assign(new Error(`no response within ${opts.timeoutMs ?? 60_000} ms`), { code: "ESOCKETTIMEDOUT" })));
        req.on("error", reject);
        if (!expectContinue) { req.end(body); return; }
        let sent = false;
        // Declared before `send` refers to it: Pulumi's closure serializer (the BindlePush provider is
        // serialized into the stack) fails on a variable used before its declaration ("Unexpected
        // missing variable in closure environment", pulumi sdk/nodejs/runtime/closure/v8.ts).
        let timer: NodeJS.Timeout | undefined = undefined;
        const send = () => { if (!sent) { sent = true; clearTimeout(timer); req.end(body); } };
        timer = setTimeout(send, CONTINUE_WAIT_MS);
        req.on("continue", send);
        req.on("response", () => { clearTimeout(timer); if (!sent) { sent = true; req.end(); } });
    });
}

/**
 * One GET of `url` on a new connection, without retries and without credentials: a readiness
 * probe (components/bindle/ready.ts). Rejects on connection and TLS errors (with `code`).
 */
export function probeOnce(opts: Pick<BindleClientOptions, "caPem" | "timeoutMs">, url: string): Promise<{ status: number; body: Buffer }> {
    return requestOnce({ serverUrl: url, caPem: opts.caPem, timeoutMs: opts.timeoutMs }, "GET", new URL(url), undefined, undefined, true);
}

/** One request with bounded retries (exponential backoff) on connection errors and 5xx. */
async function send(opts: BindleClientOptions, method: string, apiPath: string, body?: Buffer, contentType?: string): Promise<Response> {
    const base = new URL(opts.serverUrl);
    if (base.protocol !== "http:" && base.protocol !== "https:") throw bindleError(`serverUrl must be http(s): ${opts.serverUrl}`);
    const url = new URL(base.origin + base.pathname.replace(/\/+$/, "") + apiPath);
    const maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
    for (let attempt = 1; ; attempt++) {
        let res: { status: number; body: Buffer } | undefined;
        try {
            res = await requestOnce(opts, method, url, body, contentType);
        } catch (e) {
            const err = e as NodeJS.ErrnoException;
            const retryable = RETRYABLE_CODES.has(err.code ?? "") || /socket hang up/.test(err.message);
            if (!retryable || attempt >= maxAttempts) {
                const detail = err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
                throw bindleError(`Bindle ${method} ${url.pathname}: ${detail}${attempt > 1 ? ` (after ${attempt} attempts)` : ""}`);
            }
        }
        if (res && (res.status < 500 || attempt >= maxAttempts)) return { ...res, attempts: attempt };
        await sleep((opts.backoffMs ?? 250) * 2 ** (attempt - 1));
    }
}

function failure(method: string, apiPath: string, res: Response): BindleError {
    const message = errorMessageOf(res.body);
    const reason = http.STATUS_CODES[res.status] ?? "";
    const after = res.attempts > 1 ? ` (after ${res.attempts} attempts)` : "";
    return bindleError(`Bindle ${method} ${apiPath}: ${res.status} ${reason}: ${message}${after}`, res.status, message);
}

function labelsOf(list: unknown, what: string): Label[] {
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw bindleError(`${what}: "missing" is not a list`);
    return list.map((l: any) => ({ sha256: String(l.sha256), mediaType: String(l.mediaType), name: String(l.name), size: Number(l.size) }));
}

function parseBody(res: Response, what: string): Record<string, unknown> {
    try { return parseToml(res.body.toString("utf8")) as Record<string, unknown>; } catch (e) {
        throw bindleError(`${what}: response is not TOML: ${(e as Error).message.split("\n")[0]}`, res.status);
    }
}

export function bindleClient(opts: BindleClientOptions): BindleClient {
    async function getMissingParcels(bindleId: string): Promise<Label[]> {
        const p = `/_r/missing/${checkId(bindleId)}`;
        const res = await send(opts, "GET", p);
        if (res.status !== 200) throw failure("GET", p, res);
        return labelsOf(parseBody(res, `GET ${p}`).missing, `GET ${p}`);
    }
    return {
        async createInvoice(invoiceToml) {
            const id = checkId(idOf(parseInvoice(invoiceToml)));
            const res = await send(opts, "POST", "/_i", Buffer.from(invoiceToml, "utf8"), TOML_MEDIA_TYPE);
            if (res.status === 201) return { status: "created", bindleId: id, missing: [] };
            if (res.status === 202) return { status: "accepted", bindleId: id, missing: labelsOf(parseBody(res, "POST /_i").missing, "POST /_i") };
            if (res.status === 409) {
                // Invoices are immutable: an existing one with this id has the same content (the
                // version is a content hash), so only its missing parcels remain to be uploaded.
                try { return { status: "exists", bindleId: id, missing: await getMissingParcels(id) }; } catch (e) {
                    if ((e as BindleError).status === 403) {
                        throw bindleError(`Bindle POST /_i: ${id} already exists and is yanked; yanked bindles cannot be re-pushed, change the app to get a new version`, 409, undefined, "yanked");
                    }
                    throw e;
                }
            }
            throw failure("POST", "/_i", res);
        },
        async uploadParcel(bindleId, sha256, data) {
            if (!/^[0-9a-f]{64}$/.test(sha256)) throw bindleError(`invalid parcel sha256 "${sha256}"`);
            const p = `/_i/${checkId(bindleId)}@${sha256}`;
            const res = await send(opts, "POST", p, data, "application/octet-stream");
            if (res.status === 200 || res.status === 201) return "created";
            if (res.status === 409) return "exists";
            throw failure("POST", p, res);
        },
        async getInvoice(bindleId, query = {}) {
            const p = `/_i/${checkId(bindleId)}${query.yanked ? "?yanked=true" : ""}`;
            const res = await send(opts, "GET", p);
            if (res.status === 404) return undefined;
            if (res.status !== 200) throw failure("GET", p, res);
            return parseInvoice(res.body.toString("utf8"));
        },
        getMissingParcels,
        async yankInvoice(bindleId) {
            const p = `/_i/${checkId(bindleId)}`;
            const res = await send(opts, "DELETE", p);
            if (res.status === 200 || res.status === 204) return "yanked";
            if (res.status === 404) return "not-found";
            throw failure("DELETE", p, res);
        },
    };
}
