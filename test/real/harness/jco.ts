/**
 * The example component served by a real wasi:http host, `jco serve` (the way
 * test/apps/example-app.test.ts serves it): built by `bash apps/build.sh --if-stale`, started
 * under a shared flock on build.sh's lock, `--isolate-requests instance` (one instance per
 * request, as Spin does), on 127.0.0.1.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { Processes, request, Started, waitFor } from "./runtime";

const ROOT = path.join(__dirname, "..", "..", "..");
export const HELLO_APP_DIR = path.join(ROOT, "apps", "hello");
export const HELLO_WASM = path.join(HELLO_APP_DIR, "dist", "hello.wasm");
export const JCO = path.join(HELLO_APP_DIR, "node_modules", "@bytecodealliance", "jco", "dist", "jco.js");
export const HELLO_GREETING = "hello from spin-cloud";
const BUILD_LOCK = path.join(HELLO_APP_DIR, ".build.lock");

/** Builds the example app when stale; throws with the build's tail when it fails. */
export function buildHelloApp(timeoutMs = 240_000): void {
    const result = spawnSync("bash", [path.join(ROOT, "apps", "build.sh"), "--if-stale"], { cwd: ROOT, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
    if (result.status !== 0) throw new Error(`apps/build.sh failed (${result.error ?? result.signal ?? result.status}):\n${`${result.stdout}${result.stderr}`.slice(-3000)}`);
}

/** `jco serve` of hello.wasm on 127.0.0.1:`port`; resolves once GET / answers the greeting. */
export async function startJco(processes: Processes, port: number, jcoDir: string): Promise<Started> {
    const serve = [JCO, "serve", HELLO_WASM, "--isolate-requests", "instance", "--host", "127.0.0.1", "--port", String(port), "--jco-dir", jcoDir];
    const started = processes.start(`jco-${port}`, "flock", ["--shared", "--timeout", "30", BUILD_LOCK, process.execPath, ...serve], { cwd: HELLO_APP_DIR });
    await waitFor(`jco serve on 127.0.0.1:${port}`, async () => {
        if (started.child.exitCode !== null) throw new Error(`jco serve exited ${started.child.exitCode}:\n${started.log().slice(-2000)}`);
        const res = await request(`http://127.0.0.1:${port}/`, {}, 2_000);
        return res.body === HELLO_GREETING ? true : undefined;
    }, 90_000, 250);
    return started;
}
