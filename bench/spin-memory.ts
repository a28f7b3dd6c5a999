/**
 * Peak memory of the runtime Spin embeds while it compiles and serves the example component
 * (issue 14: the default and minimum `memoryMb` come from this figure). The host is
 * wasmtime-cli's `wasmtime serve` at the version Spin 3.4.0 pins (spinframework/spin Cargo.toml
 * `wasmtime = "36.0.1"`): Spin compiles each component with that engine when an instance starts
 * (crates/core), and a fresh Nomad allocation starts with no compilation cache, so the cold
 * figure is what a hard cgroup limit must hold. Peak RSS from GNU time (`/usr/bin/time -v`).
 *
 *   npm run bench:memory      # cold (no cache) and warm (cached) starts, 50 requests each
 */
import { spawn, spawnSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { SPIN_APP_DEFAULTS } from "../components/apps/spin-app-args";
import { SPIN_APP_LIMITS } from "../provisioning/jobs/spin-app-job";
import { freePort, missing, request, sleep, tempDir, waitFor } from "../test/real/harness/runtime";

const WASM = path.join(__dirname, "..", "apps", "hello", "dist", "hello.wasm");
const REQUESTS = 50;

async function peakKb(cacheArgs: string[], dir: string): Promise<number> {
    const port = await freePort();
    const timeFile = path.join(dir, `time-${port}.txt`);
    const child = spawn("/usr/bin/time", ["-v", "-o", timeFile, "wasmtime", "serve", "-S", "cli=y", "--addr", `127.0.0.1:${port}`, ...cacheArgs, WASM],
        { stdio: "ignore", env: { ...process.env, HOME: dir } });
    try {
        await waitFor("wasmtime serve to answer", async () => ((await request(`http://127.0.0.1:${port}/`)).status === 200 ? true : undefined), 120_000, 250);
        for (let i = 0; i < REQUESTS; i++) await request(`http://127.0.0.1:${port}/echo?x=${i}`);
    } finally {
        child.kill("SIGINT"); // GNU time passes the signal on to wasmtime
        spawnSync("pkill", ["-INT", "-f", "--", `--addr 127.0.0.1:${port}`]);
        await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once("exit", () => r())));
    }
    await sleep(100);
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(timeFile, "utf8"));
    if (!m) throw new Error(`no peak RSS in ${timeFile}`);
    return Number(m[1]);
}

async function main(): Promise<void> {
    const lacking = missing(["wasmtime"]);
    if (lacking.length > 0 || spawnSync("test", ["-x", "/usr/bin/time"]).status !== 0) {
        console.log(`skipped: ${[...lacking, "/usr/bin/time"].join(", ")} needed (cargo install wasmtime-cli --version 36.0.1; apt-get install time)`);
        return;
    }
    const dir = tempDir("memory");
    const cold = await peakKb(["-C", "cache=n"], dir);
    await peakKb(["-C", "cache=y"], dir); // fills the cache
    const warm = await peakKb(["-C", "cache=y"], dir);
    const mb = (kb: number) => Math.round(kb / 1024);
    console.log(`component ${mb(readFileSync(WASM).length / 1024)} MB; ${REQUESTS} requests per start`);
    console.log(`cold start (compile): peak ${mb(cold)} MB = ${(cold / 1024 / SPIN_APP_DEFAULTS.memoryMb).toFixed(2)}x the default ${SPIN_APP_DEFAULTS.memoryMb} MB`);
    console.log(`warm start (cached):  peak ${mb(warm)} MB = ${(warm / cold).toFixed(2)}x the cold peak; minimum memoryMb ${SPIN_APP_LIMITS.memoryMb.min} MB`);
}

main().catch((e) => { console.error(e); process.exit(1); });
