/**
 * Routing cost (issue 10 "Measure"): real Traefik, with the static configuration the project
 * renders for the local target, in front of `jco serve` of the example component, on loopback;
 * requests per second and p50/p99 latency through Traefik versus directly to jco, in the same
 * run, the load from a second process (`wrk`, bounded: threads, connections and duration fixed).
 *
 * Traefik routes as the project's tags say: the router rule, priority and stripPrefix middleware
 * of spin-app-routing.ts for the example app under `/hello`, given through Traefik's file
 * provider (the Consul catalog and Nomad providers build the same router from the same tags;
 * there is no catalog in a benchmark). Access logs stay on, as in production.
 *
 *   npm run bench:routing                       # wrk -t1 -c8 -d5s --latency, 2 rounds
 *   BENCH_WRK="-t1 -c16 -d10s" npm run bench:routing
 *   BENCH_ROUNDS=3 npm run bench:routing        # rounds, alternating direct / through Traefik; median
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { parse, stringify } from "yaml";
import { renderTraefikStaticConfig, TraefikStaticConfig } from "../provisioning/jobs/traefik-config";
import { SPIN_APP_ROUTE_PRIORITY, spinAppRule } from "../provisioning/jobs/spin-app-routing";
import { buildHelloApp, startJco } from "../test/real/harness/jco";
import { freePort, missing, Processes, request, tempDir, waitFor } from "../test/real/harness/runtime";
import { entryPointPorts, localTraefikPorts, startTraefik, TRAEFIK_BINARY } from "../test/real/harness/traefik";
import { writeFileSync } from "fs";

const WRK = "wrk";
const WRK_ARGS = (process.env.BENCH_WRK ?? "-t1 -c8 -d5s").split(/\s+/).filter(Boolean);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface WrkResult { readonly rps: number; readonly p50Ms: number; readonly p99Ms: number; readonly errors: number }

function ms(value: string): number {
    const m = /^([\d.]+)(us|ms|s|m)$/.exec(value);
    if (!m) throw new Error(`wrk: unreadable latency ${value}`);
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
}

/** Parses wrk's `--latency` report (Requests/sec, the 50% and 99% lines, non-2xx and socket errors). */
export function parseWrk(out: string): WrkResult {
    const num = (re: RegExp) => { const m = re.exec(out); if (!m) throw new Error(`wrk: no ${re} in:\n${out}`); return m[1]; };
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
    const errors = (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
    return { rps: Number(num(/Requests\/sec:\s+([\d.]+)/)), p50Ms: ms(num(/^\s+50%\s+(\S+)/m)), p99Ms: ms(num(/^\s+99%\s+(\S+)/m)), errors };
}

function wrk(url: string, args: readonly string[]): WrkResult {
    const r = spawnSync(WRK, [...args, "--latency", url], { encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`wrk failed (${r.status ?? r.signal}): ${r.stderr}`);
    return parseWrk(r.stdout);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
    const lacking = missing([TRAEFIK_BINARY, WRK, "flock"]);
    if (lacking.length > 0) throw new Error(`bench:routing needs ${lacking.join(", ")} on PATH`);
    buildHelloApp();
    const dir = tempDir("bench-routing");
    const processes = new Processes(dir);
    processes.keepDir(dir);
    try {
        const jcoPort = await freePort();
        await startJco(processes, jcoPort, path.join(dir, "jco"));
        const config = parse(renderTraefikStaticConfig({ local: { ports: await localTraefikPorts() } })) as TraefikStaticConfig;
        const ports = entryPointPorts(config);
        const routing = { kind: "pathPrefix", prefix: "/hello" } as const;
        // YAML: the file provider reads .yml/.yaml/.toml only (pkg/provider/file/file.go).
        const dynamicFile = path.join(dir, "dynamic.yml");
        writeFileSync(dynamicFile, stringify({
            http: {
                routers: { hello: { rule: spinAppRule(routing), priority: SPIN_APP_ROUTE_PRIORITY.pathPrefix, entryPoints: ["web"], middlewares: ["hello-strip"], service: "hello" } },
                middlewares: { "hello-strip": { stripPrefix: { prefixes: ["/hello"] } } },
                services: { hello: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${jcoPort}` }] } } },
            },
        }));
        // The benchmark's only change to the rendered static configuration: the file provider instead of the Consul catalog.
        const traefik = await startTraefik(processes, dir, { ...config, providers: { file: { filename: dynamicFile } } }, ports.ping);
        const direct = `http://127.0.0.1:${jcoPort}/echo?x=1`;
        const routed = `http://127.0.0.1:${ports.web}/hello/echo?x=1`;
        for (const url of [direct, routed]) {
            // The file provider's router may land a moment after /ping answers.
            await waitFor(`${url} answering 1`, async () => ((await request(url, {}, 2_000)).body === "1" ? true : undefined), 15_000)
                .catch((e) => { throw new Error(`${(e as Error).message}\ntraefik log:\n${traefik.log().slice(-3000)}`); });
            wrk(url, ["-t1", "-c8", "-d2s"]); // warm-up: JIT, connection pools
        }
        const results: { direct: WrkResult[]; traefik: WrkResult[] } = { direct: [], traefik: [] };
        for (let round = 0; round < ROUNDS; round++) {
            results.direct.push(wrk(direct, WRK_ARGS));
            results.traefik.push(wrk(routed, WRK_ARGS));
        }
        const summary = (rs: WrkResult[]) => ({ rps: median(rs.map((r) => r.rps)), p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)), errors: rs.reduce((a, r) => a + r.errors, 0) });
        const d = summary(results.direct);
        const t = summary(results.traefik);
        console.log(`wrk ${WRK_ARGS.join(" ")} --latency, ${ROUNDS} rounds alternating, median; traefik ${spawnSync(TRAEFIK_BINARY, ["version"], { encoding: "utf8" }).stdout.match(/Version:\s+(\S+)/)?.[1]}`);
        console.log("| path | requests/s | p50 | p99 | errors |");
        console.log("| --- | --- | --- | --- | --- |");
        for (const [name, r] of [["direct to jco serve", d], ["through Traefik", t]] as const) {
            console.log(`| ${name} | ${r.rps.toFixed(0)} | ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms | ${r.errors} |`);
        }
        console.log(`ratios (Traefik / direct): requests/s ${(t.rps / d.rps).toFixed(2)}x, p50 ${(t.p50Ms / d.p50Ms).toFixed(2)}x, p99 ${(t.p99Ms / d.p99Ms).toFixed(2)}x`);
    } finally {
        await processes.stopAll();
    }
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
