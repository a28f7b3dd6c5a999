/**
 * The real programs of `npm run test:real`: found on PATH or skipped with a visible reason,
 * started on 127.0.0.1 in their own process group and temp dir, stopped (with every child) at
 * the end, pass or fail. Every wait is bounded.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "fs";
import * as net from "net";
import { tmpdir } from "os";
import * as path from "path";

/** The absolute path of `name` on PATH, or undefined. */
export function onPath(name: string): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        if (!dir) continue;
        const candidate = path.join(dir, name);
        if (spawnSync("test", ["-x", candidate]).status === 0) return candidate;
    }
    return undefined;
}

/** The binaries among `names` that are not on PATH. */
export function missing(names: readonly string[]): string[] {
    return names.filter((n) => onPath(n) === undefined);
}

/**
 * `it` that runs only when every binary is on PATH; otherwise the test is listed as pending
 * with the reason in its title (`… [skipped: bindle-server not on PATH]`).
 */
export function itWith(binaries: readonly string[], title: string, fn: (this: Mocha.Context) => Promise<void> | void): void {
    const lacking = missing(binaries);
    if (lacking.length > 0) {
        it.skip(`${title} [skipped: ${lacking.join(", ")} not on PATH]`);
    } else {
        it(title, fn);
    }
}

/** A free TCP port on 127.0.0.1 (the OS picks it; closed again before it is returned). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

export async function freePorts(count: number): Promise<number[]> {
    const ports = new Set<number>();
    while (ports.size < count) ports.add(await freePort());
    return [...ports];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` every `intervalMs` until it returns a value other than undefined; bounded. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
        try {
            const value = await probe();
            if (value !== undefined) return value;
        } catch (e) {
            last = e;
        }
        await sleep(intervalMs);
    }
    throw new Error(`waited ${timeoutMs} ms for ${what}${last ? `; last error: ${(last as Error).message}` : ""}`);
}

/** A temp dir removed by `cleanup`. */
export function tempDir(prefix: string): string {
    return mkdtempSync(path.join(tmpdir(), `spin-cloud-real-${prefix}-`));
}

export interface Started {
    readonly child: ChildProcess;
    readonly logFile: string;
    log(): string;
}

/**
 * The processes one suite starts. Each runs in its own process group (detached), its output in a
 * log file; `stopAll` sends SIGTERM to every group, then SIGKILL after `graceMs`, and waits.
 */
export class Processes {
    private readonly started: Started[] = [];
    private readonly dirs: string[] = [];

    constructor(private readonly logDir: string) {
        LIVE.add(this);
    }

    /** SIGKILL to every group still running, synchronously (the last resort of an exiting runner). */
    killNow(): void {
        for (const { child } of this.started) {
            if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) signalGroup(child.pid, "SIGKILL");
        }
    }

    start(name: string, command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Started {
        const logFile = path.join(this.logDir, `${name}-${this.started.length}.log`);
        const fd = openSync(logFile, "a");
        const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: ["ignore", fd, fd] });
        closeSync(fd);
        const entry: Started = { child, logFile, log: () => readFileSync(logFile, "utf8") };
        this.started.push(entry);
        return entry;
    }

    keepDir(dir: string): string {
        this.dirs.push(dir);
        return dir;
    }

    /** SIGTERM to one process group, SIGKILL after `graceMs`; resolves when it has exited. */
    async stop(entry: Started, graceMs = 10_000): Promise<void> {
        const { child } = entry;
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        signalGroup(child.pid, "SIGTERM");
        const timer = setTimeout(() => signalGroup(child.pid!, "SIGKILL"), graceMs);
        await Promise.race([exited, sleep(graceMs + 5_000)]);
        clearTimeout(timer);
        signalGroup(child.pid, "SIGKILL"); // whatever the leader left behind in its group
    }

    async stopAll(graceMs = 10_000): Promise<void> {
        await Promise.all(this.started.map((s) => this.stop(s, graceMs)));
        // The logs go too, unless SPIN_CLOUD_KEEP_LOGS=1 (failures quote them in their messages);
        // then a kept dir that holds the logs (suites log into their own temp dir) stays as well.
        const keepLogs = process.env.SPIN_CLOUD_KEEP_LOGS === "1";
        const holdsLogs = (dir: string) => this.logDir === dir || this.logDir.startsWith(`${dir.replace(/\/+$/, "")}/`);
        const dirs = keepLogs ? this.dirs.filter((d) => !holdsLogs(d)) : [...this.dirs, this.logDir];
        for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
        if (keepLogs) process.stderr.write(`      logs kept in ${this.logDir}\n`);
        LIVE.delete(this);
    }
}

/**
 * Every Processes not yet stopped. If the runner exits without its after() hooks (an uncaught
 * error, a closed stdout, Ctrl-C), the groups it started are killed on the way out. Processes
 * that left their group on purpose (Nomad's executors run in a session of their own) are beyond
 * this; the suites stop their jobs before their agents for that reason.
 */
const LIVE = new Set<Processes>();
process.on("exit", () => {
    for (const processes of LIVE) processes.killNow();
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => process.exit(130));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
    try {
        process.kill(-pid, signal);
    } catch {
        /* already gone */
    }
}

/** `{ status, body }` of one HTTP request to 127.0.0.1, without retry. */
export async function request(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<{ status: number; body: string; headers: Headers }> {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text(), headers: res.headers };
}
