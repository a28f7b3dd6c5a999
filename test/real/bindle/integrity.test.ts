/**
 * Uploads that cannot half-succeed, and what each real bindle-server does with unsigned and
 * wrongly signed invoices (issue 14 "Uploads that cannot half-succeed").
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { bindlePushProvider as provider } from "../../../components/apps/bindle-push";
import { bindleClient } from "../../../components/bindle/client";
import { generateSigningKey, parseInvoice, renderInvoice, signInvoice } from "../../../components/bindle/invoice";
import { BINDLE_VERSIONS, bindleBinary, interruptedUpload, RealBindle, startBindle } from "../harness/bindle-server";
import { itWith, onPath, Processes, request, sleep, tempDir } from "../harness/runtime";
import { appCopy, editPage, inputsFor, sha256 } from "./app";

/** What each version answers to POST /_i of an invoice without signatures (checked below). */
const UNSIGNED_STATUS: Record<string, number> = { "0.8.2": 202, "0.9.1": 400 };

for (const version of BINDLE_VERSIONS) {
    describe(`real bindle-server ${version}: interrupted uploads and invoice signatures`, function () {
        const bin = [bindleBinary(version)];
        const processes = new Processes(tempDir(`bindle-int-logs-${version}`));
        let b: RealBindle & { close(): Promise<void> };
        const auth = () => `Basic ${Buffer.from(`${b.username}:${b.password}`).toString("base64")}`;
        const postInvoice = (toml: string) => request(`${b.directUrl}/_i`, { method: "POST", body: toml, headers: { "Content-Type": "application/toml", Authorization: auth() } });

        before(async function () {
            if (bin.some((n) => !onPath(n))) return;
            b = await startBindle(version, processes);
        });
        after(async () => { await b?.close(); await processes.stopAll(); });

        itWith(bin, "an upload aborted mid-body: the push refuses to count the parcel; after the directory is removed it ends with every parcel present", async () => {
            const dir = appCopy(processes.keepDir(tempDir(`int-${version}`)), 4 * 1024 * 1024);
            const inputs = inputsFor(b, dir);
            const wasm = inputs.parcels.find((p) => p.path === "dist/web.wasm")!;
            const id = `${parseInvoice(inputs.invoiceToml).bindle.name}/${parseInvoice(inputs.invoiceToml).bindle.version}`;
            const body = renderInvoice(signInvoice(parseInvoice(inputs.invoiceToml), { by: "spin-cloud pulumi", privateKey: b.creator.keypair }));
            assert.strictEqual((await postInvoice(body)).status, 202);
            await interruptedUpload(b, id, wasm.sha256, fs.readFileSync(wasm.absolutePath), 1024 * 1024);
            await sleep(500);
            const parcelDir = path.join(b.store, "parcels", wasm.sha256);
            assert.deepStrictEqual(fs.readdirSync(parcelDir), [], "the server keeps an empty parcel directory");
            // The server contradicts itself: POST /_i counts the directory present, GET /_r/missing does not.
            const missing = await bindleClient({ serverUrl: b.directUrl }).getMissingParcels(id);
            assert.ok(missing.some((l) => l.sha256 === wasm.sha256));
            // The project's client reads the 409 (Expect: 100-continue) instead of dying on EPIPE mid-body.
            const pusher = bindleClient({ serverUrl: b.directUrl, username: b.username, password: b.password, maxAttempts: 1 });
            assert.strictEqual(await pusher.uploadParcel(id, wasm.sha256, fs.readFileSync(wasm.absolutePath)), "exists");

            await assert.rejects(provider.create(inputs), (e: Error) => e.message.includes(`dist/web.wasm (sha256 ${wasm.sha256}, upload answered 409)`) && /empty directory parcels\/<sha256>\//.test(e.message));
            fs.rmdirSync(parcelDir); // what the error tells the operator to do
            const { outs } = await provider.create(inputs);
            for (const p of inputs.parcels) {
                const res = await fetch(`${b.directUrl}/_i/${outs!.bindleId}@${p.sha256}`);
                assert.strictEqual(res.status, 200, p.path);
                assert.strictEqual(sha256(Buffer.from(await res.arrayBuffer())), p.sha256, p.path);
            }
        });

        itWith(bin, "two pushes of the same new parcel at once both end with it really present", async () => {
            const dir = appCopy(processes.keepDir(tempDir(`race-${version}`)), 8 * 1024 * 1024);
            const other = appCopy(processes.keepDir(tempDir(`race2-${version}`)), 8 * 1024 * 1024);
            editPage(other, "<h1>other app, same component</h1>");
            const results = await Promise.allSettled([provider.create(inputsFor(b, dir)), provider.create(inputsFor(b, other))]);
            for (const r of results) {
                if (r.status === "rejected") assert.fail(`a concurrent push failed: ${(r.reason as Error).message}`);
                assert.deepStrictEqual(await bindleClient({ serverUrl: b.directUrl }).getMissingParcels(r.value.outs!.bindleId), []);
            }
        });

        itWith(bin, `an unsigned invoice posted directly: ${UNSIGNED_STATUS[version]}; a wrongly signed one: 400`, async () => {
            const dir = appCopy(processes.keepDir(tempDir(`sig-${version}`)));
            editPage(dir, `<h1>unsigned ${version}</h1>`);
            const unsigned = inputsFor(b, dir).invoiceToml;
            const res = await postInvoice(unsigned);
            assert.strictEqual(res.status, UNSIGNED_STATUS[version], res.body);
            editPage(dir, `<h1>stranger ${version}</h1>`);
            const stranger = renderInvoice(signInvoice(parseInvoice(inputsFor(b, dir).invoiceToml), { by: "stranger", privateKey: generateSigningKey().keypair }));
            const strange = await postInvoice(stranger);
            assert.strictEqual(strange.status, 400, strange.body);
            editPage(dir, `<h1>tampered ${version}</h1>`);
            const signed = signInvoice(parseInvoice(inputsFor(b, dir).invoiceToml), { by: "spin-cloud pulumi", privateKey: b.creator.keypair });
            const tampered = renderInvoice({ ...signed, parcel: signed.parcel!.map((p, i) => (i === 0 ? { label: { ...p.label, sha256: "0".repeat(64) } } : p)) });
            const bad = await postInvoice(tampered);
            assert.strictEqual(bad.status, 400, bad.body);
            console.log(`      bindle-server ${version}: unsigned ${res.status} ${res.body.trim().slice(0, 120)} | unknown key ${strange.status} ${strange.body.trim()} | tampered ${bad.status} ${bad.body.trim()}`);
        });
    });
}
