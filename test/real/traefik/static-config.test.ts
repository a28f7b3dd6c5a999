/**
 * The Traefik static configuration the project renders (provisioning/jobs/traefik-config.ts),
 * for the local target and for AWS, started with the real traefik binary while its Consul
 * endpoint is unreachable: Traefik must still start, answer /ping on the entry point the load
 * balancer checks, serve the API and dashboard on the operator entry point only, and route
 * nothing on web.
 */
import { strict as assert } from "assert";
import { parse } from "yaml";
import { renderTraefikStaticConfig, TraefikStaticConfig } from "../../../provisioning/jobs/traefik-config";
import { TRAEFIK_PORTS } from "../../../provisioning/platform";
import { freePorts, itWith, missing, Processes, request, Started, tempDir } from "../harness/runtime";
import { awsConfigOnLoopback, entryPointPorts, localTraefikPorts, startTraefik, TRAEFIK_BINARY } from "../harness/traefik";

interface Placement { readonly name: string; config(): Promise<TraefikStaticConfig> }

const PLACEMENTS: Placement[] = [
    {
        name: "local target",
        // The local placement already listens on loopback only; rendered with free ports, used as is.
        config: async () => parse(renderTraefikStaticConfig({ local: { ports: await localTraefikPorts() } })) as TraefikStaticConfig,
    },
    {
        name: "AWS",
        config: async () => {
            const rendered = renderTraefikStaticConfig({ vpcCidr: "10.40.0.0/16" });
            // Rendered for the node's fixed ports on every interface: moved to loopback (harness/traefik.ts).
            assert.deepEqual(entryPointPorts(parse(rendered)), { web: TRAEFIK_PORTS.web, traefik: TRAEFIK_PORTS.dashboard, ping: TRAEFIK_PORTS.ping });
            const [web, traefik, ping, consul] = await freePorts(4);
            return awsConfigOnLoopback(rendered, { web, traefik, ping, consul });
        },
    },
];

for (const placement of PLACEMENTS) {
    describe(`real traefik: the ${placement.name} static configuration, Consul unreachable`, function () {
        this.timeout(60_000);
        let processes: Processes | undefined;
        let ports = { web: 0, traefik: 0, ping: 0 };
        let traefik: Started | undefined;

        before(async function () {
            this.timeout(60_000);
            if (missing([TRAEFIK_BINARY]).length > 0) return;
            const dir = tempDir("traefik-static");
            processes = new Processes(dir);
            processes.keepDir(dir);
            const config = await placement.config();
            ports = entryPointPorts(config);
            traefik = await startTraefik(processes, dir, config, ports.ping);
        });
        after(async () => processes?.stopAll());

        const get = (port: number, p: string) => request(`http://127.0.0.1:${port}${p}`, {}, 5_000);

        itWith([TRAEFIK_BINARY], "starts and answers /ping 200 OK on the ping entry point (the load balancer's health check)", async () => {
            assert.ok(traefik);
            assert.deepEqual(await get(ports.ping, "/ping").then((r) => [r.status, r.body]), [200, "OK"]);
        });

        itWith([TRAEFIK_BINARY], "serves the API and the dashboard on the operator (traefik) entry point", async () => {
            const overview = await get(ports.traefik, "/api/overview");
            assert.equal(overview.status, 200);
            assert.ok("http" in JSON.parse(overview.body));
            // The dashboard router is there; its page is 500 in a source build without the web UI
            // assets (issue 10: "the embed has a placeholder"), 200 with a release binary.
            const dashboard = await get(ports.traefik, "/dashboard/");
            assert.ok([200, 500].includes(dashboard.status), `dashboard answered ${dashboard.status}`);
            const routers = JSON.parse((await get(ports.traefik, "/api/http/routers")).body) as { name: string; entryPoints: string[] }[];
            const internal = routers.filter((r) => r.name.endsWith("@internal")).map((r) => [r.name, r.entryPoints]);
            assert.deepEqual(internal.sort(), [
                ["api@internal", ["traefik"]], ["dashboard@internal", ["traefik"]], ["ping@internal", ["ping"]], ["prometheus@internal", ["traefik"]],
            ]);
            const metrics = await get(ports.traefik, "/metrics");
            assert.equal(metrics.status, 200);
            assert.match(metrics.body, /traefik_/);
        });

        itWith([TRAEFIK_BINARY], "routes none of the platform's own paths on web (API, dashboard, ping, metrics, Spin's)", async () => {
            for (const p of ["/api/overview", "/api/rawdata", "/dashboard/", "/ping", "/metrics", "/.well-known/spin/info", "/"]) {
                const res = await get(ports.web, p);
                assert.deepEqual([p, res.status, res.body], [p, 404, "404 page not found\n"]);
            }
            assert.equal((await get(ports.ping, "/api/overview")).status, 404, "nothing but /ping on the ping entry point");
        });

        itWith([TRAEFIK_BINARY], "keeps running while the Consul catalog is unreachable, and says so in its log", async () => {
            assert.equal(traefik!.child.exitCode, null);
            assert.match(traefik!.log(), /consul/i);
            assert.equal((await get(ports.ping, "/ping")).status, 200);
        });
    });
}
