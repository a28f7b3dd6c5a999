/**
 * A stand-in for the agents of the local target (Consul, Nomad, Traefik), to run
 * provisioning/local/scripts/local-agent.sh against on loopback. The stand-in is a small Node program
 * written to a temp dir and run as `node standin.js --port PORT --record FILE [more args]`:
 *
 * - it appends JSON lines to the record file: `{"event":"start","pid":…,"argv":[…]}` first, then
 *   `served` (with the HTTP status of each answer), `interrupted` (SIGINT: it exits 0),
 *   `terminated` (SIGTERM: it exits 143), `ignored` (with the signal, in ignore mode);
 * - it listens on 127.0.0.1:PORT and answers 200 on any path;
 * - env STANDIN_HEALTHY_AFTER_MS: answers 503 until that many ms after it started;
 * - env STANDIN_EXIT_STATUS: prints a line to stderr and exits with that status at once;
 * - env STANDIN_IGNORE_SIGNALS=1: ignores SIGINT and SIGTERM (only SIGKILL ends it).
 *
 * Node resets every signal disposition at start-up, so the stand-in cannot tell whether its
 * launcher left SIGINT ignored; `trapAgentScript` is a bash agent that can (bash keeps a signal
 * that was ignored when it started ignored, and its trap then never fires).
 */
import { spawnSync } from "child_process";
import { existsSync, readFileSync, writeFileSync } from "fs";
import * as net from "net";
import * as path from "path";

const STANDIN_SOURCE = String.raw`"use strict";
const fs = require("fs");
const http = require("http");
const args = process.argv.slice(2);
const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const recordFile = option("--record");
const port = Number(option("--port"));
const record = (event) => fs.appendFileSync(recordFile, JSON.stringify(event) + "\n");
const started = Date.now();
record({ event: "start", pid: process.pid, argv: process.argv.slice(2) });

if (process.env.STANDIN_EXIT_STATUS) {
    const status = Number(process.env.STANDIN_EXIT_STATUS);
    console.error("stand-in: failing on purpose with status " + status);
    process.exit(status);
}

if (process.env.STANDIN_IGNORE_SIGNALS === "1") {
    for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => record({ event: "ignored", signal }));
} else {
    process.on("SIGINT", () => { record({ event: "interrupted" }); process.exit(0); });
    process.on("SIGTERM", () => { record({ event: "terminated" }); process.exit(143); });
}

const healthyAfter = Number(process.env.STANDIN_HEALTHY_AFTER_MS || 0);
const server = http.createServer((req, res) => {
    const status = Date.now() - started >= healthyAfter ? 200 : 503;
    record({ event: "served", status, path: req.url });
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(status === 200 ? "ok\n" : "not yet\n");
});
server.listen(port, "127.0.0.1", () => console.log("stand-in: listening on 127.0.0.1:" + port));
`;

/** Writes the stand-in program to `dir`; returns its path (run it with `process.execPath`). */
export function writeStandIn(dir: string): string {
    const file = path.join(dir, "standin.js");
    writeFileSync(file, STANDIN_SOURCE);
    return file;
}

/** The agent command (what follows `--`) that runs the stand-in on `port`, recording to `record`. */
export function standInCommand(script: string, port: number, record: string, ...extra: string[]): string[] {
    return [process.execPath, script, "--port", String(port), "--record", record, ...extra];
}

export interface StandInEvent {
    readonly event: "start" | "served" | "interrupted" | "terminated" | "ignored" | string;
    readonly pid?: number;
    readonly argv?: string[];
    readonly status?: number;
    readonly signal?: string;
    /** The request path of a `served` event. */
    readonly path?: string;
}

/** The events the stand-in recorded, oldest first; none when it never started. */
export function readEvents(record: string): StandInEvent[] {
    if (!existsSync(record)) return [];
    return readFileSync(record, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as StandInEvent);
}

/** The pids of every stand-in process that recorded to `record`. */
export function startedPids(record: string): number[] {
    return readEvents(record).filter((e) => e.event === "start").map((e) => e.pid!);
}

/**
 * A bash agent for `bash -c`: traps SIGINT (appends "interrupted" to $TRAP_RECORD and exits 0)
 * and SIGTERM ("terminated", exits 143), and otherwise idles. If its launcher left SIGINT ignored,
 * the INT trap is never set and only SIGTERM stops it.
 */
export const trapAgentScript =
    `trap 'echo interrupted >>"$TRAP_RECORD"; exit 0' INT; trap 'echo terminated >>"$TRAP_RECORD"; exit 143' TERM; ` +
    `echo "trap agent: up"; while :; do sleep 0.1; done`;

/** A loopback TCP port nobody listens on (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** A server on a loopback port that accepts connections (and answers nothing): a port in use. */
export function occupyPort(): Promise<net.Server> {
    return new Promise((resolve, reject) => {
        const server = net.createServer((socket) => socket.destroy());
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve(server));
    });
}

export const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;

/** `ps` line of a process, or undefined when there is none (a zombie counts as none). */
function psLine(pid: number, format: string): string | undefined {
    const out = spawnSync("ps", ["-ww", "-o", `${format}=`, "-p", String(pid)], { encoding: "utf8" });
    return out.status === 0 && out.stdout.trim() !== "" ? out.stdout.trim() : undefined;
}

/** True when the process runs (exists and is no zombie). */
export function isRunning(pid: number): boolean {
    const stat = psLine(pid, "stat");
    return stat !== undefined && !stat.startsWith("Z");
}

/** The process's command line as `ps` shows it. */
export const commandLineOf = (pid: number) => psLine(pid, "args");

/**
 * SIGKILLs each process that still runs and whose command line mentions `marker` (the test's temp
 * dir), so a pid reused by an unrelated process is never hit.
 */
export function killLeftovers(pids: Iterable<number>, marker: string): number[] {
    const killed: number[] = [];
    for (const pid of new Set(pids)) {
        if (!isRunning(pid) || !(commandLineOf(pid) ?? "").includes(marker)) continue;
        try {
            process.kill(pid, "SIGKILL");
            killed.push(pid);
        } catch {
            // gone meanwhile
        }
    }
    return killed;
}

/** Waits until `check` holds, polling every 20 ms, up to `ms`; returns whether it held. */
export async function eventually(check: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
        if (check()) return true;
        await new Promise((r) => setTimeout(r, 20));
    }
    return check();
}
