/**
 * The push's readiness wait (components/bindle/ready.ts) against loopback fakes: a health endpoint
 * scripted to refuse connections or answer otherwise for its first checks, as a fail-open load
 * balancer in front of one Bindle node among several clients does.
 */
import * as assert from "assert";
import * as http from "http";
import * as https from "https";
import { checkedReadiness, DEFAULT_READINESS, healthProblem, healthUrl, waitUntilServing } from "../../components/bindle/ready";
import { makeLoopbackPki } from "../aws/loopback-pki";
import { FakeBindle } from "../harness/fake-bindle";

type Answer = "ok" | "ok-json" | "refuse" | "503" | "other";

/** A /healthz that answers `script[i]` to the i-th check (then `rest`), and counts connections. */
async function scriptedHealth(script: Answer[], rest: Answer = "ok", tls?: { key: string; cert: string }) {
    const seen: string[] = [];
    let connections = 0;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
        seen.push(`${req.method} ${req.url}`);
        const answer = script.shift() ?? rest;
        if (answer === "refuse") { res.destroy(); return; }
        if (answer === "503") { res.writeHead(503); res.end("no healthy upstream"); return; }
        if (answer === "other") { res.writeHead(200, { "Content-Type": "text/html" }); res.end("<html>welcome</html>"); return; }
        res.writeHead(200, { "Content-Type": answer === "ok" ? "text/plain" : "application/json" });
        res.end(answer === "ok" ? "OK" : JSON.stringify({ status: "OK", version: "0.9.1" }));
    };
    const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    server.on(tls ? "secureConnection" : "connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    return {
        url: `${tls ? "https" : "http"}://127.0.0.1:${port}/v1`, seen, connections: () => connections,
        stop: () => new Promise<void>((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
    };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
    try { await p; } catch (e) { return e as Error; }
    throw new Error("expected a rejection");
}

describe("Bindle readiness before a push", function () {
    this.timeout(20_000);

    it("healthUrl: /healthz at the server root, outside /v1", () => {
        assert.strictEqual(healthUrl("https://ops.example:8085/v1"), "https://ops.example:8085/healthz");
        assert.strictEqual(healthUrl("https://ops.example:8085/v1/"), "https://ops.example:8085/healthz");
        assert.strictEqual(healthUrl("http://127.0.0.1:9/bindle/v1"), "http://127.0.0.1:9/bindle/healthz");
    });

    it("healthProblem accepts 0.8.2's plain OK and 0.9.1's JSON, nothing else", () => {
        assert.strictEqual(healthProblem(200, Buffer.from("OK")), undefined);
        assert.strictEqual(healthProblem(200, Buffer.from('{"status":"OK","version":"0.9.1"}')), undefined);
        assert.match(healthProblem(200, Buffer.from("<html>welcome</html>"))!, /not Bindle's health answer/);
        assert.match(healthProblem(200, Buffer.from('{"status":"starting"}'))!, /not Bindle's health answer/);
        assert.match(healthProblem(503, Buffer.from("no healthy upstream"))!, /^HTTP 503/);
        assert.match(healthProblem(404, Buffer.from("OK"))!, /^HTTP 404/);
    });

    it("checkedReadiness: defaults, and errors naming the field, the value and what is allowed", () => {
        assert.deepStrictEqual(checkedReadiness(undefined), { consecutive: 15, intervalMs: 1000, timeoutMs: 300_000 });
        assert.deepStrictEqual(checkedReadiness({ consecutive: 3 }), { ...DEFAULT_READINESS, consecutive: 3 });
        assert.throws(() => checkedReadiness({ consecutive: 0 }), /readiness\.consecutive = 0 is not allowed: an integer from 1 to 100/);
        assert.throws(() => checkedReadiness({ intervalMs: 1.5 }), /readiness\.intervalMs = 1.5 is not allowed: an integer from 10 to 60000/);
        assert.throws(() => checkedReadiness({ timeoutMs: "5m" }), /readiness\.timeoutMs = "5m" is not allowed/);
        assert.throws(() => checkedReadiness({ retries: 3 }), /readiness\.retries is not allowed: the fields are consecutive, intervalMs, timeoutMs/);
        assert.throws(() => checkedReadiness(5), /readiness = 5 is not allowed/);
    });

    it("waits through K failed checks, then needs N in a row, each on a new connection", async () => {
        const fake = await scriptedHealth(["refuse", "refuse", "503", "refuse"]);
        try {
            const { checks } = await waitUntilServing({ serverUrl: fake.url }, { consecutive: 3, intervalMs: 10, timeoutMs: 5_000 });
            assert.strictEqual(checks, 4 + 3);
            assert.deepStrictEqual(new Set(fake.seen), new Set(["GET /healthz"]), "only /healthz, never the API");
            assert.strictEqual(fake.connections(), 7, "one connection per check: each is a new load-balancing decision");
        } finally { await fake.stop(); }
    });

    it("a failure (or a 200 that is not Bindle) resets the streak", async () => {
        const fake = await scriptedHealth(["ok", "ok", "refuse", "ok-json", "other", "ok", "ok-json", "ok"]);
        try {
            const { checks } = await waitUntilServing({ serverUrl: fake.url }, { consecutive: 3, intervalMs: 10, timeoutMs: 5_000 });
            assert.strictEqual(checks, 8);
        } finally { await fake.stop(); }
    });

    it("gives up when the budget runs out, saying what it waited for, where and for how long", async () => {
        const fake = await scriptedHealth([], "refuse");
        try {
            const started = Date.now();
            const e = await rejection(waitUntilServing({ serverUrl: fake.url }, { consecutive: 2, intervalMs: 20, timeoutMs: 400 }));
            const took = Date.now() - started;
            assert.ok(took >= 350 && took < 3_000, `bounded by timeoutMs (took ${took} ms)`);
            for (const part of [`Bindle at ${fake.url.replace("/v1", "/healthz")} is not ready`, "waited 0.", "readiness.timeoutMs 400",
                "2 consecutive successful GET /healthz, 20 ms apart", `before writing to ${fake.url}`, "longest streak 0",
                "last failure: ", "socket hang up", "3 health checks 30 s apart", "pulumi up again"]) {
                assert.ok(e.message.includes(part), `"${e.message}" lacks "${part}"`);
            }
        } finally { await fake.stop(); }
    });

    it("a server that answers 200 with something else never counts as ready", async () => {
        const fake = await scriptedHealth([], "other");
        try {
            const e = await rejection(waitUntilServing({ serverUrl: fake.url }, { consecutive: 1, intervalMs: 10, timeoutMs: 200 }));
            assert.match(e.message, /last failure: HTTP 200 with body "<html>welcome<\/html>"/);
        } finally { await fake.stop(); }
    });

    it("verifies TLS with the push's CA: without it, no check succeeds", async () => {
        const pki = makeLoopbackPki("bindle-ready-tls");
        const fake = await scriptedHealth(["refuse"], "ok-json", { key: pki.key, cert: pki.cert });
        try {
            const e = await rejection(waitUntilServing({ serverUrl: fake.url }, { consecutive: 1, intervalMs: 10, timeoutMs: 200 }));
            assert.match(e.message, /last failure: .*certificate/);
            const { checks } = await waitUntilServing({ serverUrl: fake.url, caPem: pki.caPem }, { consecutive: 2, intervalMs: 10, timeoutMs: 5_000 });
            assert.strictEqual(checks, 1 + 2, "the refused check (the handshakes without the CA never reached the handler), then 2 in a row");
        } finally {
            await fake.stop();
            pki.remove();
        }
    });

    it("the fake Bindle's /healthz fails its first K checks like a fail-open load balancer", async () => {
        const server = await new FakeBindle().start();
        try {
            server.healthFailures = 2;
            const { checks } = await waitUntilServing({ serverUrl: server.url }, { consecutive: 2, intervalMs: 10, timeoutMs: 5_000 });
            assert.deepStrictEqual([checks, server.healthChecks, server.log.length], [4, 4, 0]);
        } finally { await server.stop(); }
    });
});
