/**
 * The Bindle client against the in-process fake Bindle server (test/harness/fake-bindle.ts):
 * invoices and parcels, 4xx errors, basic auth, bounded retries, yanking, TLS with a given CA.
 */
import * as assert from "assert";
import { bindleClient, errorMessageOf } from "../../components/bindle/client";
import { bindleId, renderInvoice } from "../../components/bindle/invoice";
import { makeLoopbackPki } from "../aws/loopback-pki";
import { FakeBindle, fast, helloInvoice, rejects } from "../harness/fake-bindle";

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
        const pki = makeLoopbackPki("bindle-tls");
        const tlsServer = await new FakeBindle().start({ key: pki.key, cert: pki.cert });
        try {
            const { toml } = helloInvoice();
            assert.ok(tlsServer.url.startsWith("https://"));
            assert.strictEqual((await bindleClient(fast(tlsServer, { caPem: pki.caPem })).createInvoice(toml)).status, "accepted");
            await rejects(bindleClient(fast(tlsServer)).createInvoice(toml), undefined, "certificate");
            assert.strictEqual(tlsServer.count("POST", "/v1/_i"), 1);
        } finally {
            await tlsServer.stop();
            pki.remove();
        }
    });
});
