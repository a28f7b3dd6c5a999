/**
 * BindlePush revisions, re-pushes and confirmed uploads (issue 14), on the serialized provider
 * against the fake server; the real servers are in test/real/bindle/.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BindlePush, BindlePushInputs, bindlePushProvider, pushContent } from "../../components/apps/bindle-push";
import { bindleId, buildInvoice } from "../../components/bindle/invoice";
import { readSpinApp } from "../../components/apps/manifest";
import { FakeBindle, HELLO, QUICK_READINESS, rejects } from "../harness/fake-bindle";
import { evaluateStack, ofType } from "../harness/mocks";

describe("BindlePush revisions and confirmed uploads (after closure serialization)", function () {
    this.timeout(20_000);
    let provider: typeof bindlePushProvider;
    let server: FakeBindle;
    let tmp: string;

    before(async () => {
        const pkg = readSpinApp(HELLO);
        const run = await evaluateStack("dev", () => {
            new BindlePush("hello", { serverUrl: "https://bindle.example:8085/v1", keepRevisions: 2, ...pushContent(pkg, buildInvoice(pkg)) });
            return {};
        });
        provider = require("require-from-string")(String(ofType(run, "pulumi-nodejs:dynamic/spin-cloud:BindlePush")[0].inputs.__provider)).handler();
    });
    beforeEach(async () => {
        server = await new FakeBindle().start();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bindle-rev-"));
        fs.cpSync(HELLO, tmp, { recursive: true });
    });
    afterEach(async () => { await server.stop(); fs.rmSync(tmp, { recursive: true, force: true }); });

    const inputsFor = (extra: Partial<BindlePushInputs> = {}): BindlePushInputs => {
        const pkg = readSpinApp(tmp);
        return { serverUrl: server.url, readiness: QUICK_READINESS, ...pushContent(pkg, buildInvoice(pkg)), ...extra };
    };
    const edit = (text: string) => fs.writeFileSync(path.join(tmp, "static", "index.html"), text);

    it("keeps the last N revisions; yanks the expired one only with yankExpired; never a retained one", async () => {
        const a = await provider.create(inputsFor({ keepRevisions: 2 }));
        edit("b");
        const b = await provider.update!(a.id, a.outs!, inputsFor({ keepRevisions: 2 }));
        assert.deepStrictEqual(b.outs!.revisions, [b.outs!.bindleId, a.outs!.bindleId]);
        assert.strictEqual(b.outs!.currentBindleId, b.outs!.bindleId);
        edit("c");
        const c = await provider.update!(a.id, b.outs!, inputsFor({ keepRevisions: 2 }));
        assert.deepStrictEqual(c.outs!.revisions, [c.outs!.bindleId, b.outs!.bindleId]);
        assert.strictEqual(server.invoices.get(a.outs!.bindleId)!.yanked, false, "not on purpose: nothing is yanked");
        edit("d");
        const d = await provider.update!(a.id, c.outs!, inputsFor({ keepRevisions: 2, yankExpired: true }));
        assert.strictEqual(server.invoices.get(b.outs!.bindleId)!.yanked, true, "b fell out of the window");
        assert.strictEqual(server.invoices.get(c.outs!.bindleId)!.yanked, false, "c is retained");
        assert.strictEqual(server.invoices.get(d.outs!.bindleId)!.yanked, false);
    });

    it("going back to earlier content reuses the intact bindle; a yanked one fails saying how to recover", async () => {
        const a = await provider.create(inputsFor());
        edit("b");
        const b = await provider.update!(a.id, a.outs!, inputsFor());
        fs.cpSync(path.join(HELLO, "static", "index.html"), path.join(tmp, "static", "index.html")); // git revert
        const back = await provider.update!(a.id, b.outs!, inputsFor());
        assert.strictEqual(back.outs!.bindleId, a.outs!.bindleId);
        assert.deepStrictEqual(back.outs!.revisions, [a.outs!.bindleId, b.outs!.bindleId]);
        server.invoices.get(b.outs!.bindleId)!.yanked = true;
        edit("b");
        await rejects(provider.update!(a.id, back.outs!, inputsFor()), 409, `${b.outs!.bindleId} already exists`, "is yanked", "change application.version in spin.toml", "`revision`");
    });

    it("a pinned revision runs with its own parcels; an unknown or yanked pin fails", async () => {
        const a = await provider.create(inputsFor());
        edit("b");
        const b = await provider.update!(a.id, a.outs!, inputsFor({ pinnedBindleId: a.outs!.bindleId }));
        assert.strictEqual(b.outs!.currentBindleId, a.outs!.bindleId);
        assert.deepStrictEqual(b.outs!.currentParcels, a.outs!.currentParcels);
        assert.ok(b.outs!.revisions.includes(a.outs!.bindleId) && b.outs!.revisions[0] === b.outs!.bindleId);
        assert.ok(a.outs!.currentParcels.some((p) => p.path === "spin.toml"));
        await rejects(provider.update!(a.id, b.outs!, inputsFor({ pinnedBindleId: "hello/9.9.9" })), undefined, "hello/9.9.9 is not on");
        server.invoices.get(a.outs!.bindleId)!.yanked = true;
        await rejects(provider.update!(a.id, b.outs!, inputsFor({ pinnedBindleId: a.outs!.bindleId })), undefined, "is yanked");
    });

    it("a new server URL pushes there, starts its revisions there and sends nothing to the old one", async () => {
        const a = await provider.create(inputsFor());
        const other = await new FakeBindle().start();
        try {
            const before = server.log.length;
            const moved = await provider.update!(a.id, a.outs!, { ...inputsFor(), serverUrl: other.url });
            assert.strictEqual(server.log.length, before, "the old server is not touched");
            assert.deepStrictEqual(moved.outs!.revisions, [a.outs!.bindleId]);
            assert.ok(other.invoices.has(a.outs!.bindleId));
        } finally { await other.stop(); }
    });

    it("a parcel another writer is still uploading (409) is confirmed with GET /_r/missing before the push counts it", async () => {
        const inputs = inputsFor();
        const wasm = inputs.parcels.find((p) => p.path === "dist/web.wasm")!;
        server.inProgress.set(wasm.sha256, 1);
        const { outs } = await provider.create(inputs);
        assert.ok(server.parcels.has(wasm.sha256), "uploaded again after the confirm round");
        assert.ok(server.count("GET", "/v1/_r/missing/") >= 2);
        assert.strictEqual(outs!.bindleId, bindleId(buildInvoice(readSpinApp(tmp))));
    });
});
