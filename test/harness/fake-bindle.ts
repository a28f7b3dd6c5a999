/**
 * An in-process fake Bindle server on 127.0.0.1 that follows deislabs/bindle docs/protocol-spec.md
 * and the reference server's status codes (src/server/handlers.rs, reply.rs, filters.rs): 201/202+missing,
 * 409 on existing invoices and parcels, 400 on digest mismatch or unsigned invoices, 403 anonymous
 * writes, 401 bad credentials, yanking. Shared by the Bindle client and BindlePush provider tests.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { parse, stringify } from "smol-toml";
import { BindleError, BindleClientOptions } from "../../components/bindle/client";
import { Invoice, buildInvoice, renderInvoice } from "../../components/bindle/invoice";
import { readSpinApp } from "../../components/apps/manifest";

export const HELLO = path.join(__dirname, "..", "fixtures", "apps", "hello");
const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

export interface Stored { invoice: any; yanked: boolean }
export interface Logged { method: string; path: string; auth?: string; contentType?: string }

/** A fake Bindle server: the documented paths and the reference server's status codes. */
export class FakeBindle {
    readonly invoices = new Map<string, Stored>();
    readonly parcels = new Map<string, Buffer>();
    readonly log: Logged[] = [];
    /** Statuses to answer the next requests with, one each (a 5xx storm). */
    faults: number[] = [];
    failAll?: number;
    users?: Record<string, string>;
    /** When set, invoices need a valid signature by a key in this keyring (bindle >= 0.9). */
    keyring?: string[];
    onInvoiceCreated?: () => void;
    /**
     * Parcel directories without `parcel.dat` (an interrupted upload, deislabs/bindle
     * src/provider/file/mod.rs): POST /_i counts them present, GET /_r/missing does not, uploads get 409.
     */
    readonly emptyDirs = new Set<string>();
    /** Uploads of a sha answered 409 (another writer's `.part` file) this many times, then accepted. */
    readonly inProgress = new Map<string, number>();
    url = "";
    /** GET /healthz seen, and how many more to fail (the connection is destroyed, as a fail-open NLB does). */
    healthChecks = 0;
    healthFailures = 0;
    private server?: http.Server;

    async start(tls?: { key: string; cert: string }): Promise<this> {
        const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => this.handle(req, Buffer.concat(chunks), res));
        };
        this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
        const port = (this.server.address() as { port: number }).port;
        this.url = `${tls ? "https" : "http"}://127.0.0.1:${port}/v1`;
        return this;
    }

    stop(): Promise<void> {
        return new Promise((resolve) => this.server ? this.server.close(() => resolve()) : resolve());
    }

    count(method: string, prefix: string): number {
        return this.log.filter((l) => l.method === method && l.path.startsWith(prefix)).length;
    }

    private reply(res: http.ServerResponse, status: number, body: Record<string, unknown>) {
        res.writeHead(status, { "Content-Type": "application/toml" });
        res.end(stringify(body));
    }

    private handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) {
        const url = new URL(req.url ?? "/", "http://fake");
        // bindle-server's /healthz (outside /v1, plain "OK" in 0.8.2): answered before the log and the faults.
        if (url.pathname === "/healthz") {
            this.healthChecks++;
            if (this.healthFailures > 0) { this.healthFailures--; res.destroy(); return; }
            res.writeHead(200, { "Content-Type": "text/plain" });
            res.end("OK");
            return;
        }
        this.log.push({ method: req.method ?? "", path: url.pathname, auth: req.headers.authorization, contentType: req.headers["content-type"] });
        const fault = this.faults.shift() ?? this.failAll;
        if (fault) return this.reply(res, fault, { error: `injected ${fault}` });
        if (this.users) {
            const auth = req.headers.authorization;
            if (auth !== undefined) {
                const [user, pass] = Buffer.from(auth.replace(/^Basic /, ""), "base64").toString().split(":");
                if (!auth.startsWith("Basic ") || this.users[user] !== pass) return this.reply(res, 401, { error: "unauthorized" });
            } else if (req.method !== "GET") return this.reply(res, 403, { error: "access denied" });
        }
        if (!url.pathname.startsWith("/v1/")) return this.reply(res, 404, { error: "not found" });
        const rest = url.pathname.slice(4);
        if (rest === "_i" && req.method === "POST") return this.createInvoice(req, body, res);
        if (rest.startsWith("_r/missing/") && req.method === "GET") {
            const stored = this.invoices.get(rest.slice("_r/missing/".length));
            if (!stored) return this.reply(res, 404, { error: "resource not found" });
            if (stored.yanked) return this.reply(res, 403, { error: "bindle is yanked" });
            return this.reply(res, 200, { missing: this.missing(stored.invoice, true) });
        }
        if (!rest.startsWith("_i/")) return this.reply(res, 404, { error: "not found" });
        const [id, sha, extra] = rest.slice(3).split("@");
        if (extra !== undefined) return this.reply(res, 400, { error: "Invalid URL. Missing Bindle ID and/or parcel SHA" });
        const stored = this.invoices.get(id);
        if (sha !== undefined && req.method === "POST") return this.createParcel(stored, id, sha, body, res);
        if (req.method === "GET") {
            if (!stored) return this.reply(res, 404, { error: "resource not found" });
            if (stored.yanked && url.searchParams.get("yanked") !== "true") return this.reply(res, 403, { error: "bindle is yanked" });
            return this.reply(res, 200, stored.invoice);
        }
        if (req.method === "DELETE") {
            if (!stored) return this.reply(res, 404, { error: "resource not found" });
            stored.yanked = true;
            stored.invoice.yanked = true;
            return this.reply(res, 200, { message: "invoice yanked" });
        }
        return this.reply(res, 405, { error: "method not allowed" });
    }

    /** `dataOnly`: GET /_r/missing (parcel.dat must exist); else POST /_i (the directory is enough). */
    private missing(invoice: any, dataOnly = false): any[] {
        return (invoice.parcel ?? []).map((p: any) => p.label)
            .filter((l: any) => !this.parcels.has(l.sha256) && (dataOnly || !this.emptyDirs.has(l.sha256)));
    }

    private createInvoice(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) {
        if ((req.headers["content-type"] ?? "").split(";")[0].trim() !== "application/toml") return this.reply(res, 400, { error: "Request body toml deserialize error: content-type is not TOML" });
        let invoice: any;
        try { invoice = parse(body.toString()); } catch { return this.reply(res, 400, { error: "Request body toml deserialize error" }); }
        const id = `${invoice.bindle.name}/${invoice.bindle.version}`;
        if (this.keyring) {
            const sigs: any[] = invoice.signature ?? [];
            if (!sigs.length) return this.reply(res, 400, { error: "signatures `No signatures found on invoice. At least one signature is required` cannot be verified" });
            for (const s of sigs) {
                const clear = [s.by, invoice.bindle.name, invoice.bindle.version, s.role, "~", ...(invoice.parcel ?? []).map((p: any) => p.label.sha256)].join("\n");
                const key = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(s.key, "base64").toString("base64url") }, format: "jwk" });
                if (!crypto.verify(null, Buffer.from(clear), key, Buffer.from(s.signature, "base64"))) return this.reply(res, 400, { error: `signatures \`${s.key}\` cannot be verified` });
                if (!this.keyring.includes(s.key)) return this.reply(res, 400, { error: "none of the signatures are made with a known key" });
            }
        }
        if (this.invoices.has(id)) return this.reply(res, 409, { error: "resource already exists" });
        this.invoices.set(id, { invoice, yanked: false });
        this.onInvoiceCreated?.();
        const missing = this.missing(invoice);
        return this.reply(res, missing.length ? 202 : 201, missing.length ? { invoice, missing } : { invoice });
    }

    private createParcel(stored: Stored | undefined, id: string, sha: string, body: Buffer, res: http.ServerResponse) {
        if (!stored) return this.reply(res, 404, { error: "resource not found" });
        const label = (stored.invoice.parcel ?? []).map((p: any) => p.label).find((l: any) => l.sha256 === sha);
        if (!label) return this.reply(res, 400, { error: `Parcel SHA ${sha} does not exist in invoice ${id}` });
        if (stored.yanked) return this.reply(res, 403, { error: "bindle is yanked" });
        if (this.parcels.has(sha) || this.emptyDirs.has(sha)) return this.reply(res, 409, { error: "resource already exists" });
        const busy = this.inProgress.get(sha) ?? 0;
        if (busy > 0) { this.inProgress.set(sha, busy - 1); return this.reply(res, 409, { error: "resource already exists" }); }
        if (sha256(body) !== sha) return this.reply(res, 400, { error: "digest does not match" });
        if (body.length !== Number(label.size)) return this.reply(res, 400, { error: "size does not match" });
        this.parcels.set(sha, body);
        return this.reply(res, 200, { message: "parcel created" });
    }
}

export function helloInvoice(dir = HELLO): { invoice: Invoice; toml: string; files: Map<string, Buffer> } {
    const pkg = readSpinApp(dir);
    const invoice = buildInvoice(pkg);
    return { invoice, toml: renderInvoice(invoice), files: new Map(pkg.entries.map((e) => [e.sha256, fs.readFileSync(e.absolutePath)])) };
}

export const fast = (server: FakeBindle, extra: Partial<BindleClientOptions> = {}): BindleClientOptions => ({ serverUrl: server.url, backoffMs: 1, maxAttempts: 3, ...extra });

export async function rejects(promise: Promise<unknown>, status: number | undefined, ...fragments: string[]): Promise<BindleError> {
    try { await promise; } catch (e) {
        assert.ok(e instanceof Error, String(e));
        if (status !== undefined) assert.strictEqual((e as BindleError).status, status, (e as Error).message);
        for (const f of fragments) assert.ok((e as Error).message.includes(f), `"${(e as Error).message}" lacks "${f}"`);
        return e as BindleError;
    }
    throw new Error(`expected a rejection mentioning ${fragments.join(", ")}`);
}

/** BindlePush `readiness` for tests against a fake that is up already: one GET /healthz. */
export const QUICK_READINESS = { consecutive: 1, intervalMs: 10, timeoutMs: 2_000 } as const;
