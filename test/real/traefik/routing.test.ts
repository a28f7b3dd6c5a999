/**
 * Real routing: the project's Spin app jobs (provisioning/jobs/spin-app-job.ts, tags from
 * spin-app-routing.ts) registered in a real Nomad 1.6.3 with native service discovery, read by
 * real Traefik (the project's local static configuration, Nomad provider swapped in), in front of
 * `jco serve` of the example component and of echo backends. Asserts the example app on its path
 * prefix and its host rule, the overlap table (host+path > host > path) and that neither the
 * platform's paths nor Spin's /.well-known/spin/ reach an app. Harness changes: harness/routing-stack.ts.
 */
import { strict as assert } from "assert";
import { Server } from "http";
import { spinAppRouteRouterName } from "../../../provisioning/jobs/spin-app-routing";
import { OVERLAP_APPS, OVERLAP_CASES } from "../../harness/routing-overlap";
import { buildHelloApp, HELLO_GREETING, startJco } from "../harness/jco";
import { NOMAD_BINARY, stopNomadJobs, unmountUnder } from "../harness/nomad-dev";
import { appInput, deploy, echoBackend, RoutingStack, runnableJob, startRoutingStack, waitForRouters, webGet } from "../harness/routing-stack";
import { freePort, itWith, missing, Processes, tempDir } from "../harness/runtime";
import { TRAEFIK_BINARY } from "../harness/traefik";

const BINARIES = [TRAEFIK_BINARY, NOMAD_BINARY, "flock"];
const TRAEFIK_404 = "404 page not found\n";

const HELLO_PREFIX = { kind: "pathPrefix", prefix: "/hello" } as const;
const HELLO_HOST = { kind: "hosts", hosts: ["hello.example.test"] } as const;

describe("real traefik + nomad 1.6.3: routing to Spin apps", function () {
    this.timeout(120_000);
    let processes: Processes | undefined;
    let stack: RoutingStack | undefined;
    let dir = "";
    const echo: Server[] = [];

    before(async function () {
        this.timeout(400_000);
        if (missing(BINARIES).length > 0) return;
        buildHelloApp();
        dir = tempDir("traefik-routing");
        processes = new Processes(dir);
        processes.keepDir(dir);
        stack = await startRoutingStack(processes, dir);
        const jcoPort = await freePort();
        await startJco(processes, jcoPort, `${dir}/jco`);
        // The example app twice: under its path prefix (no domain) and on a host of its own.
        await deploy(stack.nomad, runnableJob(appInput("hello", HELLO_PREFIX), jcoPort, "1"));
        await deploy(stack.nomad, runnableJob(appInput("hellohost", HELLO_HOST), jcoPort, "1"));
        for (const app of OVERLAP_APPS) {
            const backend = await echoBackend(app.name);
            echo.push(backend.server);
            await deploy(stack.nomad, runnableJob(appInput(app.name, app.routing), backend.port, "1"));
        }
        await waitForRouters(stack, [
            spinAppRouteRouterName("hello", HELLO_PREFIX), spinAppRouteRouterName("hellohost", HELLO_HOST),
            ...OVERLAP_APPS.map((a) => spinAppRouteRouterName(a.name, a.routing)),
        ]);
    });
    after(async function () {
        this.timeout(120_000);
        if (stack) await stopNomadJobs(stack.nomad, dir);
        echo.forEach((s) => s.close());
        await processes?.stopAll();
        if (dir) unmountUnder(dir);
    });

    const get = (host: string, path: string) => webGet(stack!.web, host, path);

    itWith(BINARIES, "the example app answers on its path prefix, the prefix stripped", async () => {
        assert.deepEqual(await get("anything.test", "/hello/"), { status: 200, body: HELLO_GREETING });
        assert.deepEqual(await get("anything.test", "/hello"), { status: 200, body: HELLO_GREETING });
        assert.deepEqual(await get("127.0.0.1", "/hello/echo?x=a%20b"), { status: 200, body: "a b" });
        assert.deepEqual(await get("anything.test", "/hello/nope"), { status: 404, body: "not found" }, "the app's own 404");
        assert.deepEqual(await get("anything.test", "/helloworld"), { status: 404, body: TRAEFIK_404 });
    });

    itWith(BINARIES, "the example app answers on its host rule, and only there", async () => {
        assert.deepEqual(await get("hello.example.test", "/"), { status: 200, body: HELLO_GREETING });
        assert.deepEqual(await get("HELLO.example.test:80", "/echo?x=1"), { status: 200, body: "1" });
        assert.deepEqual(await get("other.example.test", "/echo?x=1"), { status: 404, body: TRAEFIK_404 });
    });

    for (const c of OVERLAP_CASES) {
        itWith(BINARIES, `overlap: ${c.host}${c.path} -> ${c.expected ? `${c.expected.app} ${c.expected.path}` : "no app"} (${c.why})`, async () => {
            const res = await get(c.host, c.path);
            assert.deepEqual(res, c.expected ? { status: 200, body: `${c.expected.app} ${c.expected.path}` } : { status: 404, body: TRAEFIK_404 });
        });
    }

    itWith(BINARIES, "Spin's /.well-known/spin/ is never routed to an app, however the path is spelled", async () => {
        const paths = [
            "/.well-known/spin/info", "/.well-known/spin/health",
            "/hello/.well-known/spin/info", "/hello/.well-known/spin/health", "/hello//.well-known/spin/info",
            "/hello/./.well-known/spin/info", "/hello/x/../.well-known/spin/info", "/hello/%2Ewell-known/spin/info",
        ];
        for (const host of ["anything.test", "hello.example.test"]) {
            for (const p of host === "hello.example.test" ? paths.filter((x) => !x.startsWith("/hello")) : paths) {
                const res = await get(host, p);
                assert.deepEqual([host, p, res.status, res.body], [host, p, 404, TRAEFIK_404]);
            }
        }
        assert.deepEqual(await get("hello.example.test", "//.well-known/spin/info"), { status: 404, body: TRAEFIK_404 });
    });

    itWith(BINARIES, "the platform's own paths are not routed to apps on the shared endpoint (web entry point)", async () => {
        for (const p of ["/api/overview", "/api/http/routers", "/dashboard/", "/ping", "/metrics", "/"]) {
            assert.deepEqual([p, await get("anything.test", p)], [p, { status: 404, body: TRAEFIK_404 }]);
        }
    });
});
