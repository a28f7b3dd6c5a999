/**
 * The project's BindlePush provider functions and Bindle client against real bindle-server 0.8.2
 * and 0.9.1, started with the project's flags and files (harness/bindle-server.ts). Issue 10
 * "The suite" 1, issue 14 "Revisions and rollback".
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { BindlePushOutputs, bindlePushProvider as provider } from "../../../components/apps/bindle-push";
import { bindleClient } from "../../../components/bindle/client";
import { parseInvoice, renderInvoice, signInvoice } from "../../../components/bindle/invoice";
import { spinAppJob } from "../../../provisioning/jobs/spin-app-job";
import { BINDLE_VERSIONS, bindleBinary, parcelPosts, RealBindle, startBindle } from "../harness/bindle-server";
import { itWith, Processes, request, tempDir } from "../harness/runtime";
import { appCopy, editPage, inputsFor, sha256 } from "./app";

for (const version of BINDLE_VERSIONS) {
    describe(`BindlePush against real bindle-server ${version}`, function () {
        const bin = [bindleBinary(version)];
        const processes = new Processes(tempDir(`bindle-logs-${version}`));
        let b: RealBindle & { close(): Promise<void> };
        let dir: string;
        let a: BindlePushOutputs; // the first content
        let second: BindlePushOutputs; // one file changed
        const client = () => bindleClient({ serverUrl: b.directUrl, username: b.username, password: b.password, backoffMs: 50 });
        const anonymous = (url: string) => request(url);

        before(async function () {
            if (bin.some((n) => !require("../harness/runtime").onPath(n))) return;
            b = await startBindle(version, processes);
            dir = appCopy(processes.keepDir(tempDir(`app-${version}`)));
        });
        after(async () => { await b?.close(); await processes.stopAll(); });

        itWith(bin, "create: the signed invoice and every parcel, confirmed present", async () => {
            const { id, outs } = await provider.create(inputsFor(b, dir));
            a = outs!;
            assert.strictEqual(id, a.bindleId.split("/").slice(0, -1).join("/"));
            assert.deepStrictEqual(a.revisions, [a.bindleId]);
            assert.strictEqual(parcelPosts(b).length, a.parcelShas.length);
            assert.deepStrictEqual(await client().getMissingParcels(a.bindleId), []);
            const stored = await client().getInvoice(a.bindleId);
            assert.deepStrictEqual(stored!.signature!.map((s) => [s.role, s.key]).sort(), [["creator", b.creator.publicKey], ["host", b.host.publicKey]]);
        });

        itWith(bin, "unchanged second push: diff says no change; pushing again uploads nothing", async () => {
            assert.strictEqual((await provider.diff!("x", a, inputsFor(b, dir))).changes, false);
            const from = b.seen.length;
            const again = await provider.create(inputsFor(b, dir));
            assert.strictEqual(again.outs!.bindleId, a.bindleId);
            assert.deepStrictEqual(parcelPosts(b, from), []);
        });

        itWith(bin, "update to new content uploads only the missing parcel and retains both revisions", async () => {
            editPage(dir, "<h1>second</h1>");
            const news = inputsFor(b, dir);
            assert.deepStrictEqual(await provider.diff!("x", a, news), { changes: true, replaces: [], deleteBeforeReplace: false });
            const from = b.seen.length;
            second = (await provider.update!("x", a, news)).outs!;
            const page = news.parcels.find((p) => p.path === "static/index.html")!;
            assert.deepStrictEqual(parcelPosts(b, from), [`POST /v1/_i/${second.bindleId}@${page.sha256}`]);
            assert.deepStrictEqual(second.revisions, [second.bindleId, a.bindleId]);
            assert.ok((await client().getInvoice(a.bindleId)) !== undefined, "the earlier revision stays");
        });

        itWith(bin, "going back to the earlier content (git revert) reuses the retained bindle", async () => {
            fs.cpSync(path.join(__dirname, "..", "..", "fixtures", "apps", "hello", "static", "index.html"), path.join(dir, "static", "index.html"));
            const from = b.seen.length;
            const back = (await provider.update!("x", second, inputsFor(b, dir))).outs!;
            assert.strictEqual(back.bindleId, a.bindleId);
            assert.deepStrictEqual(back.revisions, [a.bindleId, second.bindleId]);
            assert.deepStrictEqual(parcelPosts(b, from), []);
            assert.ok(b.seen.slice(from).some((s) => s.startsWith(`GET /v1/_r/missing/${a.bindleId}`)), "confirmed with GET /_r/missing");
            a = back;
        });

        itWith(bin, "anonymous parcel reads answer the bytes whose sha256 the Nomad artifact checks", async () => {
            const job = spinAppJob({
                name: "hello", datacenters: ["dc1"], architecture: "x86_64", instances: 1, resources: { cpuMhz: 100, memoryMb: 128 },
                bindle: { baseUrl: b.directUrl, bindleId: a.currentBindleId, parcels: a.currentParcels }, routing: { kind: "pathPrefix", prefix: "/hello" },
            });
            const artifacts = job.TaskGroups![0].Tasks![0].Artifacts!;
            assert.strictEqual(artifacts.length, a.parcelShas.length);
            for (const art of artifacts) {
                const res = await fetch(art.GetterSource!);
                assert.strictEqual(res.status, 200, art.GetterSource);
                const body = Buffer.from(await res.arrayBuffer());
                assert.strictEqual(`sha256:${sha256(body)}`, art.GetterOptions!.checksum);
            }
        });

        itWith(bin, "writes without credentials and with a wrong password are refused (the server's own codes)", async () => {
            const toml = (await anonymous(`${b.directUrl}/_i/${a.bindleId}`)).body;
            const post = (auth?: string) => request(`${b.directUrl}/_i`, { method: "POST", body: toml, headers: { "Content-Type": "application/toml", ...(auth ? { Authorization: auth } : {}) } });
            const none = await post();
            const wrong = await post(`Basic ${Buffer.from(`${b.username}:wrong`).toString("base64")}`);
            const yank = await request(`${b.directUrl}/_i/${a.bindleId}`, { method: "DELETE" });
            // src/authz/anonymous_get.rs: only GET is anonymous; src/authn/http_basic.rs: a bad password is 401.
            assert.deepStrictEqual([none.status, wrong.status, yank.status], [403, 401, 403], `${none.body} | ${wrong.body} | ${yank.body}`);
            assert.strictEqual((await anonymous(`${b.directUrl}/_i/${a.bindleId}`)).status, 200, "not yanked by the refused DELETE");
        });

        itWith(bin, "delete keeps the bindles; the same content pushed again after a delete is reused", async () => {
            await provider.delete!("x", a);
            for (const id of a.revisions) assert.strictEqual((await anonymous(`${b.directUrl}/_i/${id}`)).status, 200, id);
            const from = b.seen.length;
            const again = (await provider.create(inputsFor(b, dir))).outs!;
            assert.strictEqual(again.bindleId, a.bindleId);
            assert.deepStrictEqual(parcelPosts(b, from), []);
        });

        itWith(bin, "delete with yankExpired yanks on purpose; pushing that content again fails saying how to recover", async () => {
            await provider.delete!("x", { ...a, yankExpired: true });
            const invoice = await anonymous(`${b.directUrl}/_i/${a.bindleId}`);
            const parcel = await anonymous(`${b.directUrl}/_i/${a.bindleId}@${a.parcelShas[0]}`);
            const missing = await anonymous(`${b.directUrl}/_r/missing/${a.bindleId}`);
            assert.deepStrictEqual([invoice.status, parcel.status, missing.status], [403, 403, 403]);
            const fresh = inputsFor(b, dir);
            const toml = renderInvoice(signInvoice(parseInvoice(fresh.invoiceToml), { by: "spin-cloud pulumi", privateKey: b.creator.keypair }));
            const recreate = await request(`${b.directUrl}/_i`, { method: "POST", body: toml, headers: { "Content-Type": "application/toml", Authorization: `Basic ${Buffer.from(`${b.username}:${b.password}`).toString("base64")}` } });
            assert.strictEqual(recreate.status, 409, recreate.body);
            await assert.rejects(provider.create(inputsFor(b, dir)), (e: Error) => /is yanked/.test(e.message) && /change application\.version in spin\.toml/.test(e.message));
            editPage(dir, "<h1>after the yank</h1>");
            assert.ok((await provider.create(inputsFor(b, dir))).outs!.bindleId !== a.bindleId, "new content is a new id and pushes");
        });
    });
}
