/**
 * The `spin up` stand-in a Nomad task runs in the app-delivery tests (there is no Spin binary
 * here): started with the arguments the project renders for `spin up` (spin-app-job.ts
 * `spinUpArgs`), it listens where `--listen` says and answers as Spin 3.4's HTTP trigger does
 * (spinframework/spin v3.4.0 crates/trigger-http/src/server.rs `handle`):
 * - `/.well-known/spin/health`: 200 "OK" before any routing, whatever the component does;
 *   `/.well-known/spin/info`: 200 JSON; any other `/.well-known/spin/…`: 404;
 * - every other path goes to the component: here a `jco serve` of the example component on
 *   127.0.0.1 (SPIN_STANDIN_COMPONENT=<url>), or a component that fails every request
 *   (SPIN_STANDIN_COMPONENT=trap: Spin's `internal_error`, 500 with an empty body, as when the
 *   executor's instantiation or the handler traps).
 * Stand-in only, for the tests: `/.well-known/spin-standin/variables` answers the SHA-256 of the
 * SPIN_VARIABLE_* environment the process started with (never a value), so a test can tell which
 * secret an instance runs with. SIGINT (Nomad's kill_signal, Spin's ctrlc) closes it.
 */
import { createHash } from "crypto";
import * as http from "http";

const WELL_KNOWN = "/.well-known/spin/";
const STANDIN = "/.well-known/spin-standin/";

/** `host:port` of `--listen` among `spin up`'s arguments; throws when they are not `spin up`'s. */
export function listenAddress(argv: readonly string[]): { host: string; port: number } {
    if (argv[0] !== "up") throw new Error(`spin stand-in: expected \`up …\`, got ${JSON.stringify(argv)}`);
    const at = argv.indexOf("--listen");
    const match = at >= 0 ? /^(.+):(\d+)$/.exec(argv[at + 1] ?? "") : null;
    if (!match) throw new Error(`spin stand-in: no --listen host:port in ${JSON.stringify(argv)}`);
    return { host: match[1], port: Number(match[2]) };
}

/** SHA-256 of the SPIN_VARIABLE_* entries of `env`, sorted: changes with any value, reveals none. */
export function variablesDigest(env: NodeJS.ProcessEnv): string {
    const entries = Object.entries(env).filter(([k]) => k.startsWith("SPIN_VARIABLE_")).sort(([a], [b]) => (a < b ? -1 : 1));
    return createHash("sha256").update(JSON.stringify(entries)).digest("hex");
}

function serve(argv: readonly string[], component: string): void {
    const { host, port } = listenAddress(argv);
    const digest = variablesDigest(process.env);
    const upstream = component === "trap" ? undefined : new URL(component);
    const server = http.createServer((req, res) => {
        const path = new URL(req.url ?? "/", "http://x").pathname;
        const reply = (status: number, body = "", type = "text/plain") => {
            res.writeHead(status, body ? { "content-type": type } : {});
            res.end(body);
        };
        if (path.startsWith(WELL_KNOWN)) {
            const rest = path.slice(WELL_KNOWN.length);
            if (rest === "health") return reply(200, "OK");
            if (rest === "info") return reply(200, JSON.stringify({ standin: true }), "application/json");
            return reply(404, "not found");
        }
        if (path === `${STANDIN}variables`) return reply(200, digest);
        if (!upstream) return reply(500);
        const proxied = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (up) => {
            res.writeHead(up.statusCode ?? 500, up.headers);
            up.pipe(res);
        });
        proxied.on("error", () => (res.headersSent ? res.destroy() : reply(500)));
        req.pipe(proxied);
    });
    server.listen(port, host, () => console.log(`spin stand-in listening on ${host}:${port}, component ${component}`));
    process.once("SIGINT", () => {
        console.log("spin stand-in: SIGINT, stopping");
        server.close(() => process.exit(0));
        setTimeout(() => process.exit(0), 2_000).unref();
    });
}

if (require.main === module) {
    const component = process.env.SPIN_STANDIN_COMPONENT;
    if (!component) throw new Error("spin stand-in: SPIN_STANDIN_COMPONENT (a URL or `trap`) is required");
    serve(process.argv.slice(2), component);
}
