/**
 * Issue 14 "Uploads that cannot half-succeed", the repair: after an upload interrupted mid-body
 * the real bindle-server (0.8.2 and 0.9.1) keeps an empty parcels/<sha>/ and answers 409 to every
 * re-upload; the push fails naming the sha and the repair; the repair is the bindle job's
 * prestart task (provisioning/jobs/bindle-repair.ts) run as Nomad runs it (template rendered into
 * the task's local/, `${NOMAD_TASK_DIR}` interpolated, the raw_exec command) while the server is
 * stopped, as on a `nomad job restart -all-tasks`; after it the push ends with every parcel
 * present, and the parcels that were complete before are untouched.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { bindlePushProvider as provider } from "../../../components/apps/bindle-push";
import { parseInvoice, renderInvoice, signInvoice } from "../../../components/bindle/invoice";
import { BINDLE_REPAIR_COMMAND, BINDLE_REPAIR_TASK, bindleRepairTask } from "../../../provisioning/jobs/bindle-repair";
import { BINDLE_VERSIONS, bindleBinary, interruptedUpload, StartedBindle, startBindle } from "../harness/bindle-server";
import { itWith, onPath, Processes, request, sleep, tempDir } from "../harness/runtime";
import { appCopy, editPage, inputsFor, sha256 } from "./app";

/** Runs the repair task as Nomad's raw_exec would for the server whose store is `store`; returns its output. */
function runRepairTask(b: StartedBindle, taskDir: string): string {
    const port = Number(new URL(b.directUrl).port);
    const task = bindleRepairTask({ driver: "raw_exec", bindleServerBinary: onPath(bindleBinary(b.version))!, port, dataDir: path.dirname(b.store) });
    const config = task.Config as { command: string; args: string[] };
    assert.strictEqual(config.args.at(-1), b.store, "the repair works on the server's --directory");
    for (const t of task.Templates!) {
        fs.mkdirSync(path.dirname(path.join(taskDir, t.DestPath)), { recursive: true });
        fs.writeFileSync(path.join(taskDir, t.DestPath), t.EmbeddedTmpl, { mode: parseInt(t.Perms ?? "0644", 8) });
    }
    const args = config.args.map((a) => a.replace("${NOMAD_TASK_DIR}", path.join(taskDir, "local")));
    const run = spawnSync(config.command, args, { cwd: taskDir, encoding: "utf8", timeout: 30_000 });
    assert.strictEqual(run.status, 0, `${BINDLE_REPAIR_TASK} exited ${run.status}: ${run.stdout}${run.stderr}`);
    return run.stdout;
}

async function assertServed(b: StartedBindle, bindleId: string, parcels: readonly { path: string; sha256: string }[]): Promise<void> {
    for (const p of parcels) {
        const res = await fetch(`${b.directUrl}/_i/${bindleId}@${p.sha256}`);
        assert.strictEqual(res.status, 200, `${bindleId} ${p.path}`);
        assert.strictEqual(sha256(Buffer.from(await res.arrayBuffer())), p.sha256, p.path);
    }
}

for (const version of BINDLE_VERSIONS) {
    describe(`real bindle-server ${version}: the bindle job's repair of an interrupted upload`, function () {
        this.timeout(180_000);
        const bin = [bindleBinary(version), "sh"];
        const processes = new Processes(tempDir(`bindle-repair-logs-${version}`));
        let b: StartedBindle;

        before(async function () {
            if (bin.some((n) => !onPath(n))) return;
            b = await startBindle(version, processes);
        });
        after(async () => { await b?.close(); await processes.stopAll(); });

        itWith(bin, "interrupted upload -> the push names the sha and the repair -> repair task while stopped -> push complete", async () => {
            // A bindle pushed before: its parcels are complete and must survive the repair.
            const before = inputsFor(b, appCopy(processes.keepDir(tempDir(`repair-a-${version}`)), 256 * 1024));
            const { outs: beforeOuts } = await provider.create(before);

            const dir = appCopy(processes.keepDir(tempDir(`repair-b-${version}`)), 4 * 1024 * 1024);
            editPage(dir, "<h1>second</h1>");
            const inputs = inputsFor(b, dir);
            const wasm = inputs.parcels.find((p) => p.path === "dist/web.wasm")!;
            const invoice = parseInvoice(inputs.invoiceToml);
            const id = `${invoice.bindle.name}/${invoice.bindle.version}`;
            const body = renderInvoice(signInvoice(invoice, { by: "spin-cloud pulumi", privateKey: b.creator.keypair }));
            const posted = await request(`${b.directUrl}/_i`, {
                method: "POST", body, headers: { "Content-Type": "application/toml", Authorization: `Basic ${Buffer.from(`${b.username}:${b.password}`).toString("base64")}` },
            });
            assert.strictEqual(posted.status, 202, posted.body);
            await interruptedUpload(b, id, wasm.sha256, fs.readFileSync(wasm.absolutePath), 1024 * 1024);
            await sleep(500);
            const parcelDir = path.join(b.store, "parcels", wasm.sha256);
            assert.deepStrictEqual(fs.readdirSync(parcelDir), [], "the server keeps an empty parcel directory");

            // The push refuses to count it, naming the sha, its directory and the repair.
            let t = Date.now();
            await assert.rejects(provider.create(inputs), (e: Error) =>
                e.message.includes(`dist/web.wasm (sha256 ${wasm.sha256}, upload answered 409)`) &&
                e.message.includes(`\`${BINDLE_REPAIR_COMMAND}\``) && e.message.includes(`(here parcels/${wasm.sha256}/)`) || assert.fail(e.message));
            const failedMs = Date.now() - t;
            assert.deepStrictEqual(fs.readdirSync(parcelDir), [], "still refused after the push's rounds");

            // What the restart does: the server stops, the prestart task runs, the server starts again.
            let output = "";
            t = Date.now();
            await b.restart(() => { output = runRepairTask(b, processes.keepDir(tempDir(`repair-task-${version}`))); });
            const restartMs = Date.now() - t;
            const complete = new Set([...before.parcels.map((p) => p.sha256), ...inputs.parcels.filter((p) => p !== wasm).map((p) => p.sha256)]).size;
            assert.match(output, new RegExp(`removed parcels/${wasm.sha256} `));
            assert.match(output, /bindle-repair: 1 removed, \d+ complete/);
            assert.ok(!fs.existsSync(parcelDir), "the empty directory is gone");
            const [, count] = /1 removed, (\d+) complete/.exec(output)!;
            assert.ok(Number(count) >= new Set(before.parcels.map((p) => p.sha256)).size && Number(count) <= complete, output);

            t = Date.now();
            const { outs } = await provider.create(inputs);
            const pushMs = Date.now() - t;
            await assertServed(b, outs!.bindleId, inputs.parcels);
            await assertServed(b, beforeOuts!.bindleId, before.parcels);
            console.log(`      ${version}: push refused in ${failedMs} ms; restart with repair ${restartMs} ms (${output.trim().split("\n").at(-1)}); ` +
                `push after repair ${pushMs} ms, ${inputs.parcels.length} + ${before.parcels.length} parcels served`);
        });
    });
}
