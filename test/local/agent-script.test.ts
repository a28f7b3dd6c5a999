/**
 * provisioning/local/scripts/local-agent.sh, run for real on loopback: it starts, checks and stops a
 * stand-in agent (test/harness/local-standin.ts) as a detached background process, in a fresh
 * Box (test/harness/local-agent-box.ts) per test. The happy path of one agent's life is in
 * local-agent-lifecycle.test.ts.
 */
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "fs";
import * as path from "path";
import { AGENT, Box, PREFLIGHT, sessionOf, url } from "../harness/local-agent-box";
import { commandLineOf, eventually, freePort, isRunning, startedPids, trapAgentScript } from "../harness/local-standin";
import { shellcheckFiles, writeStubs } from "../harness/validators";

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
