/**
 * The BindlePush dynamic provider against the in-process fake Bindle server (test/harness/fake-bindle.ts),
 * driven after a real Pulumi closure serialization round trip.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BindlePush, BindlePushInputs, bindlePushProvider, pushContent } from "../../components/apps/bindle-push";
import { bindleId, buildInvoice, generateSigningKey } from "../../components/bindle/invoice";
import { readSpinApp } from "../../components/apps/manifest";
import { FakeBindle, HELLO, helloInvoice, QUICK_READINESS, rejects } from "../harness/fake-bindle";
import { MockResource, evaluateStack, isSecretInput, ofType } from "../harness/mocks";

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
        return { serverUrl: server.url, readiness: QUICK_READINESS, ...pushContent(pkg, buildInvoice(pkg)), ...extra };
    };

    it("create pushes the invoice and only the missing parcels; outputs the id and shas", async () => {
        const inputs = inputsFor(tmp);
        const { invoice, files } = helloInvoice(tmp);
        const [present] = [...files.keys()];
        server.parcels.set(present, files.get(present)!);
        const result = await provider.create(inputs);
        assert.strictEqual(result.id, invoice.bindle.name, "the resource id names the app's bindle, stable across revisions");
        assert.strictEqual(result.outs!.bindleId, bindleId(invoice));
        assert.deepStrictEqual(result.outs!.revisions, [bindleId(invoice)]);
        assert.deepStrictEqual(result.outs!.parcelShas, [...files.keys()].sort());
        assert.strictEqual(server.count("POST", "/v1/_i/"), files.size - 1, "the parcel already on the server is not uploaded");
        assert.deepStrictEqual([...server.parcels.keys()].sort(), [...files.keys()].sort());
        const again = await provider.create(inputs);
        assert.strictEqual(again.outs!.bindleId, result.outs!.bindleId);
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
        const stored = server.invoices.get(signed.outs!.bindleId)!.invoice;
        assert.deepStrictEqual(stored.signature.map((s: any) => [s.by, s.role, s.key]), [["spin-cloud <ops@example.com>", "creator", key.publicKey]]);
        await rejects(provider.create(inputsFor(tmp, { signingKey: generateSigningKey().keypair, signerName: "stranger" })), 400, "none of the signatures are made with a known key");
    });

    it("delete yanks nothing unless yankExpired; diff never replaces, it updates on a new bindle id, server or credentials", async () => {
        const inputs = inputsFor(tmp, { username: "u", password: "p" });
        const { id, outs } = await provider.create(inputs);
        const bid = outs!.bindleId;
        await provider.delete!(id, outs!);
        assert.strictEqual(server.invoices.get(bid)!.yanked, false, "removing an app leaves its bindle (re-adding it reuses it)");
        await provider.delete!(id, { ...outs!, yankExpired: true });
        assert.strictEqual(server.invoices.get(bid)!.yanked, true, "with yankExpired, on purpose");
        await provider.delete!(id, { ...outs!, yankExpired: true });
        await provider.delete!(id, { ...outs!, yankExpired: true, revisions: ["hello/0.0.9"] });
        await provider.delete!(id, { ...outs!, yankExpired: true, serverUrl: "http://127.0.0.1:9/v1" }); // gone: not a delete that fails for ever

        assert.deepStrictEqual(await provider.diff!(id, outs!, { ...inputs, appDir: "/elsewhere", parcels: inputs.parcels.map((p) => ({ ...p, absolutePath: `/elsewhere/${p.path}` })) }), { changes: false, replaces: [], deleteBeforeReplace: false });
        assert.deepStrictEqual(await provider.diff!(id, outs!, { ...inputs, password: "rotated" }), { changes: true, replaces: [], deleteBeforeReplace: false });
        assert.deepStrictEqual(await provider.diff!(id, outs!, { ...inputs, serverUrl: "https://other:8085/v1" }), { changes: true, replaces: [], deleteBeforeReplace: false });
        fs.appendFileSync(path.join(tmp, "assets", "icons", "logo.svg"), " ");
        assert.deepStrictEqual(await provider.diff!(id, outs!, inputsFor(tmp, { username: "u", password: "p" })), { changes: true, replaces: [], deleteBeforeReplace: false });
        assert.deepStrictEqual(await provider.diff!(id, outs!, { ...inputs, keepRevisions: 2 }), { changes: true, replaces: [], deleteBeforeReplace: false });
        assert.deepStrictEqual(await provider.diff!(id, outs!, { ...inputs, readiness: { consecutive: 3 } }), { changes: false, replaces: [], deleteBeforeReplace: false }, "readiness is how to push, not what");
    });

    it("waits for a streak of GET /healthz before its first write; gives up bounded, having written nothing", async () => {
        server.healthFailures = 3;
        let checksAtFirstWrite = -1;
        server.onInvoiceCreated = () => { if (checksAtFirstWrite < 0) checksAtFirstWrite = server.healthChecks; };
        await provider.create(inputsFor(tmp, { readiness: { consecutive: 2, intervalMs: 10, timeoutMs: 5_000 } }));
        assert.strictEqual(checksAtFirstWrite, 3 + 2, "the invoice is posted only after 3 failed and 2 good checks");
        assert.strictEqual(server.log[0].path, "/v1/_i", "the first request to the API is the invoice");

        const fresh = await new FakeBindle().start();
        try {
            fresh.healthFailures = 1_000;
            await rejects(provider.create({ ...inputsFor(tmp, { readiness: { consecutive: 2, intervalMs: 20, timeoutMs: 300 } }), serverUrl: fresh.url }),
                undefined, "is not ready", "2 consecutive successful GET /healthz", `before writing to ${fresh.url}`);
            assert.ok(fresh.healthChecks >= 5, String(fresh.healthChecks));
            assert.strictEqual(fresh.log.length, 0, "nothing was written");
        } finally { await fresh.stop(); }
    });

    it("check reports invoice parcels without a local file and a bad server URL", async () => {
        const inputs = inputsFor(tmp);
        const { failures } = await provider.check!(inputs, { ...inputs, serverUrl: "ftp://x", parcels: inputs.parcels.slice(1) });
        assert.deepStrictEqual(failures!.map((f) => f.property), ["serverUrl", "parcels"]);
        assert.ok(failures![1].reason.includes(`"${inputs.parcels[0].path}"`));
        assert.deepStrictEqual((await provider.check!(inputs, { ...inputs, signingKey: "k" })).failures, [{ property: "signerName", reason: "required with signingKey" }]);
        assert.deepStrictEqual((await provider.check!(inputs, inputs)).failures, []);
        const bad = (await provider.check!(inputs, { ...inputs, readiness: { consecutive: 0 } })).failures!;
        assert.deepStrictEqual(bad.map((f) => f.property), ["readiness"]);
        assert.match(bad[0].reason, /readiness\.consecutive = 0 is not allowed: an integer from 1 to 100/);
    });

    it("registers as a spin-cloud:BindlePush dynamic resource with the password and signing key secret", () => {
        assert.ok(isSecretInput(registered.inputs.password) && isSecretInput(registered.inputs.signingKey));
        assert.strictEqual(registered.inputs.username, "deployer");
        assert.match(String(registered.inputs.__provider), /exports\.handler/);
    });
});
