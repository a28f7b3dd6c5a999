/**
 * Issue 13, the servers' roll gate (components/aws/server-roll.ts), Consul side, against a real
 * Consul 1.16.3 server started from the AWS server configuration the project renders (for a
 * 1-server cluster: `bootstrap_expect` 1), on 127.0.0.1 with TLS and default-deny ACLs, next to a
 * real Nomad 1.6.3 server (the gate asks both; its Nomad side is test/real/nomad/server-roll.test.ts).
 * The gate's serialized provider polls the real `/v1/operator/autopilot/health` of both with the
 * management tokens in headers: it waits while Consul is not up, opens once autopilot calls the
 * server a healthy voter, fails bounded naming the members for a server that is not one, and
 * names Consul's 403 for a token without `operator:read`, never printing a token.
 */
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import { chmodSync, mkdirSync, writeFileSync } from "fs";
import * as path from "path";
import { CONSUL_ACL_POLICIES, renderConsulPolicyRules } from "../../../provisioning/agents/consul-acl-policies";
import { renderConsulAgentConfig } from "../../../provisioning/agents/consul-config";
import { jsonFile } from "../../../provisioning/json-file";
import { makeLoopbackPki, LoopbackPki } from "../../aws/loopback-pki";
import { SAMPLE_CLUSTER, SAMPLE_SERVER } from "../../fixtures/nodes";
import { awsConsulServerOnLoopback, CONSUL_BINARY, consulServerCertificate } from "../harness/consul-agent";
import { httpsCall as call, rollGateProvider, writeNomadTlsServerConfig } from "../harness/server-roll";
import { freePorts, itWith, missing, Processes, sleep, Started, tempDir, waitFor } from "../harness/runtime";

const NOMAD = "nomad";
const NOMAD_TOKEN = "4c2e8f4a-5d8b-4f0e-9a51-3b7f2d1c9e60";
const CONSUL_TOKEN = "9d1b7e3a-2c4f-4a8e-b6d0-5f3e8a1c7b24";

describe("ServerRollGate against a real Consul (AWS server config, TLS, ACLs) and Nomad", function () {
    this.timeout(180_000);
    const present = missing([CONSUL_BINARY, NOMAD]).length === 0;
    let dir: string;
    let processes: Processes | undefined;
    let pki: LoopbackPki | undefined;
    let nomadAddress: string;
    let consulAddress: string;
    let consulServerPort: number;
    let consul: Started | undefined;
    let provider: any;

    before(async function () {
        if (!present) return;
        dir = tempDir("consul-roll");
        processes = new Processes(dir);
        pki = makeLoopbackPki("consul-roll-real");
        provider = await rollGateProvider(dir, { nomadToken: NOMAD_TOKEN, consulToken: CONSUL_TOKEN });

        // A Nomad server as in test/real/nomad/server-roll.test.ts, healthy before any gate runs.
        const server = await writeNomadTlsServerConfig(dir, pki, "nomad-data");
        nomadAddress = server.address;
        const nomad = processes.start("nomad", NOMAD, ["agent", `-config=${server.file}`], { cwd: dir });
        await waitFor("Nomad's ACL bootstrap", async () => {
            if (nomad.child.exitCode !== null) throw new Error(`nomad exited:\n${nomad.log().slice(-3000)}`);
            const r = await call("POST", `${nomadAddress}/v1/acl/bootstrap`, pki!.caPem, { BootstrapSecret: NOMAD_TOKEN }).catch(() => undefined);
            return r?.status === 200 ? true : undefined;
        }, 60_000, 250);
        await waitFor("Nomad's autopilot to call the server healthy", async () => {
            const r = await call("GET", `${nomadAddress}/v1/operator/autopilot/health`, pki!.caPem, undefined, NOMAD_TOKEN, "X-Nomad-Token");
            return r.status === 200 ? true : undefined;
        }, 60_000, 250);
    });

    after(async () => {
        await processes?.stopAll();
        pki?.remove();
    });

    const props = (over: Record<string, unknown> = {}) => ({
        serverName: "s-0", serverId: "i-new", serverIp: "127.0.0.1", instanceType: "t4g.medium", nomadAddress, consulAddress,
        caPem: pki!.caPem, nomadToken: NOMAD_TOKEN, consulToken: CONSUL_TOKEN, attempts: 240, delayMs: 250, requestTimeoutMs: 5000, ...over,
    });

    itWith([CONSUL_BINARY, NOMAD], "waits while Consul is down and through its election, then opens for the server autopilot calls a healthy voter", async () => {
        const [http, httpsPort, dns, server, serfLan, serfWan] = await freePorts(6);
        consulServerPort = server;
        consulAddress = `https://127.0.0.1:${httpsPort}`;
        const configDir = path.join(dir, "consul.d");
        mkdirSync(configDir);
        const rendered = renderConsulAgentConfig({ ...SAMPLE_SERVER, cluster: { ...SAMPLE_CLUSTER, serverCount: 1 } });
        const config = awsConsulServerOnLoopback(rendered, {
            dataDir: path.join(dir, "consul-data"), ports: { http, https: httpsPort, dns, server, serfLan, serfWan },
            tls: { caFile: pki!.caFile, ...consulServerCertificate(pki!, SAMPLE_CLUSTER.datacenter) },
        });
        writeFileSync(path.join(configDir, "agent.json"), jsonFile(config));
        // The secrets fragment as bootstrap.sh writes it on a server (its jq `consul_filter`).
        const secrets = path.join(configDir, "secrets.json");
        writeFileSync(secrets, jsonFile({ encrypt: randomBytes(32).toString("base64"), acl: { tokens: { agent: CONSUL_TOKEN, initial_management: CONSUL_TOKEN } } }));
        chmodSync(secrets, 0o600);

        let settled = false;
        const gate = (provider.update("s-0", props({ serverId: "i-old" }), props()) as Promise<{ outs: Record<string, unknown> }>)
            .finally(() => { settled = true; });
        await sleep(3000);
        assert.equal(settled, false, "the gate opened with Consul down: it does not wait for Consul");
        consul = processes!.start("consul", CONSUL_BINARY, ["agent", `-config-dir=${configDir}`], { cwd: dir });
        const result = await Promise.race([gate, new Promise<never>((_r, reject) => consul!.child.once("exit", () =>
            reject(new Error(`consul exited:\n${consul!.log().slice(-3000)}`))))]);
        assert.strictEqual(result.outs.serverId, "i-new");
        const health = JSON.parse((await call("GET", `${consulAddress}/v1/operator/autopilot/health`, pki!.caPem, undefined, CONSUL_TOKEN)).body);
        assert.deepEqual(health.Servers.map((s: Record<string, unknown>) => [s.Address, s.SerfStatus, s.Healthy, s.Voter]),
            [[`127.0.0.1:${server}`, "alive", true, true]]);
    });

    itWith([CONSUL_BINARY, NOMAD], "fails bounded for a server that is not in Consul's Raft configuration, naming the members", async () => {
        assert.ok(consul, "the agent of the first test runs");
        await assert.rejects(provider.update("s-1", props(), props({ serverIp: "127.0.0.2", attempts: 3, delayMs: 100 })), (err: Error) => {
            assert.match(err.message, new RegExp(`^ServerRollGate: server 127\\.0\\.0\\.2 is not a healthy voter in a healthy Nomad and Consul cluster ` +
                `after 3 attempts 100 ms apart; the next server is left alone\\. Last: Nomad \\(GET /v1/operator/autopilot/health\\): .*; ` +
                `Consul \\(GET /v1/operator/autopilot/health\\): server 127\\.0\\.0\\.2 is not in the Raft configuration yet ` +
                `\\(members: 127\\.0\\.0\\.1:${consulServerPort} alive\\)$`));
            return true;
        });
    });

    itWith([CONSUL_BINARY, NOMAD], "names Consul's 403 for a token without operator:read, never the token", async () => {
        assert.ok(consul, "the agent of the first test runs");
        // A real token of the project's `traefik` policy (node and service read only).
        const traefik = CONSUL_ACL_POLICIES.find((p) => p.name === "traefik")!;
        const policy = await call("PUT", `${consulAddress}/v1/acl/policy`, pki!.caPem, { Name: "traefik", Rules: renderConsulPolicyRules(traefik) }, CONSUL_TOKEN);
        assert.equal(policy.status, 200, policy.body);
        const created = await call("PUT", `${consulAddress}/v1/acl/token`, pki!.caPem, { Policies: [{ Name: "traefik" }] }, CONSUL_TOKEN);
        assert.equal(created.status, 200, created.body);
        const readOnly = JSON.parse(created.body).SecretID as string;
        const unknown = "00000000-0000-4000-8000-000000000000";
        for (const [token, says] of [[readOnly, /Permission denied.*operator:read/], [unknown, /ACL not found/]] as const) {
            await assert.rejects(provider.update("s-0", props(), props({ consulToken: token, attempts: 2, delayMs: 50 })), (err: Error) => {
                assert.match(err.message, /Last: Consul \(GET \/v1\/operator\/autopilot\/health\): HTTP 403: /);
                assert.match(err.message, says);
                assert.doesNotMatch(err.message, /Nomad \(GET/, "Nomad's side is healthy: only Consul is named");
                for (const secret of [token, CONSUL_TOKEN, NOMAD_TOKEN]) assert.ok(!err.message.includes(secret), "a token in the message");
                return true;
            });
        }
    });
});
