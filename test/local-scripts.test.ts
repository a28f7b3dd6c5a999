/**
 * The local target's scripts, run for real on loopback: local-agent.sh starts, checks and stops a
 * stand-in agent (test/harness/local-standin.ts) as a detached background process, and
 * local-preflight.sh checks the platform, the required commands and the ports.
 */
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { createServer } from "http";
import { Server } from "net";
import { tmpdir } from "os";
import * as path from "path";
import {
    commandLineOf, eventually, freePort, isRunning, killLeftovers, occupyPort, portOf, readEvents, standInCommand,
    startedPids, trapAgentScript, writeStandIn,
} from "./harness/local-standin";
import { runWithStubs, shellcheckFiles, writeStubs } from "./validators";

const SCRIPTS = path.join(__dirname, "..", "provisioning", "scripts");
const AGENT = path.join(SCRIPTS, "local-agent.sh");
const PREFLIGHT = path.join(SCRIPTS, "local-preflight.sh");
/** /bin/bash: bash 3.2 on macOS, the oldest the scripts must run on. */
const BASH = existsSync("/bin/bash") ? "/bin/bash" : "bash";

interface Run {
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
function runScript(
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

const expectedOs = () => ({ linux: "linux", darwin: "darwin" } as Record<string, string>)[process.platform];
const expectedArch = () => ({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[process.arch];
const url = (port: number, p = "/") => `http://127.0.0.1:${port}${p}`;
const sessionOf = (pid: number) => Number(spawnSync("ps", ["-o", "sid=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim());

/** A temp dir with the stand-in and a state dir, the script's CLI on it, and cleanup. */
class Box {
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

describe("local-agent.sh: the life of one agent", () => {
    // One stand-in, started once, through start → start again → status → stop → stop again.
    let box: Box;
    let first: Run;
    let port: number;
    let pid: number;

    before(async () => {
        box = new Box();
        port = await freePort();
        // 503 for its first 500 ms: a start that took any answer for healthy would return at once.
        first = await box.start("consul", url(port, "/v1/status/leader"), box.command(port, "agent", "-dev", "an arg with spaces"),
            { STANDIN_HEALTHY_AFTER_MS: "500" });
        pid = startedPids(box.record)[0];
    });

    after(() => box.cleanup());

    it("start launches the agent detached, waits for an HTTP 2xx and records its pid and log", () => {
        assert.strictEqual(first.status, 0, first.stderr);
        const starts = box.events().filter((e) => e.event === "start");
        assert.strictEqual(starts.length, 1);
        assert.deepStrictEqual(starts[0].argv, box.command(port, "agent", "-dev", "an arg with spaces").slice(2),
            "the agent got exactly the arguments after --");
        assert.strictEqual(box.readPid("consul"), pid, "the pid file holds the agent's pid");
        assert.match(first.stdout, new RegExp(`^consul started \\(pid ${pid}\\), healthy at ${url(port, "/v1/status/leader")}$`, "m"));
        assert.ok(isRunning(pid), "the agent outlives the start script");

        const served = box.events().filter((e) => e.event === "served");
        assert.ok(served.some((e) => e.status === 503), "it polled while the agent answered 503");
        assert.strictEqual(served[served.length - 1].status, 200, "it stopped polling at the first 200");
        assert.ok(first.ms >= 450, `returned after ${first.ms} ms, before the agent was healthy`);
        assert.ok(served.every((e) => e.path === "/v1/status/leader"));

        assert.match(readFileSync(box.logFile("consul"), "utf8"), new RegExp(`stand-in: listening on 127\\.0\\.0\\.1:${port}`));
        if (process.platform === "linux") {
            assert.strictEqual(sessionOf(pid), pid, "setsid: the agent leads a session of its own");
        }
    });

    it("a second start of the running, healthy agent is a no-op", async () => {
        const again = await box.start("consul", url(port), box.command(port, "agent", "-dev", "an arg with spaces"));
        assert.strictEqual(again.status, 0, again.stderr);
        assert.match(again.stdout, new RegExp(`^consul already running \\(pid ${pid}\\)$`, "m"));
        assert.strictEqual(box.readPid("consul"), pid);
        assert.deepStrictEqual(startedPids(box.record), [pid], "no second agent was launched");
        assert.ok(isRunning(pid));
    });

    it("status exits 0 and prints the pid while the agent runs", async () => {
        const out = await box.status("consul");
        assert.strictEqual(out.status, 0, out.stderr);
        assert.strictEqual(out.stdout, `${pid}\n`);
    });

    it("stop interrupts the agent (SIGINT), waits until it is gone and removes the pid file", async () => {
        const out = await box.stop("consul", ["--grace", "5"]);
        assert.strictEqual(out.status, 0, out.stderr);
        assert.match(out.stdout, new RegExp(`^consul stopped \\(pid ${pid}\\)$`, "m"));
        const events = box.events().map((e) => e.event);
        assert.ok(events.includes("interrupted"), `events: ${events}`);
        assert.ok(!events.includes("terminated"), "SIGINT was enough: no SIGTERM");
        assert.ok(!isRunning(pid), "the agent is gone when stop returns");
        assert.ok(!existsSync(box.pidFile("consul")));
        assert.ok(out.ms < 4000, `stop took ${out.ms} ms: it waited out the grace period`);
    });

    it("a second stop is a no-op, and status then exits 3", async () => {
        const again = await box.stop("consul");
        assert.strictEqual(again.status, 0, again.stderr);
        assert.strictEqual(again.stdout, "consul not running\n");
        const status = await box.status("consul");
        assert.strictEqual(status.status, 3);
        assert.strictEqual(status.stdout, "consul not running\n");
    });
});

describe("local-agent.sh", () => {
    let box: Box;

    beforeEach(() => {
        box = new Box();
    });

    afterEach(() => box.cleanup());

    it("SIGINT reaches an agent that has no handler of its own (the launch does not leave it ignored)", async () => {
        // A bash loop whose INT trap bash only sets if SIGINT was not ignored when it started.
        const trapRecord = path.join(box.tmp, "trap-agent.log");
        const healthPort = await box.healthServer();
        const started = await box.start("trapper", url(healthPort), ["bash", "-c", trapAgentScript, path.join(box.tmp, "trap-agent")],
            { TRAP_RECORD: trapRecord });
        assert.strictEqual(started.status, 0, started.stderr);
        const pid = box.readPid("trapper");
        assert.ok(await eventually(() => readFileSync(box.logFile("trapper"), "utf8").includes("trap agent: up"), 3000));

        const out = await box.stop("trapper", ["--grace", "3"]);
        assert.strictEqual(out.status, 0, out.stderr);
        assert.strictEqual(readFileSync(trapRecord, "utf8"), "interrupted\n");
        assert.doesNotMatch(out.stderr, /still running/);
        assert.ok(!isRunning(pid));
    });

    it("a start whose agent exits at once fails with its exit status and log tail, leaving nothing behind", async () => {
        const port = await freePort();
        const out = await box.start("nomad", url(port), box.command(port), { STANDIN_EXIT_STATUS: "3" });
        assert.strictEqual(out.status, 1);
        assert.match(out.stderr, /^error: nomad exited with status 3 before becoming healthy$/m);
        assert.match(out.stderr, /stand-in: failing on purpose with status 3/, "the log tail is printed");
        assert.ok(!existsSync(box.pidFile("nomad")), "no pid file");
        const pids = startedPids(box.record);
        assert.strictEqual(pids.length, 1);
        assert.ok(!isRunning(pids[0]));
        assert.strictEqual((await box.status("nomad")).status, 3);
    });

    it("a start that never becomes healthy times out, stops the agent and removes the pid file", async () => {
        const healthPort = await freePort();
        const listenPort = await freePort();
        const healthUrl = url(healthPort, "/ping");
        const out = await box.start("traefik", healthUrl, box.command(listenPort), {}, ["--timeout", "1"]);
        assert.strictEqual(out.status, 1);
        assert.match(out.stderr, new RegExp(`^error: traefik did not become healthy at ${healthUrl.replace(/\./g, "\\.")} within 1s$`, "m"));
        assert.match(out.stderr, new RegExp(`stand-in: listening on 127\\.0\\.0\\.1:${listenPort}`), "the log tail is printed");
        assert.ok(out.ms >= 1000 && out.ms < 8000, `took ${out.ms} ms for a 1 s timeout`);
        const [pid] = startedPids(box.record);
        assert.ok(!isRunning(pid), "the agent was stopped");
        assert.ok(box.events().some((e) => e.event === "terminated"), "with SIGTERM");
        assert.ok(!existsSync(box.pidFile("traefik")));
    });

    it("a start interrupted while it waits (SIGTERM, as on a cancelled `pulumi up`) stops the agent it launched", async () => {
        const healthPort = await freePort();
        const listenPort = await freePort();
        let script: ChildProcess | undefined;
        const running = box.start("nomad", url(healthPort), box.command(listenPort), {}, ["--timeout", "30"], (c) => (script = c));
        assert.ok(await eventually(() => startedPids(box.record).length === 1 && existsSync(box.pidFile("nomad")), 5000), "the agent started");
        script!.kill("SIGTERM");
        const out = await running;
        assert.strictEqual(out.status, 130, out.stderr);
        assert.match(out.stderr, /^error: interrupted while starting nomad; stopped it$/m);
        assert.ok(!isRunning(startedPids(box.record)[0]), "the agent was stopped");
        assert.ok(!existsSync(box.pidFile("nomad")));
    });

    it("passes --cacert on to curl", async () => {
        const bin = path.join(box.tmp, "bin");
        const curlLog = path.join(box.tmp, "curl.log");
        const realCurl = spawnSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).stdout.trim();
        writeStubs(bin, { curl: `printf '%s\n' "$*" >>"$CURL_LOG"; exec ${realCurl} "$@"` });
        const cacert = path.join(box.tmp, "ca.pem");
        writeFileSync(cacert, "not used over http\n");
        const healthPort = await box.healthServer();
        const idle = ["bash", "-c", "while :; do sleep 0.1; done", path.join(box.tmp, "idle-agent")];
        const env = { PATH: `${bin}:${process.env.PATH}`, CURL_LOG: curlLog };
        const out = await box.start("nomad", url(healthPort, "/v1/agent/health"), idle, env, ["--cacert", cacert]);
        assert.strictEqual(out.status, 0, out.stderr);
        const calls = readFileSync(curlLog, "utf8").trim().split("\n");
        assert.ok(calls.length >= 1 && calls.every((c) => c.includes(`--cacert ${cacert}`) && c.endsWith(url(healthPort, "/v1/agent/health"))), calls.join("\n"));
        assert.strictEqual((await box.stop("nomad", ["--grace", "2"])).status, 0);
    });

    it("a stale pid file (its process is gone) is replaced by the new agent's", async () => {
        const dead = spawnSync("true");
        assert.ok(dead.pid && !isRunning(dead.pid));
        const port = await freePort();
        const command = box.command(port);
        mkdirSync(path.join(box.state, "run"), { recursive: true });
        writeFileSync(box.pidFile("consul"), `${dead.pid}\n`);
        writeFileSync(path.join(box.state, "run", "consul.cmdline"), `${command.join(" ")}\n`);

        const out = await box.start("consul", url(port), command);
        assert.strictEqual(out.status, 0, out.stderr);
        assert.match(out.stdout, /removing stale pid file/);
        const [pid] = startedPids(box.record);
        assert.strictEqual(box.readPid("consul"), pid);
        assert.notStrictEqual(pid, dead.pid);
        assert.ok(isRunning(pid));
    });

    it("a pid file whose pid now belongs to another process: stop leaves it alone, start launches its own agent", async () => {
        const other = spawn("sleep", ["30"], { stdio: "ignore" });
        box.children.push(other);
        const port = await freePort();
        const command = box.command(port);
        const pretend = () => {
            mkdirSync(path.join(box.state, "run"), { recursive: true });
            writeFileSync(box.pidFile("consul"), `${other.pid}\n`);
            writeFileSync(path.join(box.state, "run", "consul.cmdline"), `${command.join(" ")}\n`);
            writeFileSync(path.join(box.state, "run", "consul.command"), `${command.join(" ")}\n`);
        };
        assert.ok(await eventually(() => commandLineOf(other.pid!) === "sleep 30", 2000));

        pretend();
        const stopped = await box.stop("consul", ["--grace", "1"]);
        assert.strictEqual(stopped.status, 0, stopped.stderr);
        assert.match(stopped.stdout, /consul not running/);
        assert.ok(isRunning(other.pid!), "the other process was not signalled");
        assert.ok(!existsSync(box.pidFile("consul")));

        pretend();
        assert.strictEqual((await box.status("consul")).status, 3);
        const started = await box.start("consul", url(port), command);
        assert.strictEqual(started.status, 0, started.stderr);
        assert.doesNotMatch(started.stdout, /already running/);
        const [pid] = startedPids(box.record);
        assert.strictEqual(box.readPid("consul"), pid);
        assert.ok(isRunning(other.pid!));
    });

    it("stop escalates to SIGTERM, then SIGKILL, when the agent ignores both", async () => {
        const { pid } = await box.startHealthy("nomad", [], { STANDIN_IGNORE_SIGNALS: "1" });
        const out = await box.stop("nomad", ["--grace", "1"]);
        assert.strictEqual(out.status, 0, out.stderr);
        const ignored = box.events().filter((e) => e.event === "ignored").map((e) => e.signal);
        assert.deepStrictEqual(ignored, ["SIGINT", "SIGTERM"], "SIGINT first, then SIGTERM");
        assert.match(out.stderr, new RegExp(`^nomad \\(pid ${pid}\\) still running 1s after SIGINT$`, "m"));
        assert.match(out.stderr, new RegExp(`^nomad \\(pid ${pid}\\) still running 1s after SIGTERM$`, "m"));
        assert.ok(out.ms >= 1800, `SIGTERM and SIGKILL came ${out.ms} ms after SIGINT, before the grace periods`);
        assert.ok(!isRunning(pid), "SIGKILL ended it");
        assert.ok(!existsSync(box.pidFile("nomad")));
    });

    it("start with another command line restarts the agent with the new one", async () => {
        const { pid: first, port } = await box.startHealthy("consul", ["-config=v1"]);
        const out = await box.start("consul", url(port), box.command(port, "-config=v2"));
        assert.strictEqual(out.status, 0, out.stderr);
        assert.match(out.stdout, new RegExp(`^consul is running \\(pid ${first}\\) with another command line; restarting it$`, "m"));
        assert.ok(!isRunning(first));
        const starts = box.events().filter((e) => e.event === "start");
        assert.strictEqual(starts.length, 2);
        assert.ok(box.events().some((e) => e.event === "interrupted"), "the old one was stopped with SIGINT");
        assert.strictEqual(box.readPid("consul"), starts[1].pid);
        assert.deepStrictEqual(starts[1].argv!.slice(-1), ["-config=v2"]);
    });

    it("without setsid (macOS) it starts the agent in its own process group through nohup; SIGINT still stops it", async () => {
        // A PATH with only the tools the script uses, setsid left out.
        const bin = path.join(box.tmp, "bin");
        mkdirSync(bin);
        for (const tool of ["cat", "curl", "date", "mkdir", "mv", "nohup", "ps", "rm", "sleep", "tail", "touch", "wc"]) {
            const where = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
            assert.ok(where.startsWith("/"), `${tool} not found`);
            symlinkSync(where, path.join(bin, tool));
        }
        const env = { PATH: bin };
        const port = await freePort();
        const out = await box.start("consul", url(port), box.command(port), env);
        assert.strictEqual(out.status, 0, out.stderr);
        const pid = box.readPid("consul");
        assert.deepStrictEqual(startedPids(box.record), [pid]);
        const pgid = Number(spawnSync("ps", ["-o", "pgid=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim());
        assert.strictEqual(pgid, pid, "the agent leads a process group of its own");
        if (process.platform === "linux") {
            assert.notStrictEqual(sessionOf(pid), pid, "setsid was not used");
        }
        const stopped = await box.stop("consul", ["--grace", "3"], env);
        assert.strictEqual(stopped.status, 0, stopped.stderr);
        assert.ok(box.events().some((e) => e.event === "interrupted"));
        assert.ok(!isRunning(pid));
    });

    it("argument errors name the flag and start nothing", async () => {
        const { state, tmp } = box;
        const cmd = [process.execPath, box.standIn];
        const cases: [string[], RegExp][] = [
            [["start", "--state-dir", state, "--health-url", url(1), "--", ...cmd], /^error: --name is required$/m],
            [["start", "--name", "x", "--health-url", url(1), "--", ...cmd], /^error: --state-dir is required$/m],
            [["start", "--name", "x", "--state-dir", state, "--", ...cmd], /^error: --health-url is required$/m],
            [["start", "--name", "x", "--state-dir", state, "--health-url", "127.0.0.1:1", "--", ...cmd], /^error: --health-url must be an http/m],
            [["start", "--name", "x", "--state-dir", state, "--health-url", url(1)], /^error: start needs the agent's command after --$/m],
            [["start", "--name", "x", "--state-dir", state, "--health-url", url(1), "--timeout", "soon", "--", ...cmd], /^error: --timeout must be a whole number/m],
            [["start", "--name", "x", "--state-dir", state, "--health-url", url(1), "--cacert", path.join(tmp, "nope.pem"), "--", ...cmd], /^error: --cacert .*nope\.pem: no such readable file$/m],
            [["start", "--name", "../x", "--state-dir", state, "--health-url", url(1), "--", ...cmd], /^error: --name '\.\.\/x' must/m],
            [["start", "--name", "--state-dir", state], /^error: --name needs a value$/m],
            [["stop", "--name", "x", "--state-dir", state, "--health-url", url(1)], /^error: --health-url is not an option of stop$/m],
            [["stop", "--name", "x", "--state-dir", state, "--grace", "-1"], /^error: --grace must be a whole number of seconds, got '-1'$/m],
            [["status", "--name", "x", "--state-dir", state, "--", "x"], /^error: -- COMMAND is not an option of status$/m],
            [["restart", "--name", "x"], /^error: unknown command 'restart'/m],
        ];
        const runs = await Promise.all(cases.map(([args]) => box.agent(args)));
        runs.forEach((out, i) => {
            const [args, message] = cases[i];
            assert.strictEqual(out.status, 2, `${args.join(" ")}: ${out.stderr}`);
            assert.match(out.stderr, message, args.join(" "));
        });
        const badPoll = await box.agent(["start", "--name", "x", "--state-dir", state, "--health-url", url(1), "--", ...cmd], { LOCAL_AGENT_POLL_SECONDS: "0" });
        assert.strictEqual(badPoll.status, 2);
        assert.match(badPoll.stderr, /^error: LOCAL_AGENT_POLL_SECONDS must be/m);
        assert.ok(!existsSync(state), "nothing was created");

        const missing = await box.agent(["start", "--name", "x", "--state-dir", state, "--health-url", url(1), "--", path.join(tmp, "no-such-agent")]);
        assert.strictEqual(missing.status, 1);
        assert.match(missing.stderr, /^error: x: command not found: .*no-such-agent$/m);
        assert.ok(!existsSync(box.pidFile("x")));
    });

    it("passes shellcheck with no finding, like local-preflight.sh", () => {
        for (const [file, result] of shellcheckFiles([AGENT, PREFLIGHT])) {
            assert.ok(result.ok, `${file}:\n${result.output}`);
        }
    });
});

describe("local-preflight.sh", () => {
    let servers: Server[] = [];
    let stubRoot: string | undefined;

    const preflight = (args: readonly string[]) => runScript(PREFLIGHT, args);
    const errors = (out: { readonly stderr: string }) => out.stderr.split("\n").filter((l) => l.startsWith("error: "));
    /** Runs preflight with `uname` answering `os` and `arch`. */
    function withUname(os: string, arch: string, args: readonly string[]) {
        stubRoot = mkdtempSync(path.join(tmpdir(), "spin-cloud-preflight-"));
        writeStubs(stubRoot, { uname: `case "$1" in -s) echo "$STUB_OS" ;; -m) echo "$STUB_ARCH" ;; *) exit 1 ;; esac` });
        return runWithStubs(PREFLIGHT, args, stubRoot, { STUB_OS: os, STUB_ARCH: arch });
    }

    afterEach(async () => {
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
        servers = [];
        if (stubRoot) rmSync(stubRoot, { recursive: true, force: true });
        stubRoot = undefined;
    });

    it("reports a port in use on 127.0.0.1 with what needs it, and only that port", async () => {
        const busy = await occupyPort();
        servers.push(busy);
        const free = await freePort();
        const out = await preflight(["--ports", `nomad-http=${portOf(busy)} consul-http=${free}`]);
        assert.strictEqual(out.status, 1);
        assert.deepStrictEqual(errors(out), [`error: port ${portOf(busy)} on 127.0.0.1 is in use (needed by nomad-http)`]);
        assert.strictEqual(out.stdout, "");
    });

    it("reports a missing required command", async () => {
        const out = await preflight(["--ports", "", "--require", "sh spin-cloud-no-such-tool"]);
        assert.strictEqual(out.status, 1);
        assert.deepStrictEqual(errors(out), ["error: missing command: spin-cloud-no-such-tool (install it with your package manager)"]);
    });

    it("reports every problem at once: platform, commands and ports", async () => {
        const busy = [await occupyPort(), await occupyPort()];
        servers.push(...busy);
        const out = withUname("FreeBSD", "riscv64", [
            "--ports", `consul-http=${portOf(busy[0])} ${portOf(busy[1])}`, "--require", "no-such-tool-a sh no-such-tool-b",
        ]);
        assert.strictEqual(out.status, 1);
        assert.deepStrictEqual(errors(out), [
            "error: unsupported OS/arch: FreeBSD/riscv64; supported: linux/darwin on amd64/arm64",
            "error: missing command: no-such-tool-a (install it with your package manager)",
            "error: missing command: no-such-tool-b (install it with your package manager)",
            `error: port ${portOf(busy[0])} on 127.0.0.1 is in use (needed by consul-http)`,
            `error: port ${portOf(busy[1])} on 127.0.0.1 is in use`,
        ]);
        assert.doesNotMatch(out.stdout, /ok:/);
    });

    it("succeeds on this machine with free ports and present commands, naming the platform", async () => {
        const ports = [await freePort(), await freePort()];
        const out = await preflight(["--ports", `nomad-http=${ports[0]} ${ports[1]}`, "--require", "sh curl"]);
        assert.strictEqual(out.status, 0, out.stderr);
        assert.strictEqual(out.stdout, `ok: ${expectedOs()}/${expectedArch()}\n`);
        assert.strictEqual(out.stderr, "");
    });

    it("--print-platform prints this machine's <os>_<arch> only", async () => {
        const out = await preflight(["--print-platform"]);
        assert.strictEqual(out.status, 0, out.stderr);
        assert.strictEqual(out.stdout, `${expectedOs()}_${expectedArch()}\n`);
    });

    it("normalises uname's names and rejects other platforms", () => {
        const cases: [string, string, string][] = [
            ["Linux", "x86_64", "linux_amd64"], ["Linux", "aarch64", "linux_arm64"],
            ["Darwin", "arm64", "darwin_arm64"], ["Darwin", "x86_64", "darwin_amd64"],
        ];
        for (const [os, arch, platform] of cases) {
            const out = withUname(os, arch, ["--print-platform"]);
            assert.strictEqual(out.status, 0, out.stderr);
            assert.strictEqual(out.stdout, `${platform}\n`);
            rmSync(stubRoot!, { recursive: true, force: true });
        }
        const other = withUname("Linux", "armv7l", ["--print-platform"]);
        assert.strictEqual(other.status, 1);
        assert.strictEqual(other.stdout, "");
        assert.match(other.stderr, /^error: unsupported OS\/arch: Linux\/armv7l; supported: linux\/darwin on amd64\/arm64$/m);
    });

    it("rejects malformed options, naming the flag", async () => {
        for (const [args, message] of [
            [["--ports", "nomad=http"], /^error: --ports entry 'nomad=http' is not PORT or NAME=PORT/m],
            [["--ports", "70000"], /^error: --ports entry '70000'/m],
            [["--require", "curl"], /^error: --ports is required$/m],
            [["--print-platform", "--ports", "1"], /^error: --print-platform takes no other option$/m],
            [["--ports"], /^error: --ports needs a value$/m],
        ] as [string[], RegExp][]) {
            const out = await preflight(args);
            assert.strictEqual(out.status, 2, args.join(" "));
            assert.match(out.stderr, message);
        }
    });
});
