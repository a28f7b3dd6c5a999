/**
 * provisioning/local/scripts/local-agent.sh, run for real on loopback through the life of one stand-in
 * agent (test/harness/local-standin.ts): start → start again → status → stop → stop again. The
 * script's other cases are in local-agent-script.test.ts.
 */
import * as assert from "assert";
import { existsSync, readFileSync } from "fs";
import { Box, Run, sessionOf, url } from "../harness/local-agent-box";
import { freePort, isRunning, startedPids } from "../harness/local-standin";

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
