/**
 * Issue 14 "Health that means the app works", against real Nomad 1.6.3: the readiness check the
 * project renders (spin-app-job.ts: `<app>-ready` on the path readinessFor derives from spin.toml,
 * beside Spin's own `/.well-known/spin/health`) is what gates a canary's promotion. v1 runs the
 * example component (jco serve); v2's component fails every request while Spin's health path
 * still answers OK (the stand-in answers as Spin 3.4 does, harness/spin-standin.ts), so with the
 * health path alone v2 would be promoted. Asserted with Nomad's API: v2's canary never becomes
 * healthy, its deployment fails unpromoted, auto_revert brings v1 back in place, and v1's
 * allocation answered every request throughout; then a healthy v3 is promoted by itself.
 * Harness changes to the job and the shortened deadlines: harness/app-delivery.ts.
 */
import { strict as assert } from "assert";
import { readinessFor } from "../../../components/apps/app-health";
import { readSpinApp } from "../../../components/apps/manifest";
import { SpinAppJobInput } from "../../../provisioning/jobs/spin-app-job";
import {
    allocOf, allocsOf, allocUrl, checksOf, DELIVERY_UPDATE, Deployment, deploymentsOf, explained, probe, register, requestLoop, standinJob, useDeliveryStack,
} from "../harness/app-delivery";
import { HELLO_APP_DIR, HELLO_GREETING } from "../harness/jco";
import { NOMAD_BINARY, nomadApi } from "../harness/nomad-dev";
import { appInput, deploy, runningAllocs } from "../harness/routing-stack";
import { itWith, waitFor } from "../harness/runtime";

const BINARIES = [NOMAD_BINARY, "flock"];
const NAME = "ready";
const JOB = `app-${NAME}`;

describe("real nomad 1.6.3: the readiness check gates a canary's promotion", function () {
    this.timeout(600_000);
    const stack = useDeliveryStack("app-readiness", BINARIES);

    /** Version `v` of the example app: its readiness path from its own spin.toml, as SpinApp derives it. */
    const input = (v: number): SpinAppJobInput => ({
        ...appInput(NAME, { kind: "pathPrefix", prefix: "/ready" }),
        bindle: { ...appInput(NAME, { kind: "pathPrefix", prefix: "/ready" }).bindle, bindleId: `${NAME}/${v}.0.0` },
        readiness: readinessFor(readSpinApp(HELLO_APP_DIR).routes),
        update: DELIVERY_UPDATE,
    });

    itWith(BINARIES, "v2 failing its readiness path is never promoted and auto-reverts while v1 serves; v3 is promoted", async () => {
        const n = stack.nomad();
        assert.equal(input(1).readiness!.path, "/", "spin.toml's `/...` route gives the readiness path /");

        // v1: healthy, promoted as the first version.
        let t = Date.now();
        const d1 = await explained(n, JOB, () => deploy(n, standinJob(input(1), stack.component()), 120_000));
        const v1Ms = Date.now() - t;
        const [a1] = await runningAllocs(n, JOB);
        const v1 = await allocUrl(n, a1.ID);
        assert.deepEqual(await probe(`${v1}/`), { status: 200, body: HELLO_GREETING });
        const checks1 = await checksOf(n, a1.ID);
        assert.deepEqual(Object.keys(checks1).sort(), [`${NAME}-health`, `${NAME}-ready`], "both rendered checks run in Nomad");
        assert.ok(Object.values(checks1).every((c) => c.Status === "success"), JSON.stringify(checks1));

        // v2: its component fails every request; Spin's health path still answers OK.
        const loop = requestLoop(`${v1}/`, (r) => r.status === 200 && r.body === HELLO_GREETING);
        t = Date.now();
        const v2Version = await register(n, standinJob(input(2), "trap"));
        assert.equal(v2Version, d1.JobVersion + 1);
        let everHealthy = 0;
        let everPromoted = false;
        let canaryChecks: Awaited<ReturnType<typeof checksOf>> = {};
        const d2 = await waitFor("v2's deployment to end", async () => {
            const d = (await deploymentsOf(n, JOB)).find((x) => x.JobVersion === v2Version);
            if (!d) return undefined;
            everHealthy = Math.max(everHealthy, d.TaskGroups.app.HealthyAllocs);
            everPromoted ||= d.TaskGroups.app.Promoted;
            const [c] = d.TaskGroups.app.PlacedCanaries ?? [];
            const checks = c ? await checksOf(n, c).catch(() => ({})) : {};
            if (Object.keys(checks).length === 2) canaryChecks = checks; // the last while the canary ran
            return ["running", "pending", "paused"].includes(d.Status) ? undefined : d;
        }, 240_000, 500);
        const v2FailedMs = Date.now() - t;
        const [canaryId] = d2.TaskGroups.app.PlacedCanaries ?? [];
        assert.ok(canaryId, `v2 placed a canary: ${JSON.stringify(d2.TaskGroups.app)}`);
        assert.equal(d2.Status, "failed", d2.StatusDescription);
        assert.match(d2.StatusDescription, /progress deadline/i);
        assert.equal(everPromoted, false, "v2 was never promoted");
        assert.equal(everHealthy, 0, "v2's canary never counted healthy");
        const canary = await allocOf(n, canaryId);
        assert.equal(canary.DeploymentStatus?.Healthy, false, "Nomad marked the canary unhealthy");
        // Nomad ran both rendered checks on the canary: Spin's health path passed, the readiness path failed.
        assert.deepEqual(
            Object.fromEntries(Object.entries(canaryChecks).map(([k, c]) => [k, [c.Status, c.StatusCode]])),
            { [`${NAME}-health`]: ["success", 200], [`${NAME}-ready`]: ["failure", 500] });

        // auto_revert: a new job version equal to v1, run by v1's own allocation, the canary stopped.
        const reverted = await waitFor("the job reverted to v1", async () => {
            const job = await nomadApi<{ Version: number; Meta: Record<string, string> }>(n, "GET", `/v1/job/${JOB}`);
            if (job.Version <= v2Version) return undefined;
            const running = await runningAllocs(n, JOB);
            return running.length === 1 && running[0].ID === a1.ID && running[0].JobVersion === job.Version ? job : undefined;
        }, 120_000, 500);
        const revertedMs = Date.now() - t;
        assert.equal(reverted.Meta.bindle_id, `${NAME}/1.0.0`);
        const a1Now = await allocOf(n, a1.ID);
        assert.equal(a1Now.TaskStates!.spin.Restarts, 0, "v1's instance was never restarted");
        assert.notEqual((await allocOf(n, canaryId)).DesiredStatus, "run", "the canary is stopped");
        const served = await loop.stop();
        console.log(`      v1 deployed in ${v1Ms} ms; v2 failed after ${v2FailedMs} ms (${d2.StatusDescription}); ` +
            `reverted (job version ${reverted.Version}, v1's allocation) after ${revertedMs} ms; ` +
            `v1 answered ${served.sent - served.failures.length}/${served.sent} requests over ${served.ms} ms`);
        assert.ok(served.sent > 100, `requests sent: ${served.sent}`);
        assert.deepEqual(served.failures, [], "v1 answered every request while v2 failed");

        // v3: healthy again, promoted by itself.
        t = Date.now();
        const d3 = await deploy(n, standinJob(input(3), stack.component()), 180_000);
        const v3Ms = Date.now() - t;
        const d3Full = (await deploymentsOf(n, JOB)).find((d: Deployment) => d.ID === d3.ID)!;
        assert.equal(d3Full.TaskGroups.app.DesiredCanaries, 1);
        assert.equal(d3Full.TaskGroups.app.Promoted, true, "v3's canary was promoted (auto_promote)");
        const [c3] = d3Full.TaskGroups.app.PlacedCanaries!;
        assert.deepEqual(await probe(`${await allocUrl(n, c3)}/`), { status: 200, body: HELLO_GREETING });
        await waitFor("v1's allocation stopped after v3's promotion", async () => {
            const a = (await allocsOf(n, JOB)).find((x) => x.ID === a1.ID)!;
            return a.DesiredStatus === "stop" ? true : undefined;
        }, 30_000, 500);
        console.log(`      v3 deployed and promoted in ${v3Ms} ms`);
    });
});
