/**
 * The project's Spin app job (provisioning/jobs/spin-app-job.ts) run by real Nomad 1.6.3
 * (nomad-dev.ts: native service discovery, no Consul) with the Spin stand-in of spin-standin.ts as
 * its task, for the delivery tests (readiness gates promotion, a secret rotation rolls). Unlike
 * routing-stack.ts `runnableJob`, the instance is the task itself, on the group's dynamic port,
 * so the checks Nomad runs are the project's own. Every change to the rendered job is here:
 * - service Provider "consul" -> "nomad": this harness starts no Consul agent. Nomad runs the same `http` checks
 *   itself (client/serviceregistration/checks/client.go `checkHTTP`: a status below 400 passes,
 *   where Consul passes 2xx only; the failing answer in these tests is 500, critical in both) and
 *   the update's `health_check = "checks"` waits on them (client/allochealth/tracker.go
 *   `watchNomadEvents`). Check paths, intervals and timeouts stay as rendered;
 * - task command: this Node running spin-standin.ts instead of the Spin binary; the rendered
 *   `spin up` arguments follow unchanged (the stand-in listens where `--listen` says);
 * - Artifacts dropped: no Bindle server here, and the stand-in reads no app files;
 * - Env SPIN_STANDIN_COMPONENT added: the component the stand-in runs (a `jco serve` URL or `trap`);
 *   TS_NODE_PROJECT: the project's tsconfig (ts-node would look for one above the task dir).
 * Unchanged: the update block (canary, auto_promote, auto_revert, health_check), the templates
 * (secrets from the job's Nomad Variable, their change_mode), the meta, the port label, the
 * shutdown delay and the kill signal. The tests shorten the healthy and progress deadlines
 * through the project's own `update` input (DELIVERY_UPDATE), not by editing the job.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { spinAppJob, SpinAppJobInput, SpinAppNomadJob, SpinAppUpdate, SPIN_APP_PORT_LABEL } from "../../../provisioning/jobs/spin-app-job";
import { buildHelloApp, startJco } from "./jco";
import { NomadAgent, nomadApi, startNomadDev, stopNomadJobs, unmountUnder } from "./nomad-dev";
import { freePort, missing, Processes, request, tempDir } from "./runtime";

const STANDIN = path.join(__dirname, "spin-standin.ts");
const TS_NODE = require.resolve("ts-node/register/transpile-only");
const TSCONFIG = path.join(__dirname, "..", "..", "..", "tsconfig.json");

/**
 * Deadlines the tests give through `update` (defaults 180 s / 600 s): a canary whose checks never
 * pass is unhealthy after 40 s and its deployment fails at 60 s, instead of 10 minutes.
 * min_healthy_time (10 s), canary (1) and max_parallel (1) stay the defaults.
 */
export const DELIVERY_UPDATE: Partial<SpinAppUpdate> = { healthyDeadlineSeconds: 40, progressDeadlineSeconds: 60 };

export function standinJob(input: SpinAppJobInput, component: string): SpinAppNomadJob {
    const job = spinAppJob(input);
    const [group] = job.TaskGroups;
    const [task] = group.Tasks;
    const args = task.Config.args as string[];
    if (task.Driver !== "raw_exec" || !Array.isArray(args)) throw new Error("standinJob: the input must use the raw_exec runtime");
    return {
        ...job,
        TaskGroups: [{
            ...group,
            Services: group.Services!.map((s) => ({ ...s, Provider: "nomad" as const })),
            Tasks: [{
                ...task,
                Config: { ...task.Config, command: process.execPath, args: ["-r", TS_NODE, STANDIN, ...args] },
                Artifacts: [],
                Env: { ...task.Env, SPIN_STANDIN_COMPONENT: component, TS_NODE_PROJECT: TSCONFIG },
            }],
        }],
    };
}

export interface Deployment {
    ID: string; Status: string; StatusDescription: string; JobVersion: number;
    TaskGroups: Record<string, { Promoted: boolean; DesiredCanaries: number; PlacedCanaries: string[] | null; HealthyAllocs: number; UnhealthyAllocs: number }>;
}
export interface Alloc {
    ID: string; JobVersion: number; ClientStatus: string; DesiredStatus: string; CreateTime: number;
    DeploymentStatus?: { Healthy?: boolean | null; Canary?: boolean } | null;
    TaskStates?: Record<string, { State: string; Restarts: number; Events: { Type: string }[] }> | null;
}

export const deploymentsOf = (n: NomadAgent, jobId: string) => nomadApi<Deployment[]>(n, "GET", `/v1/job/${jobId}/deployments`);
export const allocsOf = (n: NomadAgent, jobId: string) => nomadApi<Alloc[]>(n, "GET", `/v1/job/${jobId}/allocations`);
export const allocOf = (n: NomadAgent, id: string) => nomadApi<Alloc>(n, "GET", `/v1/allocation/${id}`);

/** Registers `job`; returns the job version Nomad gave it. */
export async function register(n: NomadAgent, job: SpinAppNomadJob): Promise<number> {
    await nomadApi(n, "PUT", "/v1/jobs", { Job: job });
    return (await nomadApi<{ Version: number }>(n, "GET", `/v1/job/${job.ID}`)).Version;
}

/** `http://127.0.0.1:<port>` of the allocation's `http` port (nomad-dev.ts puts allocations on lo). */
export async function allocUrl(n: NomadAgent, allocId: string): Promise<string> {
    const a = await nomadApi<{ AllocatedResources: { Shared: { Ports: { Label: string; Value: number; HostIP: string }[] } } }>(n, "GET", `/v1/allocation/${allocId}`);
    const port = a.AllocatedResources.Shared.Ports.find((p) => p.Label === SPIN_APP_PORT_LABEL);
    if (!port) throw new Error(`allocation ${allocId} has no ${SPIN_APP_PORT_LABEL} port`);
    return `http://${port.HostIP}:${port.Value}`;
}

export interface CheckResult { Check: string; Status: string; StatusCode?: number; Output?: string }

/** The latest result of each Nomad service check of the allocation, by check name (GET /v1/client/allocation/:id/checks). */
export async function checksOf(n: NomadAgent, allocId: string): Promise<Record<string, CheckResult>> {
    const results = await nomadApi<Record<string, CheckResult>>(n, "GET", `/v1/client/allocation/${allocId}/checks`);
    return Object.fromEntries(Object.values(results ?? {}).map((r) => [r.Check, r]));
}

/** The file the secrets template rendered in the allocation (the client's data dir; `nomad alloc fs` hides secrets/). */
export function renderedSecrets(dataDir: string, allocId: string, task: string, dest: string): string {
    return readFileSync(path.join(dataDir, "alloc", allocId, task, dest), "utf8");
}

/** One GET, `{ status, body }`, or `{ status: 0, body: <error> }` when there was no answer. */
export async function probe(url: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
    try {
        const res = await request(url, {}, timeoutMs);
        return { status: res.status, body: res.body };
    } catch (e) {
        return { status: 0, body: (e as Error).message };
    }
}

const LOOPS = new Set<{ stop(): Promise<unknown> }>();
/** Stops every loop still running (after hooks: a failed assertion leaves its loop behind). */
export async function stopRequestLoops(): Promise<void> {
    await Promise.all([...LOOPS].map((l) => l.stop()));
}

/** A request loop against `url` until stopped: how many were sent and which did not answer as expected. */
export function requestLoop(url: string, ok: (r: { status: number; body: string }) => boolean, intervalMs = 100) {
    let sent = 0;
    const failures: { atMs: number; status: number; body: string }[] = [];
    let running = true;
    const t0 = Date.now();
    const done = (async () => {
        while (running && Date.now() - t0 < 600_000) {
            const r = await probe(url);
            sent++;
            if (!ok(r)) failures.push({ atMs: Date.now() - t0, status: r.status, body: r.body.slice(0, 60) });
            await new Promise((res) => setTimeout(res, intervalMs));
        }
    })();
    const loop = {
        async stop() { running = false; await done; LOOPS.delete(loop); return { sent, failures, ms: Date.now() - t0 }; },
    };
    LOOPS.add(loop);
    return loop;
}

/** Task events, check results and stderr tails of the job's allocations, for failure messages. */
export async function diagnostics(n: NomadAgent, jobId: string): Promise<string> {
    const lines: string[] = [];
    for (const a of await allocsOf(n, jobId).catch(() => [])) {
        const full = await allocOf(n, a.ID).catch(() => a);
        const events = Object.entries(full.TaskStates ?? {}).map(([t, s]) => `${t} ${s.State}: ${s.Events.map((e) => `${e.Type}${(e as { DisplayMessage?: string }).DisplayMessage ? ` (${(e as { DisplayMessage?: string }).DisplayMessage})` : ""}`).join("; ")}`);
        const checks = await checksOf(n, a.ID).catch((e) => ({ error: (e as Error).message }));
        const stderr = await request(`${n.url}/v1/client/fs/logs/${a.ID}?task=spin&type=stderr&plain=true&origin=end&offset=2000`, {}, 5_000).then((r) => r.body).catch(() => "");
        lines.push(`alloc ${a.ID.slice(0, 8)} v${a.JobVersion} ${a.ClientStatus}/${a.DesiredStatus} healthy=${full.DeploymentStatus?.Healthy}`,
            `  events: ${events.join(" | ")}`, `  checks: ${JSON.stringify(checks)}`, `  stderr: ${stderr.slice(-1500)}`);
    }
    return lines.join("\n");
}

/** `fn`, its error extended with the job's diagnostics. */
export async function explained<T>(n: NomadAgent, jobId: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (e) {
        (e as Error).message += `\n${await diagnostics(n, jobId)}`;
        throw e;
    }
}

/** What a delivery suite runs against: a Nomad dev agent and jco serving the example component. */
export interface DeliveryStack {
    readonly nomad: () => NomadAgent;
    /** The component's URL (the stand-in forwards app requests there). */
    readonly component: () => string;
    /** The suite's temp dir (Nomad's data dir is `<dir>/nomad-data`). */
    readonly dir: () => string;
}

/**
 * Registers the describe block's before/after hooks: start (when every binary is on PATH) and
 * stop, request loops first, then the jobs, then the processes and any mount left under the dir.
 */
export function useDeliveryStack(prefix: string, binaries: readonly string[]): DeliveryStack {
    let processes: Processes | undefined;
    let nomad: NomadAgent | undefined;
    let dir = "";
    let component = "";
    before(async function () {
        this.timeout(300_000);
        if (missing(binaries).length > 0) return;
        buildHelloApp();
        dir = tempDir(prefix);
        processes = new Processes(dir);
        processes.keepDir(dir);
        nomad = await startNomadDev(processes, dir);
        const port = await freePort();
        await startJco(processes, port, `${dir}/jco`);
        component = `http://127.0.0.1:${port}`;
    });
    after(async function () {
        this.timeout(120_000);
        await stopRequestLoops();
        if (nomad) await stopNomadJobs(nomad, dir);
        await processes?.stopAll();
        if (dir) unmountUnder(dir);
    });
    return { nomad: () => nomad!, component: () => component, dir: () => dir };
}
