/**
 * The servers' roll gate (components/aws/server-roll.ts) against a real Nomad 1.6.3 server on
 * 127.0.0.1 with TLS and ACLs on, as the AWS servers run: the gate's serialized provider polls
 * the real `/v1/operator/autopilot/health` with the management token in its header, waits through
 * "no leader" and "ACLs not bootstrapped", opens when the server is a healthy voter, and fails
 * bounded for a server that is not in the Raft configuration or with a wrong token.
 * The Consul half runs against a real Consul in test/real/consul/server-roll.test.ts (and a stand-in in test/aws).
 */
import { strict as assert } from "assert";
import { makeLoopbackPki, LoopbackPki } from "../../aws/loopback-pki";
import { httpsCall, rollGateProvider, writeNomadTlsServerConfig } from "../harness/server-roll";
import { itWith, Processes, Started, tempDir } from "../harness/runtime";

const NOMAD = "nomad";
const TOKEN = "4c2e8f4a-5d8b-4f0e-9a51-3b7f2d1c9e60";

describe("ServerRollGate against a real Nomad (TLS, ACLs)", function () {
    this.timeout(120_000);
    let dir: string;
    let processes: Processes;
    let pki: LoopbackPki;
    let started: Started;
    let address: string;
    let rpc: number;
    let provider: any;

    before(async function () {
        dir = tempDir("server-roll");
        processes = new Processes(dir);
        pki = makeLoopbackPki("server-roll-real");
        provider = await rollGateProvider(dir, { nomadToken: TOKEN, consulToken: TOKEN });
    });

    after(async () => {
        await processes?.stopAll();
        pki?.remove();
    });

    /** Gate props for the real server: Nomad only (the Consul half: test/real/consul/server-roll.test.ts). */
    const props = (over: Record<string, unknown> = {}) => ({
        serverName: "s-0", serverId: "i-new", serverIp: "127.0.0.1", instanceType: "t4g.medium", nomadAddress: address,
        caPem: pki.caPem, nomadToken: TOKEN, attempts: 120, delayMs: 250, requestTimeoutMs: 5000, ...over,
    });

    itWith([NOMAD], "waits through the election and the ACL bootstrap, then opens for the server", async () => {
        const server = await writeNomadTlsServerConfig(dir, pki, "data");
        rpc = server.rpc;
        address = server.address;
        started = processes.start("nomad", NOMAD, ["agent", `-config=${server.file}`], { cwd: dir });
        // The gate starts before the agent answers at all; the bootstrap happens meanwhile.
        const gate = provider.update("s-0", props({ serverId: "i-old" }), props()) as Promise<{ outs: Record<string, unknown> }>;
        let bootstrapped = false;
        for (let i = 0; i < 120 && !bootstrapped; i++) {
            if (started.child.exitCode !== null) throw new Error(`nomad exited:\n${started.log().slice(-3000)}`);
            bootstrapped = await httpsCall("POST", `${address}/v1/acl/bootstrap`, pki.caPem, { BootstrapSecret: TOKEN })
                .then((r) => r.status === 200, () => false);
            if (!bootstrapped) await new Promise((r) => setTimeout(r, 250));
        }
        assert.ok(bootstrapped, `ACL bootstrap did not succeed:\n${started.log().slice(-3000)}`);
        const result = await gate;
        assert.strictEqual(result.outs.serverId, "i-new");
    });

    itWith([NOMAD], "fails bounded for a server that is not in the Raft configuration, naming the members", async () => {
        assert.ok(address, "the agent of the first test runs");
        await assert.rejects(provider.update("s-1", props(), props({ serverIp: "127.0.0.2", attempts: 3, delayMs: 100 })), (err: Error) => {
            assert.match(err.message, new RegExp(`^ServerRollGate: server 127\\.0\\.0\\.2 is not a healthy voter in a healthy Nomad cluster after 3 attempts 100 ms apart; ` +
                `the next server is left alone\\. Last: Nomad \\(GET /v1/operator/autopilot/health\\): server 127\\.0\\.0\\.2 is not in the Raft configuration yet ` +
                `\\(members: 127\\.0\\.0\\.1:${rpc} alive\\)$`));
            return true;
        });
    });

    itWith([NOMAD], "names the 403 of a token without operator:read, never the token", async () => {
        assert.ok(address, "the agent of the first test runs");
        const wrong = "00000000-0000-4000-8000-000000000000";
        await assert.rejects(provider.update("s-0", props(), props({ nomadToken: wrong, attempts: 2, delayMs: 50 })), (err: Error) => {
            assert.match(err.message, /Nomad \(GET \/v1\/operator\/autopilot\/health\): HTTP 403/);
            assert.ok(!err.message.includes(wrong) && !err.message.includes(TOKEN));
            return true;
        });
    });
});
