/**
 * A rolling update that changes an app's route keeps every request answered: the project's Spin
 * job (canary, auto-promote, shutdown_delay, kill signal as rendered) in real Nomad 1.6.3, real
 * Traefik reading its tags (Nomad provider at the Consul catalog provider's 15 s refresh), v1
 * routed by path prefix to one `jco serve`, v2 by hosts + the same prefix to another. A bounded
 * request loop on loopback, matched by both routes, counts every request that is not answered
 * 200 with the right body, from before the update until Traefik has dropped the old route.
 * Harness changes to the job: harness/routing-stack.ts.
 */
import { strict as assert } from "assert";
import { spinAppRouteRouterName } from "../../../provisioning/jobs/spin-app-routing";
import { buildHelloApp, startJco } from "../harness/jco";
import { NOMAD_BINARY, stopNomadJobs, unmountUnder } from "../harness/nomad-dev";
import { appInput, deploy, RoutingStack, runnableJob, runningAllocs, startRoutingStack, waitForRouters, webGet } from "../harness/routing-stack";
import { freePorts, itWith, missing, Processes, request, sleep, tempDir, waitFor } from "../harness/runtime";
import { TRAEFIK_BINARY } from "../harness/traefik";

const BINARIES = [TRAEFIK_BINARY, NOMAD_BINARY, "flock"];
const V1 = { kind: "pathPrefix", prefix: "/hello" } as const;
const V2 = { kind: "hostsPathPrefix", hosts: ["roll.example.test"], prefix: "/hello" } as const;
/** Traefik's Nomad provider refresh (15 s) plus slack: the old route must be gone from Traefik before the loop ends. */
const AFTER_ROLLOUT_MS = 20_000;
/** Bound of the whole loop, whatever happens. */
const LOOP_LIMIT_MS = 300_000;

interface Failure { readonly atMs: number; readonly what: string }

describe("real traefik + nomad 1.6.3: a rolling update that changes the route", function () {
    this.timeout(LOOP_LIMIT_MS + 120_000);
    let processes: Processes | undefined;
    let stack: RoutingStack | undefined;
    let dir = "";
    let ports: number[] = [];

    before(async function () {
        this.timeout(300_000);
        if (missing(BINARIES).length > 0) return;
        buildHelloApp();
        dir = tempDir("traefik-rollout");
        processes = new Processes(dir);
        processes.keepDir(dir);
        stack = await startRoutingStack(processes, dir);
        ports = await freePorts(2);
        await Promise.all(ports.map((p, i) => startJco(processes!, p, `${dir}/jco-${i}`)));
        await deploy(stack.nomad, runnableJob(appInput("hello", V1), ports[0], "1"));
        await waitForRouters(stack, [spinAppRouteRouterName("hello", V1)]);
    });
    after(async function () {
        this.timeout(120_000);
        if (stack) await stopNomadJobs(stack.nomad, dir);
        await processes?.stopAll();
        if (dir) unmountUnder(dir);
    });

    itWith(BINARIES, "answers every request during the rollout (0 failures)", async () => {
        const s = stack!;
        const failures: Failure[] = [];
        const t0 = Date.now();
        let done = false;
        let sent = 0;
        const loop = (async () => {
            while (!done && Date.now() - t0 < LOOP_LIMIT_MS) {
                const x = String(sent++);
                try {
                    const res = await webGet(s.web, "roll.example.test", `/hello/echo?x=${x}`, 5_000);
                    if (res.status !== 200 || res.body !== x) failures.push({ atMs: Date.now() - t0, what: `${res.status} ${res.body.slice(0, 40)}` });
                } catch (e) {
                    failures.push({ atMs: Date.now() - t0, what: (e as Error).message });
                }
                await sleep(20);
            }
        })();
        await sleep(3_000);
        const deployment = await deploy(s.nomad, runnableJob(appInput("hello", V2), ports[1], "2"), 240_000);
        const promotedAt = Date.now() - t0;
        await waitFor("the v1 allocation gone", async () => {
            const allocs = await runningAllocs(s.nomad, "app-hello");
            return allocs.every((a) => a.JobVersion === deployment.JobVersion) ? true : undefined;
        }, 120_000, 500);
        const oldGoneAt = Date.now() - t0;
        await sleep(AFTER_ROLLOUT_MS);
        done = true;
        await loop;
        const routers = JSON.parse((await request(`http://127.0.0.1:${s.dashboard}/api/http/routers`)).body) as { name: string }[];
        const names = routers.map((r) => r.name).filter((n) => n.startsWith("app-hello"));
        const summary = `${sent} requests over ${Math.round((Date.now() - t0) / 1000)} s (deployment successful at ${promotedAt} ms, ` +
            `v1 allocation gone at ${oldGoneAt} ms): ${failures.length} failed`;
        console.log(`      rollout: ${summary}`);
        if (failures.length > 0) console.log(`      first failures: ${JSON.stringify(failures.slice(0, 5))}, last: ${JSON.stringify(failures.at(-1))}`);
        assert.deepEqual(names, [`${spinAppRouteRouterName("hello", V2)}@nomad`], "only the new route is left");
        assert.ok(sent > 100, summary);
        assert.equal(failures.length, 0, summary);
    });
});
