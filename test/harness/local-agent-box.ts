/**
 * Running the local target's scripts (provisioning/local/scripts/local-agent.sh and local-preflight.sh)
 * on loopback, without blocking the test's event loop, and the Box the local-agent.sh tests run
 * the stand-in agent (./local-standin.ts) in.
 */
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "fs";
import { createServer } from "http";
import { Server } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { freePort, killLeftovers, portOf, readEvents, standInCommand, startedPids, writeStandIn } from "./local-standin";

const SCRIPTS = path.join(__dirname, "..", "..", "provisioning", "local", "scripts");
export const AGENT = path.join(SCRIPTS, "local-agent.sh");
export const PREFLIGHT = path.join(SCRIPTS, "local-preflight.sh");
/** /bin/bash: bash 3.2 on macOS, the oldest the scripts must run on. */
const BASH = existsSync("/bin/bash") ? "/bin/bash" : "bash";

export interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
    /** Wall-clock time of the run. */
    readonly ms: number;
}

/**
 * Runs a script to its end, without blocking this process (so a health endpoint served by the
 * test answers meanwhile). The run ends when the script's stdout and stderr close: a start whose
 * agent kept them open (not detached from its caller) times out here.
 */
export function runScript(
    script: string, args: readonly string[], env: Readonly<Record<string, string>> = {}, onSpawn?: (child: ChildProcess) => void,
): Promise<Run> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(BASH, [script, ...args], {
            env: { ...process.env, LOCAL_AGENT_POLL_SECONDS: "0.1", ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        onSpawn?.(child);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`${path.basename(script)} ${args.join(" ")}: still running (or its output still open) after 15 s\n${stdout}${stderr}`));
        }, 15000);
        child.once("error", (e) => { clearTimeout(timer); reject(e); });
        child.once("close", (status) => {
            clearTimeout(timer);
            resolve({ status, stdout, stderr, ms: Date.now() - started });
        });
    });
}

export const expectedOs = () => ({ linux: "linux", darwin: "darwin" } as Record<string, string>)[process.platform];
export const expectedArch = () => ({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[process.arch];
export const url = (port: number, p = "/") => `http://127.0.0.1:${port}${p}`;
export const sessionOf = (pid: number) => Number(spawnSync("ps", ["-o", "sid=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim());

/** A temp dir with the stand-in and a state dir, the script's CLI on it, and cleanup. */
export class Box {
    readonly tmp = mkdtempSync(path.join(tmpdir(), "spin-cloud-local-"));
    readonly state = path.join(this.tmp, "state");
    /** Where the stand-ins record their events. */
    readonly record = path.join(this.tmp, "events.jsonl");
    readonly standIn = writeStandIn(this.tmp);
    /** More processes to end on cleanup. */
    readonly children: ChildProcess[] = [];
    readonly servers: Server[] = [];

    pidFile = (name: string) => path.join(this.state, "run", `${name}.pid`);
    logFile = (name: string) => path.join(this.state, "logs", `${name}.log`);
    readPid = (name: string) => Number(readFileSync(this.pidFile(name), "utf8").trim());
    events = () => readEvents(this.record);
    command = (port: number, ...extra: string[]) => standInCommand(this.standIn, port, this.record, ...extra);

    agent = (args: readonly string[], env: Readonly<Record<string, string>> = {}, onSpawn?: (child: ChildProcess) => void) =>
        runScript(AGENT, args, env, onSpawn);
    start = (name: string, healthUrl: string, command: readonly string[], env: Readonly<Record<string, string>> = {}, options: readonly string[] = [],
        onSpawn?: (child: ChildProcess) => void) =>
        this.agent(["start", "--name", name, "--state-dir", this.state, "--health-url", healthUrl, ...options, "--", ...command], env, onSpawn);
    stop = (name: string, options: readonly string[] = [], env: Readonly<Record<string, string>> = {}) =>
        this.agent(["stop", "--name", name, "--state-dir", this.state, ...options], env);
    status = (name: string) => this.agent(["status", "--name", name, "--state-dir", this.state]);

    /** Starts the stand-in as `name` on a fresh port, which must succeed. */
    async startHealthy(name: string, extra: readonly string[] = [], env: Readonly<Record<string, string>> = {}) {
        const port = await freePort();
        const out = await this.start(name, url(port), this.command(port, ...extra), env);
        assert.strictEqual(out.status, 0, `start failed:\n${out.stdout}${out.stderr}`);
        return { pid: this.readPid(name), port, out };
    }

    /** A health endpoint served by this process: 200 on any path. */
    async healthServer(): Promise<number> {
        const server = createServer((_req, res) => res.end("ok\n"));
        this.servers.push(server);
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        return portOf(server);
    }

    /**
     * Ends whatever a test left running: every stand-in that started and every pid file's process
     * (only those whose command line mentions this box's temp dir), and the test's own children.
     */
    async cleanup() {
        const run = path.join(this.state, "run");
        const fromPidFiles = existsSync(run)
            ? readdirSync(run).filter((f) => f.endsWith(".pid")).map((f) => Number(readFileSync(path.join(run, f), "utf8").trim()))
            : [];
        killLeftovers([...startedPids(this.record), ...fromPidFiles.filter((p) => p > 1)], this.tmp);
        for (const child of this.children) child.kill("SIGKILL");
        await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
        rmSync(this.tmp, { recursive: true, force: true });
    }
}
