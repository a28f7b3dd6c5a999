/**
 * Issue 10/12: the local target's Consul and Nomad together, for real (Consul 1.16.3, Nomad 1.6.3,
 * bindle-server 0.9.1). Consul runs its local steps (test/real/harness/consul-agent.ts), then
 * Nomad its own on the same node and state directory, with the `nomad-agent` token the consul-acl
 * step created in its secrets file, as components/local/local-agents.ts wires it
 * (`nomad-secrets` = `localNomadSecrets({ consulToken: tokens.consulNomad })`, `consul.address`
 * from provisioning/local/agent-config.ts). The Bindle job is registered exactly as rendered
 * (raw_exec runtime, `Provider: "consul"`), with its Variable. Checked through Consul's API:
 * the service and its `bindle-healthz` check, registered by Nomad (the rendered `nomad-agent`
 * policy allows it), invisible to anonymous reads; resolved through Consul DNS on the rendered
 * port; then the local destroy steps leave nothing running.
 */
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import { createSocket } from "dgram";
import { existsSync, readFileSync } from "fs";
import { CONSUL_ACL_POLICIES } from "../../../provisioning/agents/consul-acl-policies";
import { bindleJob } from "../../../provisioning/jobs/bindle-job";
import { JOB_IDS, jobVariablePath, SERVICE_NAMES } from "../../../provisioning/platform";
import { bindleJobSecrets } from "../harness/bindle-server";
import { CONSUL_BINARY, LocalConsul } from "../harness/consul-agent";
import { descendantsOf, LocalNomad, NOMAD_BINARY, ProcEntry, stillRunning } from "../harness/nomad-agent";
import { unmountUnder } from "../harness/nomad-dev";
import { itWith, missing, request, waitFor } from "../harness/runtime";

const BINDLE_BINARY = "bindle-server-0.9.1";
const BINARIES = [CONSUL_BINARY, NOMAD_BINARY, BINDLE_BINARY];
const SERVICE = SERVICE_NAMES.bindle;

interface CatalogEntry { ServiceID: string; ServiceName: string; ServiceAddress: string; ServicePort: number; ServiceMeta: Record<string, string> }
interface Check { Name: string; Status: string; ServiceName: string; Output: string }

const DNS_TYPE = { A: 1, SRV: 33 } as const;
const DNS_RCODE = { NOERROR: 0, NXDOMAIN: 3 } as const;
interface DnsAnswer { rcode: number; a: string[]; srv: { port: number; target: string }[] }

/** A domain name at `offset` (labels, RFC 1035 4.1.4 compression pointers) and the offset after it. */
function readName(msg: Buffer, offset: number): [string, number] {
    const labels: string[] = [];
    let end = -1;
    for (let hops = 0; hops < 64; hops++) {
        const len = msg[offset];
        if (len === 0) return [labels.join("."), end < 0 ? offset + 1 : end];
        if ((len & 0xc0) === 0xc0) {
            if (end < 0) end = offset + 2;
            offset = msg.readUInt16BE(offset) & 0x3fff;
            continue;
        }
        labels.push(msg.toString("ascii", offset + 1, offset + 1 + len));
        offset += 1 + len;
    }
    throw new Error("DNS name loop");
}

/** One recursive-desired UDP query to 127.0.0.1:`port` (RFC 1035 4.1), its A and SRV answers; bounded. */
function dnsQuery(port: number, name: string, type: number, timeoutMs = 3_000): Promise<DnsAnswer> {
    const id = randomBytes(2).readUInt16BE(0);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    header.writeUInt16BE(0x0100, 2); // RD
    header.writeUInt16BE(1, 4); // QDCOUNT
    const qname = Buffer.concat([...name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])), Buffer.from([0])]);
    const question = Buffer.alloc(4);
    question.writeUInt16BE(type, 0);
    question.writeUInt16BE(1, 2); // IN
    const socket = createSocket("udp4");
    return new Promise<DnsAnswer>((resolve, reject) => {
        const timer = setTimeout(() => { socket.close(); reject(new Error(`no DNS answer from 127.0.0.1:${port} in ${timeoutMs} ms`)); }, timeoutMs);
        socket.on("message", (msg) => {
            if (msg.readUInt16BE(0) !== id) return;
            clearTimeout(timer);
            socket.close();
            const answer: DnsAnswer = { rcode: msg.readUInt16BE(2) & 0xf, a: [], srv: [] };
            let offset = readName(msg, 12)[1] + 4;
            for (let i = 0; i < msg.readUInt16BE(6); i++) {
                offset = readName(msg, offset)[1];
                const [rtype, rdlength] = [msg.readUInt16BE(offset), msg.readUInt16BE(offset + 8)];
                const rdata = offset + 10;
                if (rtype === DNS_TYPE.A) answer.a.push([...msg.subarray(rdata, rdata + 4)].join("."));
                if (rtype === DNS_TYPE.SRV) answer.srv.push({ port: msg.readUInt16BE(rdata + 4), target: readName(msg, rdata + 6)[0] });
                offset = rdata + rdlength;
            }
            resolve(answer);
        });
        socket.send(Buffer.concat([header, qname, question]), port, "127.0.0.1");
    });
}

const gone = (pid: number) => !existsSync(`/proc/${pid}`) || /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));

describe("real Consul + Nomad: the local target's agents together, the Bindle job in Consul's catalog, then the local destroy", function () {
    this.timeout(300_000);
    let consul: LocalConsul | undefined;
    let nomad: LocalNomad | undefined;
    let tasks: ProcEntry[] = [];
    let pids: { consul: number; nomad: number } | undefined;

    before(async function () {
        if (process.platform !== "linux") this.skip(); // /proc
        if (missing(BINARIES).length > 0) return;
        try {
            consul = await LocalConsul.create("local-consul-nomad");
            consul.up();
            nomad = await LocalNomad.up("local-consul-nomad", `/usr/local/bin/${BINDLE_BINARY}`, consul);
            pids = { consul: consul.pid(), nomad: nomad.pid() };
        } catch (e) {
            nomad?.cleanup();
            consul?.cleanup();
            throw e;
        }
    });
    // Nomad first: its cleanup leaves the shared temp dir (and Consul's pid file) to Consul's.
    after(() => { nomad?.cleanup(); consul?.cleanup(); });

    itWith(BINARIES, "Nomad runs with the consul-acl step's nomad-agent token and fingerprints the local Consul", async () => {
        const c = consul!, n = nomad!;
        const secrets = JSON.parse(readFileSync(n.layout.nomad.secretsFile, "utf8"));
        assert.equal(secrets.consul.token, c.policyTokens["nomad-agent"]);
        const self = JSON.parse((await c.api("GET", "/v1/acl/token/self", undefined, secrets.consul.token)).body);
        assert.deepEqual(self.Policies.map((p: { Name: string }) => p.Name), ["nomad-agent"]);
        // The client's Consul fingerprint (agent:read through the token) sets `consul.version`,
        // which the job's implied `${attr.consul.version}` constraint needs.
        const node = await waitFor("the client's Consul fingerprint", async () => {
            const [stub] = JSON.parse((await n.api("GET", "/v1/nodes")).body) as { ID: string }[];
            const full = JSON.parse((await n.api("GET", `/v1/node/${stub.ID}`)).body) as { Attributes: Record<string, string> };
            return full.Attributes["consul.version"] ? full.Attributes : undefined;
        }, 60_000, 500);
        assert.match(node["consul.version"], /^1\.16\.3/);
        assert.equal(node["consul.datacenter"], n.node.datacenter);
    });

    itWith(BINARIES, "registers the rendered Bindle job (Provider consul): service and passing bindle-healthz in Consul, by Nomad, hidden from anonymous reads", async () => {
        const c = consul!, n = nomad!;
        const { items, password } = bindleJobSecrets();
        const varPath = jobVariablePath(JOB_IDS.bindle);
        const variable = await n.api("PUT", `/v1/var/${varPath}`, { Path: varPath, Items: items });
        assert.equal(variable.status, 200, variable.body);
        const { node } = n;
        const job = bindleJob({ datacenters: [node.datacenter], architecture: node.architecture,
            runtime: { driver: "raw_exec", bindleServerBinary: node.binaries.bindleServer, port: node.ports.bindle, dataDir: node.layout.bindleData } });
        assert.deepEqual(job.TaskGroups.flatMap((g) => (g.Services ?? []).map((s) => s.Provider)), ["consul"], "as rendered");
        const registered = await n.api("PUT", "/v1/jobs", { Job: job });
        assert.equal(registered.status, 200, registered.body);

        const report = async () => `allocations: ${await n.allocReport(job.ID)}\n${c.logTail()}`;
        const checks = await waitFor("a passing bindle-healthz check in Consul", async () => {
            const r = JSON.parse((await c.api("GET", `/v1/health/checks/${SERVICE}`)).body) as Check[];
            return r.some((x) => x.Name === "bindle-healthz" && x.Status === "passing") ? r : undefined;
        }, 120_000, 500).catch(async (e) => { throw new Error(`${e.message}; ${await report()}`); });
        assert.deepEqual(checks.map((x) => [x.Name, x.Status]), [["bindle-healthz", "passing"]]);

        const catalog = JSON.parse((await c.api("GET", `/v1/catalog/service/${SERVICE}`)).body) as CatalogEntry[];
        assert.equal(catalog.length, 1, JSON.stringify(catalog));
        const [entry] = catalog;
        // Registered by Nomad's service client (command/agent/consul/service_client.go: IDs
        // `_nomad-task-<alloc>-…`, Meta `external-source: nomad`), with the only Consul token
        // Nomad has: the nomad-agent one (anonymous has no service:write, see below).
        assert.match(entry.ServiceID, /^_nomad-task-/);
        assert.equal(entry.ServiceMeta["external-source"], "nomad");
        assert.deepEqual([entry.ServiceAddress, entry.ServicePort], ["127.0.0.1", node.ports.bindle]);
        // Nomad's deployment reads the check status from Consul (Update.HealthCheck "checks").
        await waitFor("the Bindle deployment to succeed", async () => {
            const d = JSON.parse((await n.api("GET", `/v1/job/${job.ID}/deployment`)).body) as { Status: string } | null;
            return d?.Status === "successful" ? true : undefined;
        }, 90_000, 1_000).catch(async (e) => { throw new Error(`${e.message}; ${await report()}`); });

        // Neither agent met an ACL refusal on the way (a policy gap shows up as "Permission denied").
        assert.doesNotMatch(readFileSync(`${n.layout.root}/logs/nomad.log`, "utf8"), /Permission denied|ACL not found/i);
        assert.doesNotMatch(readFileSync(`${c.layout.root}/logs/consul.log`, "utf8"), /Permission denied/i);
        // default deny: an anonymous catalog read lists nothing of it, an anonymous registration is refused.
        const anonymous = JSON.parse((await c.api("GET", "/v1/catalog/services", undefined, null)).body);
        assert.ok(!(SERVICE in anonymous), JSON.stringify(anonymous));
        assert.deepEqual(JSON.parse((await c.api("GET", `/v1/catalog/service/${SERVICE}`, undefined, null)).body), []);
        assert.deepEqual(JSON.parse((await c.api("GET", `/v1/health/service/${SERVICE}?passing`, undefined, null)).body), []);
        assert.equal((await c.api("PUT", "/v1/agent/service/register", { Name: "probe", Port: 1 }, null)).status, 403);
        // The server answers and the Variable's htpasswd is in force.
        const base = `http://127.0.0.1:${node.ports.bindle}`;
        assert.equal((await request(`${base}/healthz`)).status, 200);
        assert.equal((await request(`${base}/v1/_i`, { method: "POST", body: "x", headers: { "content-type": "application/toml" } })).status, 403);
        tasks = descendantsOf(n.pid());
        assert.ok(tasks.some((t) => t.comm.startsWith("bindle-server")), tasks.map((t) => t.comm).join(", "));
    });

    itWith(BINARIES, "resolves bindle through Consul: the health API with the traefik token; DNS on the rendered port needs a DNS token, which the local target does not set", async () => {
        const c = consul!;
        const { ports } = c.node;
        // What Traefik's Consul catalog provider uses: the passing instances, with its token.
        const health = JSON.parse((await c.api("GET", `/v1/health/service/${SERVICE}?passing`, undefined, c.policyTokens.traefik)).body) as
            { Service: { Address: string; Port: number } }[];
        assert.deepEqual(health.map((h) => [h.Service.Address, h.Service.Port]), [["127.0.0.1", ports.bindle]]);

        const name = `${SERVICE}.service.consul`;
        // As rendered: no `acl.tokens.dns` (LOCAL_CONSUL_POLICIES has no consul-dns), so DNS reads
        // as anonymous and default deny hides the service (agent/dns.go in hashicorp/consul v1.16.3).
        const anonymous = await dnsQuery(ports.consulDns, name, DNS_TYPE.SRV);
        assert.ok(anonymous.rcode === DNS_RCODE.NXDOMAIN && anonymous.srv.length === 0, JSON.stringify(anonymous));
        // With the AWS consul-dns policy's token as the agent's DNS token (set at runtime, not
        // persisted), the rendered DNS port resolves the service to Nomad's registration. Consul
        // 1.16.3 answers `PUT /v1/agent/token/dns` with 404 "Token \"dns\" is unknown" (the `dns`
        // agent token of the pinned 1.22 is newer); its DNS reads with the agent's `default`
        // token (docs secure/acl/token/dns.mdx before `dns`), so that one is set instead here.
        const rules = CONSUL_ACL_POLICIES.find((p) => p.name === "consul-dns")!;
        const policy = await c.api("PUT", "/v1/acl/policy", { Name: "consul-dns", Rules: JSON.stringify(rules.rules) });
        assert.equal(policy.status, 200, policy.body);
        const token = await c.api("PUT", "/v1/acl/token", { Description: "test dns", Policies: [{ Name: "consul-dns" }] });
        assert.equal(token.status, 200, token.body);
        const secret = JSON.parse(token.body).SecretID;
        let set = await c.api("PUT", "/v1/agent/token/dns", { Token: secret });
        if (set.status === 404 && /Token "dns" is unknown/.test(set.body)) set = await c.api("PUT", "/v1/agent/token/default", { Token: secret });
        assert.equal(set.status, 200, set.body);
        const srv = await dnsQuery(ports.consulDns, name, DNS_TYPE.SRV);
        assert.equal(srv.rcode, DNS_RCODE.NOERROR, JSON.stringify(srv));
        assert.deepEqual(srv.srv.map((s) => s.port), [ports.bindle]);
        const a = await dnsQuery(ports.consulDns, name, DNS_TYPE.A);
        assert.deepEqual(a.a, ["127.0.0.1"]);
    });

    itWith(BINARIES, "the local destroy steps (Nomad's, then Consul's) deregister the service and leave nothing running", async () => {
        const c = consul!, n = nomad!;
        assert.ok(tasks.length >= 2, `executor and task: ${tasks.map((t) => t.comm).join(", ")}`);
        const nomadSteps = n.destroy(unmountUnder);
        for (const [step, r] of Object.entries(nomadSteps)) assert.equal(r?.status, 0, `${step}: ${r?.stderr}`);
        assert.equal(nomadSteps.state, undefined, "the state step comes after Consul's stop");
        assert.match(nomadSteps.nomadJobs.stdout, /stopped the jobs: bindle/);
        assert.match(nomadSteps.nomadJobs.stdout, /no allocation is running/, nomadSteps.nomadJobs.stderr);
        assert.doesNotMatch(nomadSteps.nomad.stdout, /left \d+ process/);
        assert.deepEqual(stillRunning(tasks), []);
        // Consul still runs: Nomad took its registrations with it (jobs' services and, with
        // `auto_advertise`, its own `nomad`/`nomad-client` ones).
        const services = await waitFor("Nomad's services to leave the catalog", async () => {
            const s = JSON.parse((await c.api("GET", "/v1/catalog/services")).body) as Record<string, string[]>;
            return Object.keys(s).every((x) => x === "consul") ? s : undefined;
        }, 20_000, 250).catch(async (e) => { throw new Error(`${e.message}: ${(await c.api("GET", "/v1/catalog/services")).body}`); });
        assert.deepEqual(Object.keys(services), ["consul"]);

        const consulSteps = c.destroy();
        for (const [step, r] of Object.entries(consulSteps)) assert.equal(r.status, 0, `${step}: ${r.stderr}`);
        assert.ok(gone(pids!.consul) && gone(pids!.nomad), "both agents are gone");
        assert.deepEqual(stillRunning(tasks), []);
        for (const left of [c.layout.consul.dataDir, n.layout.nomad.dataDir, n.layout.bindleData, c.layout.consul.secretsFile, n.layout.nomad.secretsFile]) {
            assert.ok(!existsSync(left), `${left} is left`);
        }
        const api = await request(`${c.address}/v1/status/leader`, {}, 2_000).catch((e: Error) => ({ status: 0, body: e.message }));
        assert.equal(api.status, 0, "Consul's HTTP port no longer answers");
    });
});
