/**
 * The example Spin app, apps/hello: `apps/build.sh --if-stale` builds it into a wasi:http
 * WebAssembly component (a no-op when dist/hello.wasm is newer than every source and the app's
 * node_modules is there), its spin.toml is a version-2 manifest whose every referenced file exists,
 * and the component, served on 127.0.0.1 by a real wasi:http host (`jco serve`), answers `/` and
 * `/echo?x=`. Parallel runs in one work tree are safe: build.sh holds apps/hello/.build.lock
 * exclusively, and the server holds it shared, so no build swaps node_modules under it.
 */
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "fs";
import { createServer } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { parse as parseToml } from "smol-toml";

const ROOT = path.join(__dirname, "..", "..");
const BUILD_SCRIPT = path.join(ROOT, "apps", "build.sh");
const APP = path.join(ROOT, "apps", "hello");
const WASM = path.join(APP, "dist", "hello.wasm");
const JCO = path.join(APP, "node_modules", "@bytecodealliance", "jco", "dist", "jco.js");
const BUILD_LOCK = path.join(APP, ".build.lock");

/** A clean build is `npm ci` plus ~15 s of componentizing; .ci/run builds first, so here it is a no-op. */
const BUILD_TIMEOUT_MS = 240_000;
/** How long the server may wait for a parallel run's build to finish, then how long it may take to answer. */
const LOCK_TIMEOUT_S = 30;
const SERVER_START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 5_000;
const SERVER_STOP_TIMEOUT_MS = 5_000;

/** The files a glob names must exist: its part before the first wildcard, at least. */
function globBase(glob: string): string {
    const wildcard = glob.search(/[*?[{]/);
    return wildcard < 0 ? glob : path.dirname(glob.slice(0, wildcard) + "x");
}

// ---- serving --------------------------------------------------------------------------------

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
        });
    });
}

interface Served {
    readonly child: ChildProcess;
    readonly output: () => string;
}

/**
 * `jco serve` transpiles the component to JS and runs it on Node's HTTP server with the
 * preview2-shim wasi:http host. `--isolate-requests instance`: a fresh component instance per
 * request, as Spin does (a fetch-event component answers only one request per instance).
 * Runs under `flock --shared` on build.sh's lock, in its own process group so that stopping it
 * also ends the node processes under it.
 */
function startServer(port: number, jcoDir: string): Served {
    const serve = [JCO, "serve", WASM, "--isolate-requests", "instance", "--host", "127.0.0.1", "--port", String(port), "--jco-dir", jcoDir];
    // macOS has no flock(1) (build.sh then builds unlocked): serve without the lock there.
    const locked = spawnSync("sh", ["-c", "command -v flock"]).status === 0;
    const [command, args] = locked
        ? ["flock", ["--shared", "--timeout", String(LOCK_TIMEOUT_S), BUILD_LOCK, process.execPath, ...serve]]
        : [process.execPath, serve];
    const child = spawn(command, args, { cwd: APP, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    return { child, output: () => output };
}

async function get(port: number, pathAndQuery: string): Promise<{ status: number; contentType: string; body: string }> {
    const response = await fetch(`http://127.0.0.1:${port}${pathAndQuery}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return { status: response.status, contentType: response.headers.get("content-type") ?? "", body: await response.text() };
}

/** Until `GET /` answers (connection refused while the server transpiles and starts). */
async function waitUntilServing(served: Served, port: number): Promise<void> {
    const limitMs = LOCK_TIMEOUT_S * 1000 + SERVER_START_TIMEOUT_MS;
    const deadline = Date.now() + limitMs;
    for (;;) {
        if (served.child.exitCode !== null || served.child.signalCode !== null) {
            throw new Error(`jco serve exited (${served.child.exitCode ?? served.child.signalCode}):\n${served.output()}`);
        }
        try {
            await get(port, "/");
            return;
        } catch (error) {
            if (Date.now() > deadline) throw new Error(`jco serve did not answer within ${limitMs} ms (${error}):\n${served.output()}`);
            await new Promise((resolve) => setTimeout(resolve, 250));
        }
    }
}

async function stopServer(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const signalGroup = (signal: NodeJS.Signals) => {
        try {
            process.kill(-child.pid!, signal);
        } catch {
            // already gone
        }
    };
    signalGroup("SIGTERM");
    const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), SERVER_STOP_TIMEOUT_MS));
    if ((await Promise.race([exited, timer])) === "timeout") {
        signalGroup("SIGKILL");
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, SERVER_STOP_TIMEOUT_MS))]);
    }
}

describe("example Spin app (apps/hello)", function () {
    before(function () {
        this.timeout(BUILD_TIMEOUT_MS + 5_000);
        const result = spawnSync("bash", [BUILD_SCRIPT, "--if-stale"], { cwd: ROOT, encoding: "utf8", timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
        const output = `${result.stdout}${result.stderr}`.split("\n").slice(-40).join("\n");
        assert.strictEqual(result.status, 0, `apps/build.sh failed (${result.error ?? result.signal ?? result.status}):\n${output}`);
    });

    it("the build wrote a WebAssembly component (not a core module)", () => {
        const header = readFileSync(WASM).subarray(0, 8);
        assert.deepStrictEqual([...header], [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
    });

    describe("spin.toml", () => {
        type Table = Record<string, unknown>;
        let manifest: Table = {};
        before(() => {
            manifest = parseToml(readFileSync(path.join(APP, "spin.toml"), "utf8"));
        });
        const components = () => manifest.component as Record<string, Table>;

        it("is a version-2 manifest with an application name", () => {
            assert.strictEqual(manifest.spin_manifest_version, 2);
            assert.strictEqual((manifest.application as Table).name, "hello");
        });

        it("every HTTP trigger has a route and names a component that is defined", () => {
            const triggers = (manifest.trigger as Record<string, Table[]>).http;
            assert.deepStrictEqual(triggers.map((t) => [t.route, t.component]), [["/...", "hello"]]);
            for (const trigger of triggers) {
                assert.ok(components()[trigger.component as string], `undefined component ${trigger.component}`);
            }
        });

        it("every file it references exists: component sources, build workdirs and watched paths", () => {
            assert.deepStrictEqual(Object.keys(components()), ["hello"]);
            for (const [name, component] of Object.entries(components())) {
                assert.strictEqual(typeof component.source, "string", `component.${name}.source`);
                assert.ok(existsSync(path.join(APP, component.source as string)), `component.${name}.source ${component.source} does not exist`);
                const build = component.build as Table;
                const workdir = path.join(APP, (build.workdir as string | undefined) ?? ".");
                assert.ok(existsSync(workdir), `component.${name}.build.workdir ${workdir} does not exist`);
                for (const glob of (build.watch ?? []) as string[]) {
                    assert.ok(existsSync(path.join(workdir, globBase(glob))), `component.${name}.build.watch ${glob} names nothing`);
                }
            }
        });

        it("the build command is the app's `npm run build`: type-check, bundle, j2w", () => {
            assert.strictEqual((components().hello.build as Table).command, "npm run build");
            const scripts = JSON.parse(readFileSync(path.join(APP, "package.json"), "utf8")).scripts;
            assert.strictEqual(scripts.build, "npm run typecheck && npm run bundle && npm run componentize");
            assert.match(scripts.componentize, /^j2w -i build\/bundle\.js .*-o dist\/hello\.wasm$/);
        });
    });

    describe("served by jco serve on 127.0.0.1", function () {
        this.timeout(REQUEST_TIMEOUT_MS * 3);
        let served: Served | undefined;
        let port = 0;
        let jcoDir = "";

        before(async function () {
            this.timeout(LOCK_TIMEOUT_S * 1000 + SERVER_START_TIMEOUT_MS + 5_000);
            port = await freePort();
            jcoDir = mkdtempSync(path.join(tmpdir(), "spin-cloud-jco-"));
            served = startServer(port, jcoDir);
            await waitUntilServing(served, port);
        });

        after(async function () {
            if (served) await stopServer(served.child);
            if (jcoDir) rmSync(jcoDir, { recursive: true, force: true });
        });

        it("GET / answers 200 `hello from spin-cloud` as text", async () => {
            const response = await get(port, "/");
            assert.deepStrictEqual([response.status, response.body], [200, "hello from spin-cloud"]);
            assert.match(response.contentType, /^text\/plain/);
        });

        it("GET /echo?x=1 answers 200 `1`, and echoes a decoded value", async () => {
            assert.deepStrictEqual(await get(port, "/echo?x=1"), { status: 200, contentType: "text/plain; charset=utf-8", body: "1" });
            assert.strictEqual((await get(port, "/echo?x=a%20b&y=2")).body, "a b");
        });

        it("an unknown path answers 404", async () => {
            assert.strictEqual((await get(port, "/nope")).status, 404);
        });
    });
});
