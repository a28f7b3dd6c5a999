/**
 * The Bindle client and the BindlePush dynamic provider against an in-process fake Bindle server on
 * 127.0.0.1 that follows deislabs/bindle docs/protocol-spec.md and the reference server's status
 * codes (src/server/handlers.rs, reply.rs, filters.rs): 201/202+missing, 409 on existing invoices
 * and parcels, 400 on digest mismatch or unsigned invoices, 403 anonymous writes, 401 bad
 * credentials, yanking. The provider is driven after a real Pulumi closure serialization round trip.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { execFileSync } from "child_process";
import { parse, stringify } from "smol-toml";
import { BindleError, bindleClient, BindleClientOptions, errorMessageOf } from "../components/apps/bindle-client";
import { BindlePush, BindlePushInputs, bindlePushProvider, pushContent } from "../components/apps/bindle-push";
import { Invoice, bindleId, buildInvoice, generateSigningKey, renderInvoice } from "../components/apps/invoice";
import { readSpinApp } from "../components/apps/manifest";
import { MockResource, evaluateStack, isSecretInput, ofType } from "./harness/mocks";

const HELLO = path.join(__dirname, "fixtures", "apps", "hello");
const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

interface Stored { invoice: any; yanked: boolean }
interface Logged { method: string; path: string; auth?: string; contentType?: string }

/** A fake Bindle server: the documented paths and the reference server's status codes. */
class FakeBindle {
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
    url = "";
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
            return this.reply(res, 200, { missing: this.missing(stored.invoice) });
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

    private missing(invoice: any): any[] {
        return (invoice.parcel ?? []).map((p: any) => p.label).filter((l: any) => !this.parcels.has(l.sha256));
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
        if (this.parcels.has(sha)) return this.reply(res, 409, { error: "resource already exists" });
        if (sha256(body) !== sha) return this.reply(res, 400, { error: "digest does not match" });
        if (body.length !== Number(label.size)) return this.reply(res, 400, { error: "size does not match" });
        this.parcels.set(sha, body);
        return this.reply(res, 200, { message: "parcel created" });
    }
}

function helloInvoice(dir = HELLO): { invoice: Invoice; toml: string; files: Map<string, Buffer> } {
    const pkg = readSpinApp(dir);
    const invoice = buildInvoice(pkg);
    return { invoice, toml: renderInvoice(invoice), files: new Map(pkg.entries.map((e) => [e.sha256, fs.readFileSync(e.absolutePath)])) };
}

const fast = (server: FakeBindle, extra: Partial<BindleClientOptions> = {}): BindleClientOptions => ({ serverUrl: server.url, backoffMs: 1, maxAttempts: 3, ...extra });

async function rejects(promise: Promise<unknown>, status: number | undefined, ...fragments: string[]): Promise<BindleError> {
    try { await promise; } catch (e) {
        assert.ok(e instanceof Error, String(e));
        if (status !== undefined) assert.strictEqual((e as BindleError).status, status, (e as Error).message);
        for (const f of fragments) assert.ok((e as Error).message.includes(f), `"${(e as Error).message}" lacks "${f}"`);
        return e as BindleError;
    }
    throw new Error(`expected a rejection mentioning ${fragments.join(", ")}`);
}

describe("Bindle client", () => {
    let server: FakeBindle;
    beforeEach(async () => { server = await new FakeBindle().start(); });
    afterEach(() => server.stop());

    it("creates an invoice (202 + missing), uploads the parcels to <id>@<sha>, then reads it back", async () => {
        const { invoice, toml, files } = helloInvoice();
        const client = bindleClient(fast(server));
        const created = await client.createInvoice(toml);
        assert.strictEqual(created.status, "accepted");
        assert.strictEqual(created.bindleId, bindleId(invoice));
        assert.deepStrictEqual(created.missing.map((l) => l.sha256).sort(), [...files.keys()].sort());
        assert.deepStrictEqual(server.log[0], { method: "POST", path: "/v1/_i", auth: undefined, contentType: "application/toml" });
        for (const l of created.missing) assert.strictEqual(await client.uploadParcel(created.bindleId, l.sha256, files.get(l.sha256)!), "created");
        assert.ok(server.log.some((l) => l.path === `/v1/_i/${bindleId(invoice)}@${created.missing[0].sha256}` && l.contentType === "application/octet-stream"));
        assert.deepStrictEqual(await client.getMissingParcels(created.bindleId), []);
        assert.deepStrictEqual(await client.getInvoice(created.bindleId), invoice);
        assert.strictEqual(await client.getInvoice("hello/9.9.9"), undefined);
    });

    it("reports 201 when every parcel exists, and 409 as an existing invoice with its missing parcels", async () => {
        const { invoice, toml, files } = helloInvoice();
        const client = bindleClient(fast(server));
        await client.createInvoice(toml);
        const [first, ...others] = invoice.parcel!.map((p) => p.label.sha256);
        await client.uploadParcel(bindleId(invoice), first, files.get(first)!);
        const again = await client.createInvoice(toml);
        assert.deepStrictEqual({ status: again.status, missing: again.missing.map((l) => l.sha256).sort() }, { status: "exists", missing: others.sort() });
        for (const sha of others) await client.uploadParcel(bindleId(invoice), sha, files.get(sha)!);
        assert.strictEqual(await client.uploadParcel(bindleId(invoice), first, files.get(first)!), "exists");
        const sameParcels = renderInvoice({ ...invoice, bindle: { ...invoice.bindle, version: "0.2.0-other" } });
        assert.deepStrictEqual(await client.createInvoice(sameParcels), { status: "created", bindleId: "hello/0.2.0-other", missing: [] });
    });

    it("turns 400s into errors naming status and server message: digest mismatch, sha not in the invoice, bad TOML", async () => {
        const { invoice, toml } = helloInvoice();
        const client = bindleClient(fast(server));
        await client.createInvoice(toml);
        const sha = invoice.parcel![0].label.sha256;
        await rejects(client.uploadParcel(bindleId(invoice), sha, Buffer.from("tampered")), 400, "400 Bad Request", "digest does not match");
        await rejects(client.uploadParcel(bindleId(invoice), "f".repeat(64), Buffer.from("x")), 400, `Parcel SHA ${"f".repeat(64)} does not exist`);
        await rejects(client.createInvoice("bindleVersion = 1"), undefined, "invoice: bindleVersion must be a string");
        assert.strictEqual(server.count("POST", "/v1/_i/"), 2, "4xx answers are not retried");
    });

    it("sends HTTP basic auth: anonymous writes get 403, a wrong password 401, the right one works", async () => {
        server.users = { deployer: "s3cret" };
        const { toml } = helloInvoice();
        await rejects(bindleClient(fast(server)).createInvoice(toml), 403, "access denied");
        await rejects(bindleClient(fast(server, { username: "deployer", password: "nope" })).createInvoice(toml), 401, "401 Unauthorized: unauthorized");
        assert.strictEqual((await bindleClient(fast(server, { username: "deployer", password: "s3cret" })).createInvoice(toml)).status, "accepted");
        assert.strictEqual(server.log.at(-1)!.auth, `Basic ${Buffer.from("deployer:s3cret").toString("base64")}`);
        assert.strictEqual(server.count("POST", "/v1/_i"), 3);
    });

    it("retries 5xx with backoff and succeeds; a persistent 5xx fails after the bounded attempts", async () => {
        const { toml } = helloInvoice();
        server.faults = [503, 502];
        assert.strictEqual((await bindleClient(fast(server, { maxAttempts: 3 })).createInvoice(toml)).status, "accepted");
        assert.strictEqual(server.count("POST", "/v1/_i"), 3);
        server.failAll = 500;
        await rejects(bindleClient(fast(server, { maxAttempts: 3 })).yankInvoice("hello/1.0.0"), 500, "DELETE /_i/hello/1.0.0", "500 Internal Server Error", "injected 500", "after 3 attempts");
        assert.strictEqual(server.count("DELETE", "/v1/_i/"), 3);
    });

    it("retries refused connections a bounded number of times", async () => {
        const closed = await new FakeBindle().start();
        await closed.stop();
        const started = Date.now();
        await rejects(bindleClient({ serverUrl: closed.url, maxAttempts: 3, backoffMs: 20 }).getInvoice("hello/1.0.0"), undefined, "ECONNREFUSED", "after 3 attempts");
        assert.ok(Date.now() - started >= 60, "backs off 20 + 40 ms between attempts");
    });

    it("yanks: DELETE answers 200, a yanked invoice is refused without ?yanked=true, re-pushing it fails clearly", async () => {
        const { invoice, toml } = helloInvoice();
        const client = bindleClient(fast(server));
        await client.createInvoice(toml);
        assert.strictEqual(await client.yankInvoice(bindleId(invoice)), "yanked");
        await rejects(client.getInvoice(bindleId(invoice)), 403, "bindle is yanked");
        assert.deepStrictEqual(await client.getInvoice(bindleId(invoice), { yanked: true }), { ...invoice, yanked: true });
        assert.strictEqual(await client.yankInvoice("hello/0.0.1"), "not-found");
        await rejects(client.createInvoice(toml), 409, "already exists and is yanked");
    });

    it("reads error bodies as TOML, JSON or text", () => {
        assert.strictEqual(errorMessageOf(Buffer.from('error = "bindle is yanked"\n')), "bindle is yanked");
        assert.strictEqual(errorMessageOf(Buffer.from('{"error":"access denied"}')), "access denied");
        assert.strictEqual(errorMessageOf(Buffer.from("Bad Gateway\n")), "Bad Gateway");
        assert.strictEqual(errorMessageOf(Buffer.alloc(0)), "(empty body)");
    });

    it("verifies the server certificate against the given CA", async function () {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bindle-tls-"));
        const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
        const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca");
        ssl("req", ...ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1");
        fs.writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
        ssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "1", "-extfile", "ext.cnf");
        const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
        const tlsServer = await new FakeBindle().start({ key: read("srv.key"), cert: read("srv.pem") });
        try {
            const { toml } = helloInvoice();
            assert.ok(tlsServer.url.startsWith("https://"));
            assert.strictEqual((await bindleClient(fast(tlsServer, { caPem: read("ca.pem") })).createInvoice(toml)).status, "accepted");
            await rejects(bindleClient(fast(tlsServer)).createInvoice(toml), undefined, "certificate");
            assert.strictEqual(tlsServer.count("POST", "/v1/_i"), 1);
        } finally {
            await tlsServer.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("BindlePush dynamic provider (after closure serialization)", function () {
    this.timeout(20_000);
    let provider: typeof bindlePushProvider;
    let server: FakeBindle;
    let tmp: string;

    let registered: MockResource;

    before(async () => {
        // What `new BindlePush(...)` stores in the stack: the provider serialized; revived here as the engine does.
        const pkg = readSpinApp(HELLO);
        const run = await evaluateStack("dev", () => {
            new BindlePush("hello", { serverUrl: "https://bindle.example:8085/v1", username: "deployer", password: "pw", signingKey: "k", signerName: "ops", ...pushContent(pkg, buildInvoice(pkg)) });
            return {};
        });
        [registered] = ofType(run, "pulumi-nodejs:dynamic/spin-cloud:BindlePush");
        assert.ok(registered, run.resources.map((r) => r.type).join(", "));
        const text = String(registered.inputs.__provider);
        assert.ok(!/@pulumi\/pulumi/.test(text), "the serialized provider must not pull in the Pulumi SDK");
        provider = require("require-from-string")(text).handler();
    });
    beforeEach(async () => {
        server = await new FakeBindle().start();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bindle-push-"));
        fs.cpSync(HELLO, tmp, { recursive: true });
    });
    afterEach(async () => { await server.stop(); fs.rmSync(tmp, { recursive: true, force: true }); });

    const inputsFor = (dir: string, extra: Partial<BindlePushInputs> = {}): BindlePushInputs => {
        const pkg = readSpinApp(dir);
        return { serverUrl: server.url, ...pushContent(pkg, buildInvoice(pkg)), ...extra };
    };

    it("create pushes the invoice and only the missing parcels; outputs the id and shas", async () => {
        const inputs = inputsFor(tmp);
        const { invoice, files } = helloInvoice(tmp);
        const [present] = [...files.keys()];
        server.parcels.set(present, files.get(present)!);
        const result = await provider.create(inputs);
        assert.strictEqual(result.id, bindleId(invoice));
        assert.deepStrictEqual(result.outs!.parcelShas, [...files.keys()].sort());
        assert.strictEqual(server.count("POST", "/v1/_i/"), files.size - 1, "the parcel already on the server is not uploaded");
        assert.deepStrictEqual([...server.parcels.keys()].sort(), [...files.keys()].sort());
        const again = await provider.create(inputs);
        assert.strictEqual(again.id, result.id);
        assert.strictEqual(server.count("POST", "/v1/_i/"), files.size - 1, "409: nothing left to upload");
    });

    it("fails, naming the file, when a file changed since planning, before or during the push", async () => {
        const inputs = inputsFor(tmp);
        fs.appendFileSync(path.join(tmp, "static", "index.html"), "!");
        await rejects(provider.create(inputs), undefined, "static/index.html changed since the plan", "run pulumi up again");
        assert.strictEqual(server.log.length, 0, "nothing was sent");
        const fresh = inputsFor(tmp);
        server.onInvoiceCreated = () => fs.writeFileSync(path.join(tmp, "dist", "web.wasm"), "rebuilt");
        await rejects(provider.create(fresh), undefined, "dist/web.wasm changed since the plan");
        assert.ok(!server.parcels.has(fresh.parcels.find((p) => p.path === "dist/web.wasm")!.sha256));
    });

    it("signs the invoice as creator when given a key; an unsigned invoice is refused by a signing server", async () => {
        const key = generateSigningKey();
        server.keyring = [key.publicKey];
        await rejects(provider.create(inputsFor(tmp)), 400, "No signatures found on invoice");
        const signed = await provider.create(inputsFor(tmp, { signingKey: key.keypair, signerName: "spin-cloud <ops@example.com>" }));
        const stored = server.invoices.get(signed.id)!.invoice;
        assert.deepStrictEqual(stored.signature.map((s: any) => [s.by, s.role, s.key]), [["spin-cloud <ops@example.com>", "creator", key.publicKey]]);
        await rejects(provider.create(inputsFor(tmp, { signingKey: generateSigningKey().keypair, signerName: "stranger" })), 400, "none of the signatures are made with a known key");
    });

    it("delete yanks the bindle (idempotent); diff replaces on a new bindle id or server only", async () => {
        const inputs = inputsFor(tmp, { username: "u", password: "p" });
        const { id, outs } = await provider.create(inputs);
        await provider.delete!(id, outs!);
        assert.strictEqual(server.invoices.get(id)!.yanked, true);
        await provider.delete!(id, outs!);
        await provider.delete!("hello/0.0.9", { ...outs!, bindleId: "hello/0.0.9" });

        assert.deepStrictEqual(await provider.diff!(id, outs!, { ...inputs, appDir: "/elsewhere", parcels: inputs.parcels.map((p) => ({ ...p, absolutePath: `/elsewhere/${p.path}` })) }), { changes: false, replaces: [], deleteBeforeReplace: false });
        assert.deepStrictEqual(await provider.diff!(id, outs!, { ...inputs, password: "rotated" }), { changes: true, replaces: [], deleteBeforeReplace: false });
        assert.deepStrictEqual((await provider.diff!(id, outs!, { ...inputs, serverUrl: "https://other:8085/v1" })).replaces, ["serverUrl"]);
        fs.appendFileSync(path.join(tmp, "assets", "icons", "logo.svg"), " ");
        assert.deepStrictEqual((await provider.diff!(id, outs!, inputsFor(tmp, { username: "u", password: "p" }))).replaces, ["invoiceToml"]);
        assert.strictEqual((await provider.update!(id, outs!, { ...inputs, password: "rotated" })).outs!.password, "rotated");
    });

    it("check reports invoice parcels without a local file and a bad server URL", async () => {
        const inputs = inputsFor(tmp);
        const { failures } = await provider.check!(inputs, { ...inputs, serverUrl: "ftp://x", parcels: inputs.parcels.slice(1) });
        assert.deepStrictEqual(failures!.map((f) => f.property), ["serverUrl", "parcels"]);
        assert.ok(failures![1].reason.includes(`"${inputs.parcels[0].path}"`));
        assert.deepStrictEqual((await provider.check!(inputs, { ...inputs, signingKey: "k" })).failures, [{ property: "signerName", reason: "required with signingKey" }]);
        assert.deepStrictEqual((await provider.check!(inputs, inputs)).failures, []);
    });

    it("registers as a spin-cloud:BindlePush dynamic resource with the password and signing key secret", () => {
        assert.ok(isSecretInput(registered.inputs.password) && isSecretInput(registered.inputs.signingKey));
        assert.strictEqual(registered.inputs.username, "deployer");
        assert.match(String(registered.inputs.__provider), /exports\.handler/);
    });
});
