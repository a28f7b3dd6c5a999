/**
 * Issue 12: the local target's Consul, for real (Consul 1.16.3). The local steps run as the local
 * stack runs them (test/real/harness/consul-agent.ts): the rendered configuration and secrets
 * files, the agent started by local-agent.sh, the ACL policies and tokens made by local-acl.sh
 * through the real `consul` CLI and Consul's HTTP API. Checked: the agent runs the rendered
 * configuration on loopback only, the management token from the secrets file is the bootstrap,
 * anonymous requests are refused (default deny), every policy and token is the project's, a second
 * ACL run writes nothing, no secret is in any argv of any process the steps start (every execve,
 * traced with strace), and destroy stops the agent and removes its data.
 */
import { strict as assert } from "assert";
import { existsSync, readdirSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { LOCAL_CONSUL_POLICIES } from "../../../components/local/local-agents";
import { CONSUL_ACL_POLICIES, renderConsulPolicyRules } from "../../../provisioning/agents/consul-acl-policies";
import { shellQuote } from "../../../provisioning/shell-quote";
import { CONSUL_BINARY, ConsulStep, listenersOf, LocalConsul } from "../harness/consul-agent";
import { runStep } from "../harness/nomad-agent";
import { itWith, missing, waitFor } from "../harness/runtime";

const STRACE = "strace";
/** The global-management policy every bootstrap token has (Consul docs, acl/policies "Builtin Policies"). */
const GLOBAL_MANAGEMENT_ID = "00000000-0000-0000-0000-000000000001";

interface Exec { pid: number; argv: string }

/** The execve lines of an `strace -f -e trace=execve` output file: pid and the quoted argv list. */
function execsIn(file: string): Exec[] {
    return readFileSync(file, "utf8").split("\n").flatMap((line) => {
        const m = /^(\d+)\s+execve\("[^"]*", (\[.*\]), 0x[0-9a-f]+ /.exec(line);
        return m ? [{ pid: Number(m[1]), argv: m[2] }] : [];
    });
}

describe("real Consul 1.16.3: the local target's agent and ACL steps", function () {
    this.timeout(180_000);
    let consul: LocalConsul | undefined;
    const traces: { step: string; file: string }[] = [];
    const traced = missing([STRACE]).length === 0;

    /** Every short step under strace (every execve of it and its children); the agent start is not (strace would wait for the agent). */
    const trace = (name: string) => (step: ConsulStep | string, script: string) => {
        if (!traced || step === "consul") return script;
        const file = path.join(consul!.dir, `trace-${name}-${step}.txt`);
        traces.push({ step: `${name} ${step}`, file });
        return ["strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-s", "65535", "-o", file, "/bin/sh", "-c", script].map(shellQuote).join(" ");
    };

    before(async function () {
        if (process.platform !== "linux") this.skip(); // /proc and strace
        if (missing([CONSUL_BINARY]).length > 0) return;
        consul = await LocalConsul.create("consul-local");
        try {
            consul.up(trace("up"));
        } catch (e) {
            consul.cleanup();
            throw e;
        }
    });
    after(() => consul?.cleanup());

    itWith([CONSUL_BINARY], "runs the rendered configuration: a leader, the cluster's node name, every listener on 127.0.0.1 and a rendered port", async () => {
        const c = consul!;
        const { ports } = c.node;
        const leader = await waitFor("a Consul leader", async () => JSON.parse((await c.api("GET", "/v1/status/leader")).body) || undefined, 30_000);
        assert.equal(leader, `127.0.0.1:${ports.consulServer}`);
        const self = JSON.parse((await c.api("GET", "/v1/agent/self")).body);
        assert.deepEqual([self.Config.NodeName, self.Config.Datacenter, self.Config.Server], ["spin-cloud-real", "local", true]);
        assert.equal(self.DebugConfig.DataDir, c.layout.consul.dataDir);
        const listeners = listenersOf(c.pid());
        assert.deepEqual(listeners.filter((l) => l.address !== "127.0.0.1"), [], "only loopback");
        const tcp = [...new Set(listeners.filter((l) => l.proto === "tcp").map((l) => l.port))].sort();
        // HTTP, gRPC, DNS, server RPC, Serf LAN and WAN; no HTTPS and no gRPC-TLS (both -1).
        const rendered = [ports.consulHttp, ports.consulGrpc, ports.consulDns, ports.consulServer, ports.consulSerfLan, ports.consulSerfWan];
        assert.deepEqual(tcp, [...rendered].sort());
        assert.equal(statSync(c.layout.consul.secretsFile).mode & 0o777, 0o600);
        assert.equal(statSync(c.layout.consul.configFile).mode & 0o777, 0o644);
    });

    itWith([CONSUL_BINARY], "bootstraps ACLs with the secrets file's management token and refuses anonymous requests", async () => {
        const c = consul!;
        const self = JSON.parse((await c.api("GET", "/v1/acl/token/self")).body);
        assert.equal(self.SecretID, c.managementToken);
        assert.deepEqual(self.Policies.map((p: { ID: string }) => p.ID), [GLOBAL_MANAGEMENT_ID]);
        const bootstrap = await c.api("PUT", "/v1/acl/bootstrap", undefined, null);
        assert.equal(bootstrap.status, 403, bootstrap.body);
        assert.match(bootstrap.body, /ACL bootstrap no longer allowed/);
        // default_policy "deny": writes and agent/ACL reads are refused; lists come back filtered.
        for (const [method, url] of [["GET", "/v1/acl/tokens"], ["GET", "/v1/agent/self"], ["PUT", "/v1/kv/probe"], ["GET", "/v1/kv/probe"]]) {
            const r = await c.api(method, url, method === "PUT" ? "x" : undefined, null);
            assert.equal(r.status, 403, `anonymous ${method} ${url}: ${r.status} ${r.body}`);
        }
        assert.deepEqual(JSON.parse((await c.api("GET", "/v1/catalog/services", undefined, null)).body), {});
        assert.ok("consul" in JSON.parse((await c.api("GET", "/v1/catalog/services")).body));
    });

    itWith([CONSUL_BINARY], "creates every local policy with the project's rules and its token with the pre-set SecretID", async () => {
        const c = consul!;
        for (const name of LOCAL_CONSUL_POLICIES) {
            const policy = JSON.parse((await c.api("GET", `/v1/acl/policy/name/${name}`)).body);
            assert.equal(policy.Rules, renderConsulPolicyRules(CONSUL_ACL_POLICIES.find((p) => p.name === name)!), name);
            const token = await c.api("GET", "/v1/acl/token/self", undefined, c.policyTokens[name]);
            assert.equal(token.status, 200, `${name}: ${token.body}`);
            const t = JSON.parse(token.body);
            assert.deepEqual([t.Description, t.Policies.map((p: { Name: string }) => p.Name)], [`spin-cloud ${name}`, [name]]);
        }
        // What the rules allow, as the consumers use them.
        const { traefik, "nomad-agent": nomadAgent } = c.policyTokens;
        assert.ok("consul" in JSON.parse((await c.api("GET", "/v1/catalog/services", undefined, traefik)).body), "traefik reads the catalog");
        const service = { Name: "probe", Port: 1 };
        assert.equal((await c.api("PUT", "/v1/agent/service/register", service, traefik)).status, 403, "traefik registers nothing");
        const registered = await c.api("PUT", "/v1/agent/service/register", service, nomadAgent);
        assert.equal(registered.status, 200, `nomad-agent registers services: ${registered.body}`);
        assert.equal((await c.api("PUT", "/v1/agent/service/deregister/probe", undefined, nomadAgent)).status, 200);
        assert.equal((await c.api("PUT", "/v1/kv/probe", "x", nomadAgent)).status, 403, "no policy writes the KV store");
    });

    itWith([CONSUL_BINARY], "a second ACL run writes nothing: the ACL tables' Raft index is unchanged", async () => {
        const c = consul!;
        const index = async () => Promise.all(["/v1/acl/tokens", "/v1/acl/policies"].map(async (url) => {
            const r = await c.api("GET", url);
            return { url, index: r.headers.get("x-consul-index"), body: JSON.parse(r.body).map((x: { ID?: string; AccessorID?: string; ModifyIndex: number }) => [x.ID ?? x.AccessorID, x.ModifyIndex]) };
        }));
        const before = await index();
        assert.equal(before[0].body.length, LOCAL_CONSUL_POLICIES.length + 2, "management, anonymous and one per policy");
        const [step, script, env] = c.aclStep();
        const again = runStep(trace("rerun")(step, script), env);
        assert.equal(again.status, 0, again.stderr);
        assert.equal(again.stdout.match(/ are in place/g)?.length, LOCAL_CONSUL_POLICIES.length, again.stdout);
        assert.deepEqual(await index(), before);
        if (traced) {
            const execs = execsIn(traces.find((t) => t.step === "rerun consul-acl")!.file).map((e) => e.argv);
            assert.deepEqual(execs.filter((a) => /^\["curl"|"create"/.test(a)), [], "no create call on a re-run");
        }
    });

    itWith([CONSUL_BINARY, STRACE], "puts no secret in the argv of any process the steps start", async () => {
        const c = consul!;
        assert.ok(traces.some((t) => t.step === "up consul-acl") && traces.some((t) => t.step === "up file-consul-secrets"), "the steps were traced");
        const execs = traces.flatMap((t) => execsIn(t.file).map((e) => ({ ...e, step: t.step })));
        // The trace saw the real work: three policy creates through the CLI, three token PUTs through curl.
        const acl = execs.filter((e) => e.step === "up consul-acl").map((e) => e.argv);
        assert.equal(acl.filter((a) => a.startsWith(`["${c.node.binaries.consul}", "acl", "policy", "create"`)).length, LOCAL_CONSUL_POLICIES.length, acl.join("\n"));
        assert.equal(acl.filter((a) => a.startsWith(`["curl"`) && a.includes(`"PUT"`)).length, LOCAL_CONSUL_POLICIES.length, acl.join("\n"));
        for (const secret of c.secrets) {
            const leaked = execs.filter((e) => e.argv.includes(secret));
            assert.deepEqual(leaked, [], "a secret in an argv");
        }
        // The agent (started untraced) and every process running now.
        const agentArgv = readFileSync(`/proc/${c.pid()}/cmdline`, "utf8").split("\0").filter(Boolean);
        assert.deepEqual(agentArgv, [...c.agent.argv]);
        for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
            let cmdline = "";
            try { cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8"); } catch { continue; }
            for (const secret of c.secrets) assert.ok(!cmdline.includes(secret), `pid ${pid} has a secret in its command line`);
        }
    });

    itWith([CONSUL_BINARY], "destroy stops the agent and removes its data and files", async () => {
        const c = consul!;
        const pid = c.pid();
        const steps = c.destroy();
        for (const [step, r] of Object.entries(steps)) assert.equal(r.status, 0, `${step}: ${r.stderr}`);
        assert.ok(!existsSync(`/proc/${pid}`) || /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8")), "the agent is gone");
        for (const gone of [c.layout.consul.dataDir, c.layout.consul.secretsFile, c.layout.consul.configFile]) assert.ok(!existsSync(gone), gone);
    });
});
