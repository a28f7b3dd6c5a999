/**
 * local-acl.sh, run exactly as the local stack runs it (the command strings of
 * provisioning/local/commands.ts, from the project root) against stateful stand-ins for the
 * `consul` and `nomad` CLIs: policies and tokens are created once with the pre-set secrets, a
 * second run changes nothing, a server without a leader is waited for, and every misuse fails
 * with a message naming what is wrong. Also: every script in provisioning/aws/scripts and provisioning/local/scripts passes
 * shellcheck.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { LOCAL_CONSUL_POLICIES } from "../../components/local/local-agents";
import { CONSUL_ACL_POLICIES, renderConsulPolicyRules } from "../../provisioning/agents/consul-acl-policies";
import { consulAclCommand, consulTokenEnv, nomadAclCommand } from "../../provisioning/local/commands";
import { ROOT } from "../harness/stack-config";
import { SCRIPTS } from "../harness/script-sandbox";
import { shellcheckFiles, writeStubs } from "../harness/validators";

/** Fails the first $STATE/fail-<cli> calls (a server without a leader), then behaves. */
const FAIL_FIRST = `
fail_file="$STATE/fail-$(basename "$0")"
if [ -f "$fail_file" ] && [ "$(cat "$fail_file")" -gt 0 ]; then
  echo $(( $(cat "$fail_file") - 1 )) > "$fail_file"
  echo "Unexpected response code: 500 (No cluster leader)" >&2
  exit 1
fi`;

/** Every stub records its argv (calls) and the NOMAD_* / CONSUL_* variables it was given (env). */
const RECORD = (cli: string) => `printf '%s\\n' "$*" >> "$STATE/${cli}.calls"
env | grep -E '^(NOMAD|CONSUL)_' | sed 's/=.*//' >> "$STATE/${cli}.env" || true`;

const CONSUL_STUB = `set -eu
${RECORD("consul")}
${FAIL_FIRST}
name="" rules="" prev=""
for arg in "$@"; do
  case "$prev:$arg" in
    -name:*) name=$arg ;;
    -rules:@*) rules=\${arg#@} ;;
  esac
  prev=$arg
done
case "$1 $2 $3" in
  "acl policy read") [ -f "$STATE/policy-$name" ] ;;
  "acl policy create")
    [ "$CONSUL_HTTP_TOKEN" = "$MANAGEMENT" ] || { echo "Permission denied" >&2; exit 1; }
    cp "$rules" "$STATE/policy-$name" ;;
  "acl token read") [ -f "$STATE/token-$CONSUL_HTTP_TOKEN" ] ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac`;

const NOMAD_STUB = `set -eu
${RECORD("nomad")}
case "$1 $2" in
  "acl bootstrap")
    [ "$3" = "-" ] || { echo "expected the secret on stdin" >&2; exit 2; }
    token=$(cat)
    ${FAIL_FIRST.trim().split("\n").join("\n    ")}
    if [ -f "$STATE/bootstrap" ]; then
      echo "Error bootstrapping: Unexpected response code: 400 (ACL bootstrap already done (reset index: 7))" >&2
      exit 1
    fi
    echo "$token" > "$STATE/bootstrap" ;;
  "acl token") [ "$3" = self ] && [ "$NOMAD_TOKEN" = "$(cat "$STATE/bootstrap")" ] ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac`;

/** Consul's PUT /v1/acl/token: the management token from the -H @file, the body on stdin. */
const CURL_STUB = `set -eu
${RECORD("curl")}
headers="" prev="" url=""
for arg in "$@"; do
  case "$prev" in -H) headers=\${arg#@} ;; esac
  case "$arg" in http*) url=$arg ;; esac
  prev=$arg
done
grep -qx "X-Consul-Token: $MANAGEMENT" "$headers" || { echo "curl: (22) 403 Permission denied" >&2; exit 22; }
[ "$url" = "$CONSUL_HTTP_ADDR/v1/acl/token" ] || { echo "unexpected url $url" >&2; exit 2; }
body=$(cat)
secret=$(printf '%s' "$body" | sed -n 's/.*"SecretID":"\\([^"]*\\)".*/\\1/p')
policy=$(printf '%s' "$body" | sed -n 's/.*"Policies":\\[{"Name":"\\([^"]*\\)"}\\].*/\\1/p')
echo "$policy" > "$STATE/token-$secret"`;

const MANAGEMENT = "0d7c2a9e-management";
const TOKENS = Object.fromEntries(LOCAL_CONSUL_POLICIES.map((p) => [p, `secret-of-${p}`]));

interface Box { dir: string; bin: string; state: string; policyDir: string }

function sandbox(): Box {
    const dir = mkdtempSync(path.join(tmpdir(), "local-acl-"));
    const box = { dir, bin: path.join(dir, "bin"), state: path.join(dir, "state"), policyDir: path.join(dir, "policies") };
    mkdirSync(box.state);
    mkdirSync(box.policyDir);
    writeStubs(box.bin, { consul: CONSUL_STUB, nomad: NOMAD_STUB, curl: CURL_STUB });
    for (const name of LOCAL_CONSUL_POLICIES) {
        writeFileSync(path.join(box.policyDir, `${name}.json`), renderConsulPolicyRules(CONSUL_ACL_POLICIES.find((p) => p.name === name)!));
    }
    return box;
}

/** A fresh sandbox per test (`box`), removed after it. */
class Sandboxes {
    private current?: Box;
    constructor() {
        beforeEach(() => { this.current = sandbox(); });
        afterEach(() => rmSync(this.current!.dir, { recursive: true, force: true }));
    }
    get box(): Box { return this.current!; }
}

/** Runs a command string of local-commands.ts with /bin/sh from the project root, as local.Command does. */
function runCommand(box: Box, commandText: string, env: Record<string, string>, timeout = 20000) {
    return spawnSync("sh", ["-c", commandText], {
        cwd: ROOT, encoding: "utf8", timeout,
        env: { PATH: `${box.bin}:${process.env.PATH ?? ""}`, STATE: box.state, MANAGEMENT, ...HOSTILE_ENV, ...env },
    });
}

/** What a user's shell may hold: none of it may reach the CLIs (only what the step sets does). */
const HOSTILE_ENV: Record<string, string> = {
    NOMAD_ADDR: "https://nomad.example.com:4646", NOMAD_TOKEN: "users-nomad-token", NOMAD_REGION: "elsewhere",
    NOMAD_NAMESPACE: "prod", NOMAD_CACERT: "/nonexistent/ca.pem", NOMAD_HTTP_AUTH: "user:pass",
    CONSUL_HTTP_ADDR: "https://consul.example.com", CONSUL_HTTP_TOKEN: "users-consul-token",
    CONSUL_HTTP_TOKEN_FILE: "/nonexistent/token", CONSUL_HTTP_SSL: "true", CONSUL_CACERT: "/nonexistent/ca.pem",
    CONSUL_NAMESPACE: "team",
};

const consulEnv = (): Record<string, string> => ({
    CONSUL_HTTP_ADDR: "http://127.0.0.1:18500",
    CONSUL_HTTP_TOKEN: MANAGEMENT,
    ...Object.fromEntries(LOCAL_CONSUL_POLICIES.map((p) => [consulTokenEnv(p), TOKENS[p]])),
});
const consulRun = (box: Box, env = consulEnv()) =>
    runCommand(box, consulAclCommand(path.join(box.bin, "consul"), box.policyDir, LOCAL_CONSUL_POLICIES), env);
const nomadRun = (box: Box, token = "nomad-management-secret") =>
    runCommand(box, nomadAclCommand(path.join(box.bin, "nomad")), { NOMAD_ADDR: "http://127.0.0.1:14646", SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN: token });
const calls = (box: Box, cli: string) => {
    const file = path.join(box.state, `${cli}.calls`);
    return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
};
const creates = (box: Box) => [...calls(box, "consul").filter((c) => c.includes(" create ")), ...calls(box, "curl")];
const envSeen = (box: Box, cli: string) => {
    const file = path.join(box.state, `${cli}.env`);
    return new Set(existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : []);
};

describe("local-acl.sh consul (against a stand-in consul)", () => {
    const sandboxes = new Sandboxes();

    it("creates each policy from its rules file and its token with the pre-set secret", () => {
        const run = consulRun(sandboxes.box);
        assert.strictEqual(run.status, 0, run.stderr);
        for (const name of LOCAL_CONSUL_POLICIES) {
            assert.strictEqual(readFileSync(path.join(sandboxes.box.state, `policy-${name}`), "utf8"),
                readFileSync(path.join(sandboxes.box.policyDir, `${name}.json`), "utf8"));
            assert.strictEqual(readFileSync(path.join(sandboxes.box.state, `token-${TOKENS[name]}`), "utf8").trim(), name);
            assert.match(run.stdout, new RegExp(`Consul policy and token ${name} are in place`));
        }
        assert.strictEqual(creates(sandboxes.box).length, 2 * LOCAL_CONSUL_POLICIES.length);
    });

    it("never puts a token on a command line: no argv of consul or curl holds a secret", () => {
        const run = consulRun(sandboxes.box);
        assert.strictEqual(run.status, 0, run.stderr);
        const argv = [...calls(sandboxes.box, "consul"), ...calls(sandboxes.box, "curl")];
        assert.ok(calls(sandboxes.box, "curl").length === LOCAL_CONSUL_POLICIES.length, argv.join("\n"));
        for (const secret of [MANAGEMENT, ...Object.values(TOKENS)]) {
            assert.ok(argv.every((a) => !a.includes(secret)), `${secret} in argv:\n${argv.join("\n")}`);
        }
    });

    it("hands the CLIs only the variables the step sets, none of the user's shell", () => {
        assert.strictEqual(consulRun(sandboxes.box).status, 0);
        for (const cli of ["consul", "curl"]) {
            assert.deepStrictEqual([...envSeen(sandboxes.box, cli)].sort(), ["CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN"], cli);
        }
    });

    it("changes nothing when run again", () => {
        assert.strictEqual(consulRun(sandboxes.box).status, 0);
        const before = creates(sandboxes.box).length;
        const again = consulRun(sandboxes.box);
        assert.strictEqual(again.status, 0, again.stderr);
        assert.strictEqual(creates(sandboxes.box).length, before, "no create on the second run");
    });

    it("waits for a server that has no leader yet", () => {
        writeFileSync(path.join(sandboxes.box.state, "fail-consul"), "3");
        const run = consulRun(sandboxes.box);
        assert.strictEqual(run.status, 0, run.stderr);
        assert.strictEqual(readFileSync(path.join(sandboxes.box.state, "fail-consul"), "utf8").trim(), "0");
        assert.ok(existsSync(path.join(sandboxes.box.state, `token-${TOKENS.traefik}`)));
    });

    it("names a missing token variable, a missing rules file and a missing management token, creating nothing", () => {
        const env = consulEnv();
        delete env[consulTokenEnv("traefik")];
        let run = consulRun(sandboxes.box, env);
        assert.strictEqual(run.status, 1);
        assert.match(run.stderr, new RegExp(`--policy traefik: ${consulTokenEnv("traefik")} is not set`));

        rmSync(path.join(sandboxes.box.policyDir, "consul-agent.json"));
        run = consulRun(sandboxes.box);
        assert.match(run.stderr, /--policy consul-agent: missing rules file .*consul-agent\.json/);

        run = consulRun(sandboxes.box, { ...consulEnv(), CONSUL_HTTP_TOKEN: "" });
        assert.match(run.stderr, /CONSUL_HTTP_TOKEN \(the management token\) is not set/);
        assert.deepStrictEqual(creates(sandboxes.box), []);
    });
});

describe("local-acl.sh nomad (against a stand-in nomad)", () => {
    const sandboxes = new Sandboxes();

    it("bootstraps with the pre-set token, passed on stdin and never as an argument", () => {
        const run = nomadRun(sandboxes.box);
        assert.strictEqual(run.status, 0, run.stderr);
        assert.strictEqual(readFileSync(path.join(sandboxes.box.state, "bootstrap"), "utf8").trim(), "nomad-management-secret");
        assert.ok(calls(sandboxes.box, "nomad").every((c) => !c.includes("nomad-management-secret")), calls(sandboxes.box, "nomad").join("\n"));
        assert.match(run.stdout, /bootstrapped Nomad ACLs/);
    });

    it("hands nomad only NOMAD_ADDR, none of the user's NOMAD_* or CONSUL_* variables", () => {
        assert.strictEqual(nomadRun(sandboxes.box).status, 0);
        assert.deepStrictEqual([...envSeen(sandboxes.box, "nomad")], ["NOMAD_ADDR"]);
    });

    it("accepts a cluster it bootstrapped before with the same token", () => {
        assert.strictEqual(nomadRun(sandboxes.box).status, 0);
        const again = nomadRun(sandboxes.box);
        assert.strictEqual(again.status, 0, again.stderr);
        assert.match(again.stdout, /already bootstrapped/);
    });

    it("refuses a cluster bootstrapped with another token, saying how to recover", () => {
        assert.strictEqual(nomadRun(sandboxes.box, "first-token").status, 0);
        const run = nomadRun(sandboxes.box, "second-token");
        assert.strictEqual(run.status, 1);
        assert.match(run.stderr, /bootstrapped with another token: stop the local cloud and remove its state directory/);
    });

    it("waits for a leader before bootstrapping", () => {
        writeFileSync(path.join(sandboxes.box.state, "fail-nomad"), "2");
        const run = nomadRun(sandboxes.box);
        assert.strictEqual(run.status, 0, run.stderr);
        assert.strictEqual(calls(sandboxes.box, "nomad").filter((c) => c.startsWith("acl bootstrap")).length, 3);
    });
});

describe("provisioning/*/scripts", () => {
    it("every script passes shellcheck with no finding", () => {
        const shellFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".sh")).map((f) => path.join(dir, f));
        const local = path.join(SCRIPTS, "..", "..", "local", "scripts");
        const scripts = [...shellFiles(SCRIPTS), ...shellFiles(local), ...shellFiles(path.join(local, "lib"))];
        assert.ok(scripts.some((s) => s.endsWith("local-acl.sh")) && scripts.length >= 6, scripts.join(", "));
        for (const [file, result] of shellcheckFiles(scripts)) {
            assert.ok(result.ok, `${path.basename(file)}: ${result.output}`);
        }
    });
});
