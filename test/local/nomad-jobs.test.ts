/**
 * local-nomad-jobs.sh, run exactly as the destroy of the local stack runs it (the command string
 * of provisioning/local/commands.ts, from the project root) against a stand-in `nomad` CLI that
 * records its argv: it stops every job, waits until no allocation runs, collects them, and
 * succeeds when the agent is down (after a reboot). The token only ever travels in NOMAD_TOKEN.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { LOCAL_AGENT_TIMEOUTS, nomadStopJobsCommand } from "../../provisioning/local/commands";
import { ROOT } from "../harness/stack-config";
import { writeStubs } from "../harness/validators";

const TOKEN = "5b1c-management-token";

/**
 * $STATE/down: the agent does not answer. $STATE/jobs: the `nomad job status` table. $STATE/active:
 * how many more allocation listings still show a running one. Every call's argv and NOMAD_TOKEN go
 * to $STATE/nomad.calls; a non-GET `operator api` without -X is refused, as stdin makes it a POST.
 */
const NOMAD_STUB = `set -eu
printf '%s | token=%s\\n' "$*" "\${NOMAD_TOKEN:-}" >> "$STATE/nomad.calls"
leaked=$(env | grep -E '^(NOMAD_NAMESPACE|NOMAD_REGION|CONSUL_)' || true)
[ -z "$leaked" ] || printf '%s\\n' "$leaked" >> "$STATE/leaked"
[ ! -f "$STATE/down" ] || { echo "Error querying agent info: dial tcp 127.0.0.1:4646: connect: connection refused" >&2; exit 1; }
[ "\${NOMAD_TOKEN:-}" = "$MANAGEMENT" ] || { echo "Permission denied" >&2; exit 1; }
case "$1 \${2:-}" in
  "agent-info ") echo "nomad" ;;
  "job status") cat "$STATE/jobs" ;;
  "job stop") echo "stopped" ;;
  "operator api")
    [ "$3" = "-X" ] || { echo "Invalid method" >&2; exit 1; }
    case "$5" in
      /v1/allocations*)
        n=$(cat "$STATE/active")
        if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$STATE/active"; echo '[{"ClientStatus":"running"}]'; else printf '[]'; fi ;;
      /v1/client/gc) printf '' ;;
    esac ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac`;

interface Box { dir: string; bin: string; state: string }

function box(jobs: string, active: number): Box {
    const dir = mkdtempSync(path.join(tmpdir(), "local-nomad-jobs-"));
    const b = { dir, bin: path.join(dir, "bin"), state: path.join(dir, "state") };
    mkdirSync(b.state);
    writeStubs(b.bin, { nomad: NOMAD_STUB });
    writeFileSync(path.join(b.state, "jobs"), jobs);
    writeFileSync(path.join(b.state, "active"), String(active));
    return b;
}

function run(b: Box, env: Record<string, string> = {}, timeout?: number) {
    let command = nomadStopJobsCommand(path.join(b.bin, "nomad"));
    if (timeout !== undefined) command = command.replace(`'--timeout' '${LOCAL_AGENT_TIMEOUTS.jobsStopSeconds}'`, `'--timeout' '${timeout}'`);
    const r = spawnSync("/bin/sh", ["-c", command], {
        cwd: ROOT, encoding: "utf8", timeout: 30_000,
        env: { PATH: process.env.PATH, STATE: b.state, MANAGEMENT: TOKEN, NOMAD_ADDR: "http://127.0.0.1:14646", SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN: TOKEN, ...env },
    });
    const file = path.join(b.state, "nomad.calls");
    const calls = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
    return { ...r, calls };
}

const TABLE = "ID                  Type     Priority  Status   Submit Date\nspin-cloud-traefik  service  50        running  2026-01-01T00:00:00Z\nbindle  service  50  running  2026-01-01T00:00:00Z\n";

describe("local-nomad-jobs.sh stop (the destroy's job stop)", () => {
    const boxes: Box[] = [];
    after(() => boxes.forEach((b) => rmSync(b.dir, { recursive: true, force: true })));
    const make = (jobs: string, active: number) => { const b = box(jobs, active); boxes.push(b); return b; };

    it("stops every job in one call without shutdown delay, waits until no allocation runs, then collects them", () => {
        const b = make(TABLE, 2);
        const r = run(b);
        assert.strictEqual(r.status, 0, r.stderr);
        const argv = r.calls.map((c) => c.split(" | ")[0]);
        assert.deepStrictEqual(argv.filter((c) => c.startsWith("job stop")), ["job stop -yes -detach -no-shutdown-delay spin-cloud-traefik bindle"]);
        assert.strictEqual(argv.filter((c) => c.startsWith("operator api -X GET /v1/allocations?filter=")).length, 3, "polled until []");
        assert.strictEqual(argv[argv.length - 1], "operator api -X PUT /v1/client/gc");
        assert.match(r.stdout, /stopped the jobs: spin-cloud-traefik bindle/);
        assert.match(r.stdout, /no allocation is running/);
        assert.ok(r.calls.every((c) => c.endsWith(`token=${TOKEN}`)), "the token is in NOMAD_TOKEN");
        assert.ok(argv.every((c) => !c.includes(TOKEN)), "never in an argument");
    });

    it("with no job it only checks the allocations", () => {
        const r = run(make("No running jobs\n", 0));
        assert.strictEqual(r.status, 0, r.stderr);
        assert.ok(!r.calls.some((c) => c.startsWith("job stop")));
        assert.match(r.stdout, /no allocation is running/);
    });

    it("succeeds and stops nothing when the agent is down (after a reboot)", () => {
        const b = make(TABLE, 0);
        writeFileSync(path.join(b.state, "down"), "");
        const r = run(b);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /does not answer at http:\/\/127\.0\.0\.1:14646 .*no job to stop/);
        assert.deepStrictEqual(r.calls.map((c) => c.split(" | ")[0]), ["agent-info"]);
    });

    it("gives up waiting after --timeout with a warning, and the destroy goes on", () => {
        assert.match(nomadStopJobsCommand("/x/nomad"), new RegExp(`'--timeout' '${LOCAL_AGENT_TIMEOUTS.jobsStopSeconds}'`));
        const r = run(make(TABLE, 1000), {}, 2);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stderr, /allocations still running after 2s/);
    });

    it("lists and stops the jobs with only what the step sets, none of the user's NOMAD_* or CONSUL_*", () => {
        const b = make(TABLE, 1);
        const r = run(b, { NOMAD_NAMESPACE: "prod", NOMAD_REGION: "elsewhere", NOMAD_TOKEN: "users-token", CONSUL_HTTP_TOKEN: "c" });
        assert.strictEqual(r.status, 0, r.stderr);
        assert.ok(!existsSync(path.join(b.state, "leaked")), existsSync(path.join(b.state, "leaked")) ? readFileSync(path.join(b.state, "leaked"), "utf8") : "");
        assert.ok(r.calls.length > 0 && r.calls.every((c) => c.endsWith(`token=${TOKEN}`)), r.calls.join("\n"));
    });

    it("refuses to run without its environment, naming what is missing", () => {
        const r = run(make(TABLE, 0), { SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN: "" });
        assert.notStrictEqual(r.status, 0);
        assert.match(r.stderr, /SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN is not set/);
    });
});
