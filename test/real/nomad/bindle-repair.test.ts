/**
 * Issue 14 "Uploads that cannot half-succeed", end to end in real Nomad 1.6.3 with the real
 * bindle-server 0.9.1: the project's bindle job (bindle-job.ts, local raw_exec runtime) with the
 * repair prestart task (bindle-repair.ts) first in its group, as it is to be wired; an upload
 * interrupted mid-body leaves parcels/<sha>/ empty, the push fails and names the command; that
 * command, run with the real `nomad` CLI, restarts the allocation with all its tasks, the repair
 * removes the directory before the server starts again, and the push then ends with every parcel
 * served. Harness changes to the job: service Provider "consul" -> "nomad" (the harness starts no Consul agent, as in
 * bindle-destroy.test.ts), and the repair task added first in the group while bindle-job.ts does
 * not render it yet (once it does, the job runs as rendered).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { bindlePushProvider as provider } from "../../../components/apps/bindle-push";
import { parseInvoice, renderInvoice, signInvoice } from "../../../components/bindle/invoice";
import { BINDLE_PUSH_USER } from "../../../components/platform/bindle-server";
import { bindleJob, BindleRuntime } from "../../../provisioning/jobs/bindle-job";
import { BINDLE_REPAIR_COMMAND, BINDLE_REPAIR_TASK } from "../../../provisioning/jobs/bindle-repair";
import { BINDLE_SERVER_TASK } from "../../../provisioning/jobs/bindle-task";
import { JOB_IDS, jobVariablePath } from "../../../provisioning/platform";
import { appCopy, inputsFor, sha256 } from "../bindle/app";
import { bindleJobSecrets, interruptedUpload } from "../harness/bindle-server";
import { NomadAgent, NOMAD_BINARY, nomadApi, startNomadDev, stopNomadJobs, unmountUnder } from "../harness/nomad-dev";
import { freePort, itWith, missing, onPath, Processes, request, sleep, tempDir, waitFor } from "../harness/runtime";

const BINDLE_BINARY = "bindle-server-0.9.1";
const BINARIES = [NOMAD_BINARY, BINDLE_BINARY, "sh"];

interface TaskState { State: string; Failed: boolean; Restarts: number; Events: { Type: string }[]; StartedAt: string; FinishedAt: string | null }

describe("real nomad 1.6.3 + bindle-server 0.9.1: the bindle job's prestart repair", function () {
    this.timeout(300_000);
    let processes: Processes | undefined;
    let nomad: NomadAgent | undefined;
    let dir = "";

    before(async function () {
        this.timeout(120_000);
        if (missing(BINARIES).length > 0) return;
        dir = tempDir("bindle-repair");
        processes = new Processes(dir);
        processes.keepDir(dir);
        nomad = await startNomadDev(processes, dir);
    });
    after(async function () {
        this.timeout(120_000);
        if (nomad) await stopNomadJobs(nomad, dir);
        await processes?.stopAll();
        if (dir) unmountUnder(dir);
    });

    const stdout = (n: NomadAgent, alloc: string, task: string) =>
        request(`${n.url}/v1/client/fs/logs/${alloc}?task=${task}&type=stdout&plain=true&origin=start`).then((r) => r.body);

    itWith(BINARIES, "an interrupted upload is healed by the command the push names, and the push then completes", async () => {
        const n = nomad!;
        const port = await freePort();
        const runtime: BindleRuntime = { driver: "raw_exec", bindleServerBinary: onPath(BINDLE_BINARY)!, port, dataDir: path.join(dir, "bindle-data") };
        fs.mkdirSync(runtime.dataDir);
        const { items, password, creator } = bindleJobSecrets();
        await nomadApi(n, "PUT", `/v1/var/${jobVariablePath(JOB_IDS.bindle)}`, { Path: jobVariablePath(JOB_IDS.bindle), Items: items });
        const rendered = bindleJob({ datacenters: ["dc1"], architecture: process.arch === "arm64" ? "arm64" : "x86_64", runtime });
        const [group] = rendered.TaskGroups;
        const job = { ...rendered, TaskGroups: [{
            ...group,
            Services: group.Services!.map((s) => ({ ...s, Provider: "nomad" as const })),
        }] };
        await nomadApi(n, "PUT", "/v1/jobs", { Job: job });
        const base = `http://127.0.0.1:${port}`;
        const healthy = () => waitFor("bindle-server /healthz", async () => ((await request(`${base}/healthz`, {}, 2_000)).status === 200 ? true : undefined), 90_000, 250);
        await healthy();
        const alloc = await waitFor("the bindle allocation running", async () =>
            (await nomadApi<{ ID: string; ClientStatus: string }[]>(n, "GET", `/v1/job/${JOB_IDS.bindle}/allocations`)).find((a) => a.ClientStatus === "running"), 30_000, 250);
        const states = async () => (await nomadApi<{ TaskStates: Record<string, TaskState> }>(n, "GET", `/v1/allocation/${alloc.ID}`)).TaskStates;
        // The client reports task states in batches, so the server may still show the finished repair as running.
        const first = await waitFor("the repair task reported dead", async () => {
            const s = (await states())[BINDLE_REPAIR_TASK];
            return s?.State === "dead" ? s : undefined;
        }, 30_000, 250);
        assert.equal(first.Failed, false, "the repair ran to completion");
        const server = (await states())[BINDLE_SERVER_TASK];
        assert.ok(first.FinishedAt !== null && Date.parse(first.FinishedAt) <= Date.parse(server.StartedAt), `the repair finished (${first.FinishedAt}) before the server started (${server.StartedAt})`);
        assert.match(await stdout(n, alloc.ID, BINDLE_REPAIR_TASK), /nothing to repair/);

        // An upload interrupted mid-body: parcels/<sha>/ stays, empty; the push fails naming the command.
        const b = { username: BINDLE_PUSH_USER, password, creator, directUrl: `${base}/v1` };
        const inputs = inputsFor(b, appCopy(processes!.keepDir(tempDir("bindle-repair-app")), 4 * 1024 * 1024));
        const wasm = inputs.parcels.find((p) => p.path === "dist/web.wasm")!;
        const invoice = parseInvoice(inputs.invoiceToml);
        const id = `${invoice.bindle.name}/${invoice.bindle.version}`;
        const auth = `Basic ${Buffer.from(`${b.username}:${password}`).toString("base64")}`;
        const posted = await request(`${b.directUrl}/_i`, { method: "POST", headers: { "Content-Type": "application/toml", Authorization: auth },
            body: renderInvoice(signInvoice(invoice, { by: "spin-cloud pulumi", privateKey: creator.keypair })) });
        assert.equal(posted.status, 202, posted.body);
        await interruptedUpload({ ...b, version: "0.9.1" } as Parameters<typeof interruptedUpload>[0], id, wasm.sha256, fs.readFileSync(wasm.absolutePath), 1024 * 1024);
        await sleep(500);
        const parcelDir = path.join(runtime.dataDir, "bindles", "parcels", wasm.sha256);
        assert.deepEqual(fs.readdirSync(parcelDir), []);
        let message = "";
        await assert.rejects(provider.create(inputs), (e: Error) => ((message = e.message), true));
        assert.ok(message.includes(`sha256 ${wasm.sha256}`) && message.includes(`\`${BINDLE_REPAIR_COMMAND}\``), message);

        // The command the message names, with the real CLI against this Nomad. `job restart` refuses
        // while a deployment runs (command/job_restart.go), as an operator's would not be long after.
        await waitFor("the bindle job's deployment successful", async () =>
            (await nomadApi<{ Status: string } | null>(n, "GET", `/v1/job/${JOB_IDS.bindle}/deployment`))?.Status === "successful" ? true : undefined, 90_000, 500);
        let t = Date.now();
        const [command, ...args] = BINDLE_REPAIR_COMMAND.split(" ");
        const env = { PATH: process.env.PATH, HOME: process.env.HOME, NOMAD_ADDR: n.url };
        const restart = spawnSync(command, args, { env, encoding: "utf8", timeout: 120_000, input: "" });
        assert.equal(restart.status, 0, `${BINDLE_REPAIR_COMMAND}: ${restart.stdout}${restart.stderr}`);
        // The restart is asynchronous under load: wait for the prestart's second run to have ended.
        const removed = new RegExp(`removed parcels/${wasm.sha256} `);
        await waitFor("the repair prestart to run again and end", async () => {
            const again = (await states())[BINDLE_REPAIR_TASK];
            return again.State === "dead" && removed.test(await stdout(n, alloc.ID, BINDLE_REPAIR_TASK)) ? again : undefined;
        }, 60_000, 250).then((again) => assert.equal(again.Failed, false));
        await healthy();
        const restartMs = Date.now() - t;
        assert.ok(!fs.existsSync(parcelDir), "the empty directory is gone");

        t = Date.now();
        const { outs } = await provider.create(inputs);
        const pushMs = Date.now() - t;
        for (const p of inputs.parcels) {
            const res = await fetch(`${b.directUrl}/_i/${outs!.bindleId}@${p.sha256}`);
            assert.equal(res.status, 200, p.path);
            assert.equal(sha256(Buffer.from(await res.arrayBuffer())), p.sha256, p.path);
        }
        console.log(`      \`${BINDLE_REPAIR_COMMAND}\` + server healthy again: ${restartMs} ms; push after the repair ${pushMs} ms, ${inputs.parcels.length} parcels served`);
    });
});
