/**
 * Issue 10 point 3 (the local Bindle job under raw_exec with its secrets from a Nomad Variable)
 * and issue 12 "Destroy leaves nothing running" / "After a reboot", with the real Nomad 1.6.3 and
 * the real bindle-server 0.9.1 (the version the platform runs). Processes are checked by the pids (and start times) the agent's
 * executors and tasks had, read from /proc.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { existsSync, readFileSync } from "fs";
import { BINDLE_PUSH_USER } from "../../../components/platform/bindle-server";
import { bindleJob } from "../../../provisioning/jobs/bindle-job";
import { agentStopCommand } from "../../../provisioning/local/commands";
import { JOB_IDS, jobVariablePath } from "../../../provisioning/platform";
import { descendantsOf, LocalNomad, NOMAD_BINARY, ProcEntry, runStep, stillRunning } from "../harness/nomad-agent";
import { itWith, request, waitFor } from "../harness/runtime";
import { bindleJobSecrets } from "../harness/bindle-server";

const BINDLE_BINARY = "bindle-server-0.9.1";
const linuxOnly = function (this: Mocha.Context) { if (process.platform !== "linux") this.skip(); };

/** A raw_exec service job that sleeps: a task the agent's executor keeps running. */
function sleepJob(datacenter: string) {
    return {
        ID: "sleeper", Name: "sleeper", Type: "service", Datacenters: [datacenter],
        TaskGroups: [{ Name: "sleep", Count: 1, Tasks: [{ Name: "sleep", Driver: "raw_exec", Config: { command: "/bin/sleep", args: ["600"] } }] }],
    };
}

/** Unmounts every mount point under `dir`, deepest first (what a reboot leaves unmounted). */
function unmountUnder(dir: string): void {
    const points = readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((p) => p?.startsWith(`${dir}/`));
    for (const p of points.sort().reverse()) spawnSync("umount", [p]);
}

async function runningAllocations(n: LocalNomad, jobId: string): Promise<number> {
    const allocs = JSON.parse((await n.api("GET", `/v1/job/${jobId}/allocations`)).body) as { ClientStatus: string }[];
    return allocs.filter((a) => a.ClientStatus === "running").length;
}

/** The agent's executors and tasks once `comm` runs among them. */
async function tasksOf(n: LocalNomad, comm: string): Promise<ProcEntry[]> {
    return waitFor(`${comm} under the Nomad agent`, async () => {
        const below = descendantsOf(n.pid());
        return below.some((e) => e.comm.startsWith(comm)) ? below : undefined;
    }, 60_000, 250);
}

describe("real Nomad: the local Bindle job under raw_exec, then the local destroy", function () {
    let nomad: LocalNomad | undefined;
    before(async function () {
        linuxOnly.call(this);
        try { nomad = await LocalNomad.up("nomad-bindle"); } catch (e) { nomad?.cleanup(); throw e; }
    });
    after(() => nomad?.cleanup());

    itWith([NOMAD_BINARY, BINDLE_BINARY], "runs bindle-server 0.9.1 with htpasswd, signing keys and keyring from the job's Nomad Variable", async () => {
        const n = nomad!;
        // As components/platform/bindle-server.ts builds the Variable's items.
        const { items, password } = bindleJobSecrets();
        const path = jobVariablePath(JOB_IDS.bindle);
        const variable = await n.api("PUT", `/v1/var/${path}`, { Path: path, Items: items });
        assert.equal(variable.status, 200, variable.body);

        const { node } = n;
        const job = bindleJob({ datacenters: [node.datacenter], architecture: node.architecture,
            runtime: { driver: "raw_exec", bindleServerBinary: node.binaries.bindleServer, port: node.ports.bindle, dataDir: node.layout.bindleData } });
        assert.doesNotMatch(JSON.stringify(job), new RegExp(password));
        // Harness change, only to place it here: its service registers in Consul, for which Nomad
        // adds the implied constraint `${attr.consul.version}` (nomad/job_endpoint_hooks.go
        // `jobImpliedConstraints` in v1.6.3) that no node meets without a Consul agent (this harness
        // starts none). Nomad's own service provider takes the same service and checks.
        for (const group of job.TaskGroups) for (const service of group.Services ?? []) (service as { Provider: string }).Provider = "nomad";
        const registered = await n.api("PUT", "/v1/jobs", { Job: job });
        assert.equal(registered.status, 200, registered.body);

        const base = `http://127.0.0.1:${node.ports.bindle}`;
        await waitFor("bindle-server's /healthz", async () => ((await request(`${base}/healthz`, {}, 2_000)).status === 200 ? true : undefined), 60_000, 500)
            .catch(async (e) => { throw new Error(`${e.message}; allocations: ${await n.allocReport(job.ID)}`); });
        await waitFor("the Bindle allocation to run", async () => ((await runningAllocations(n, job.ID)) === 1 ? true : undefined), 30_000, 250);
        // The htpasswd from the Variable is in force: a write without credentials is refused.
        const write = (auth?: string) => request(`${base}/v1/_i`, { method: "POST", body: "x",
            headers: { "content-type": "application/toml", ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString("base64")}` } : {}) } });
        assert.equal((await write()).status, 403, "anonymous writes are refused (src/authz/anonymous_get.rs)");
        assert.equal((await write(`${BINDLE_PUSH_USER}:wrong`)).status, 401);
        assert.ok(![401, 403].includes((await write(`${BINDLE_PUSH_USER}:${password}`)).status), "the push user's password from the Variable works");
    });

    itWith([NOMAD_BINARY, BINDLE_BINARY], "destroy stops the jobs and waits for them before the agent stops: no executor or task is left", async () => {
        const n = nomad!;
        const tasks = await tasksOf(n, "bindle-server");
        assert.ok(tasks.length >= 2, `executor and task: ${tasks.map((t) => t.comm).join(", ")}`);
        const steps = n.destroy(unmountUnder);
        for (const [step, r] of Object.entries(steps)) assert.equal(r.status, 0, `${step}: ${r.stderr}`);
        assert.match(steps.nomadJobs.stdout, /stopped the jobs: bindle/);
        assert.match(steps.nomadJobs.stdout, /no allocation is running/, steps.nomadJobs.stderr);
        assert.doesNotMatch(steps.nomad.stdout, /left \d+ process/, "the job step left nothing for the agent's stop to kill");
        assert.deepEqual(stillRunning(tasks), []);
        assert.ok(!existsSync(n.layout.nomad.dataDir) && !existsSync(n.layout.bindleData), "the state step removed the data dirs");
    });
});

describe("real Nomad: what the local destroy does when the jobs were not stopped first", function () {
    let nomad: LocalNomad | undefined;
    beforeEach(async function () {
        linuxOnly.call(this);
        try { nomad = await LocalNomad.up("nomad-destroy"); } catch (e) { nomad?.cleanup(); throw e; }
        const registered = await nomad.api("PUT", "/v1/jobs", { Job: sleepJob(nomad.node.datacenter) });
        assert.equal(registered.status, 200, registered.body);
    });
    afterEach(() => nomad?.cleanup());

    itWith([NOMAD_BINARY], "a stopped Nomad leaves its raw_exec executor and task running; the agent's stop kills them by the pids it recorded", async () => {
        const n = nomad!;
        const tasks = await tasksOf(n, "sleep");
        const stop = runStep(agentStopCommand(n.agent));
        assert.equal(stop.status, 0, stop.stderr);
        assert.match(stop.stdout, /nomad left \d+ process\(es\) running \(pids [\d ]+\); stopping them/);
        assert.deepEqual(stillRunning(tasks), []);
    });

    itWith([NOMAD_BINARY], "after a reboot (agent and tasks gone, pid files left) every destroy step succeeds", async () => {
        const n = nomad!;
        const tasks = await tasksOf(n, "sleep");
        // Power off: the whole session dies at once, nothing is cleaned up.
        for (const e of [...tasks, { pid: n.pid() }]) try { process.kill(e.pid, "SIGKILL"); } catch { /* gone */ }
        await waitFor("the session to be gone", async () => (stillRunning(tasks).length === 0 ? true : undefined), 10_000, 100);
        // A reboot also drops the tmpfs mounts a root Nomad made in the alloc dirs (this suite may run as root).
        unmountUnder(n.layout.nomad.dataDir);
        assert.ok(existsSync(`${n.layout.root}/run/nomad.pid`));
        const steps = n.destroy();
        for (const [step, r] of Object.entries(steps)) assert.equal(r.status, 0, `${step}: ${r.stderr}`);
        assert.match(steps.nomadJobs.stdout, /Nomad does not answer .*no job to stop/);
        assert.match(steps.nomad.stdout, /nomad not running/);
        assert.ok(!existsSync(n.layout.nomad.dataDir) && !existsSync(`${n.layout.root}/run/nomad.pid`));
    });
});
