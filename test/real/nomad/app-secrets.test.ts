/**
 * Issue 14 "Health that means the app works": a secret rotation rolls through a deployment, against
 * real Nomad 1.6.3. The job is rendered by the project (spin-app-job.ts) with the keyed digest of
 * SpinApp (components/apps/app-health.ts `secretsDigest`) for secret A, then for B; the secret
 * itself reaches the instance from the job's Nomad Variable through the rendered template
 * (change_mode noop). Asserted: the rendered and registered jobs hold neither value; changing the
 * Variable alone restarts nothing; the new job version differs only in the digest meta (Nomad's
 * own version diff); it rolls as a deployment with a canary while the old allocation keeps running
 * until the canary is healthy and promoted; the new instance runs with B.
 * Harness changes to the job: harness/app-delivery.ts.
 */
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import * as path from "path";
import { secretsDigest } from "../../../components/apps/app-health";
import { renderSpinAppJobspec, spinAppJob, SpinAppJobInput, SPIN_APP_SECRETS_ENV_FILE, spinAppJobId } from "../../../provisioning/jobs/spin-app-job";
import { jobVariablePath } from "../../../provisioning/platform";
import {
    Alloc, allocOf, allocUrl, DELIVERY_UPDATE, deploymentsOf, explained, probe, register, renderedSecrets, requestLoop, standinJob, useDeliveryStack,
} from "../harness/app-delivery";
import { HELLO_GREETING } from "../harness/jco";
import { NomadAgent, NOMAD_BINARY, nomadApi } from "../harness/nomad-dev";
import { appInput, deploy, runningAllocs } from "../harness/routing-stack";
import { variablesDigest } from "../harness/spin-standin";
import { itWith, sleep, waitFor } from "../harness/runtime";

const BINARIES = [NOMAD_BINARY, "flock"];
const NAME = "rotate";
const JOB = spinAppJobId(NAME);
/** What SpinApp keys the digest with (the Bindle creator key there; any key only Pulumi holds). */
const DIGEST_KEY = randomBytes(32).toString("base64");

/** Every path at which two JSON values differ. */
function differences(a: unknown, b: unknown, at = ""): string[] {
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return a === b ? [] : [at];
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`));
}

describe("real nomad 1.6.3: a secret rotation rolls through a deployment", function () {
    this.timeout(600_000);
    const stack = useDeliveryStack("app-secrets", BINARIES);

    const input = (token: string): SpinAppJobInput => ({
        ...appInput(NAME, { kind: "pathPrefix", prefix: `/${NAME}` }),
        variables: { secrets: ["token"], secretsDigest: secretsDigest(DIGEST_KEY, { token }) },
        update: DELIVERY_UPDATE,
    });
    /** What SpinApp's jobSecrets writes: the job's Nomad Variable, item per secret. */
    const putSecret = (n: NomadAgent, token: string) =>
        nomadApi(n, "PUT", `/v1/var/${jobVariablePath(JOB)}`, { Namespace: "default", Path: jobVariablePath(JOB), Items: { token } });
    const dataDir = () => path.join(stack.dir(), "nomad-data");

    itWith(BINARIES, "secret A -> B: only the digest meta changes, a canary deployment replaces the instance, no value in any job", async () => {
        const n = stack.nomad();
        const A = `secret-A-${randomBytes(12).toString("hex")}`;
        const B = `secret-B-${randomBytes(12).toString("hex")}`;
        const runsWith = (token: string) => variablesDigest({ SPIN_VARIABLE_TOKEN: token });

        // The rendered jobs differ only in the digest, and hold neither value.
        assert.deepEqual(differences(spinAppJob(input(A)), spinAppJob(input(B))), [".Meta.spin_cloud_secrets"]);
        for (const rendered of [renderSpinAppJobspec(input(A)), renderSpinAppJobspec(input(B)), JSON.stringify(standinJob(input(B), stack.component()))]) {
            assert.ok(!rendered.includes(A) && !rendered.includes(B), "no secret value in the jobspec");
        }

        // Secret A: the Variable first (SpinApp's jobSecrets), then the job.
        await putSecret(n, A);
        let t = Date.now();
        const d0 = await explained(n, JOB, () => deploy(n, standinJob(input(A), stack.component()), 120_000));
        const firstMs = Date.now() - t;
        const [a0] = await runningAllocs(n, JOB);
        const url0 = await allocUrl(n, a0.ID);
        assert.equal((await probe(`${url0}/.well-known/spin-standin/variables`)).body, runsWith(A), "the instance runs with A");
        assert.deepEqual(await probe(`${url0}/`), { status: 200, body: HELLO_GREETING });

        // The Variable changes: the template re-renders (noop), the running instance is not restarted.
        const loop = requestLoop(`${url0}/`, (r) => r.status === 200 && r.body === HELLO_GREETING);
        await putSecret(n, B);
        t = Date.now();
        await waitFor("the old allocation's template re-rendered with B", async () =>
            renderedSecrets(dataDir(), a0.ID, "spin", SPIN_APP_SECRETS_ENV_FILE).includes(B) ? true : undefined, 60_000, 250);
        const rerenderMs = Date.now() - t;
        await sleep(3_000); // room for a restart change_mode would have triggered
        const a0After = await allocOf(n, a0.ID);
        assert.equal(a0After.ClientStatus, "running");
        assert.equal(a0After.TaskStates!.spin.Restarts, 0, "change_mode noop: no restart on a changed Variable");
        assert.deepEqual(a0After.TaskStates!.spin.Events.map((e) => e.Type).filter((x) => /Restart|Signal|Killing/.test(x)), []);
        assert.equal((await probe(`${url0}/.well-known/spin-standin/variables`)).body, runsWith(A), "the running instance keeps A");

        // The job with B's digest: a new version whose only change is the meta, rolled by a deployment.
        t = Date.now();
        const v1 = await register(n, standinJob(input(B), stack.component()));
        assert.equal(v1, d0.JobVersion + 1, "a new job version");
        const { Diffs } = await nomadApi<{ Diffs: { Type: string; Fields: { Name: string; Type: string }[] | null; Objects: unknown[] | null; TaskGroups: { Type: string }[] | null }[] }>(
            n, "GET", `/v1/job/${JOB}/versions?diffs=true`);
        const diff = Diffs[0];
        assert.deepEqual((diff.Fields ?? []).filter((f) => f.Type !== "None").map((f) => [f.Name, f.Type]), [["Meta[spin_cloud_secrets]", "Edited"]]);
        assert.deepEqual((diff.TaskGroups ?? []).map((g) => g.Type).filter((x) => x !== "None"), [], "no task group change");

        const samples: { ms: number; promoted: boolean; canaryHealthy: boolean; old: Alloc }[] = [];
        const d1 = await explained(n, JOB, () => waitFor("the rotation's deployment to succeed", async () => {
            const d = (await deploymentsOf(n, JOB)).find((x) => x.JobVersion === v1);
            if (!d) return undefined;
            if (["failed", "cancelled"].includes(d.Status)) throw new Error(`deployment ${d.Status}: ${d.StatusDescription}`);
            const [c] = d.TaskGroups.app.PlacedCanaries ?? [];
            const canary = c ? await allocOf(n, c) : undefined;
            samples.push({ ms: Date.now() - t, promoted: d.TaskGroups.app.Promoted, canaryHealthy: canary?.DeploymentStatus?.Healthy === true, old: await allocOf(n, a0.ID) });
            return d.Status === "successful" ? d : undefined;
        }, 180_000, 250));
        const rolledMs = Date.now() - t;
        const served = await loop.stop();

        const g = d1.TaskGroups.app;
        assert.equal(g.DesiredCanaries, 1);
        assert.equal(g.Promoted, true);
        const [canaryId] = g.PlacedCanaries!;
        assert.notEqual(canaryId, a0.ID, "a new allocation, not the old one restarted in place");
        const beforePromotion = samples.filter((s) => !s.promoted);
        assert.ok(beforePromotion.length > 10, `samples before promotion: ${beforePromotion.length}`);
        assert.ok(beforePromotion.every((s) => s.old.ClientStatus === "running" && s.old.DesiredStatus === "run"),
            "the old allocation ran until the canary was promoted");
        const firstHealthy = samples.find((s) => s.canaryHealthy);
        const firstPromoted = samples.find((s) => s.promoted);
        assert.ok(firstHealthy && firstPromoted && firstHealthy.ms <= firstPromoted.ms, "promoted only once the canary was healthy");
        assert.equal((await allocOf(n, a0.ID)).TaskStates!.spin.Restarts, 0, "the old instance was never restarted");
        await waitFor("the old allocation stopped", async () => ((await allocOf(n, a0.ID)).DesiredStatus === "stop" ? true : undefined), 30_000, 500);
        assert.equal((await probe(`${await allocUrl(n, canaryId)}/.well-known/spin-standin/variables`)).body, runsWith(B), "the new instance runs with B");
        assert.deepEqual(served.failures, [], "the old instance answered every request during the rotation");

        const registered = JSON.stringify(await nomadApi(n, "GET", `/v1/job/${JOB}`));
        assert.ok(!registered.includes(A) && !registered.includes(B), "no secret value in the registered job");
        assert.ok(registered.includes(secretsDigest(DIGEST_KEY, { token: B })));
        console.log(`      first deployment ${firstMs} ms; Variable change re-rendered in ${rerenderMs} ms without a restart; ` +
            `rotation deployment successful after ${rolledMs} ms (canary healthy at ${firstHealthy!.ms} ms, promoted at ${firstPromoted!.ms} ms, ` +
            `old allocation running in all ${beforePromotion.length} samples before); old instance answered ${served.sent}/${served.sent} requests`);
    });
});
