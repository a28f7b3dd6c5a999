/**
 * Rolling updates: under mocks, how the servers and the client group are registered (replace on
 * user data, delete first, each server after the previous one's gate, an instance refresh), and
 * the gate itself: the health reading, the bounded wait, and the serialized dynamic provider
 * against an HTTPS stand-in of Nomad's and Consul's autopilot health on 127.0.0.1.
 */
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import * as fs from "fs";
import * as https from "https";
import { AddressInfo } from "net";
import * as path from "path";
import { spinCloudProgram } from "../../components/program";
import { HealthResponse, hostOf, readAutopilotHealth, RaftSystem, ServerRollGate, waitForServerInRaft } from "../../components/aws/server-roll";
import { evaluateStack, isSecretInput, MockRun, ofType, unwrapSecrets } from "../harness/mocks";
import { LoopbackPki, makeLoopbackPki } from "./loopback-pki";

const AWS_ONLY = { config: { exampleApp: "false" } };
const INSTANCE = "aws:ec2/instance:Instance";
const GATE = "pulumi-nodejs:dynamic/spin-cloud:ServerRollGate";

interface Registered { name: string; type: string; opts: pulumi.ResourceOptions & pulumi.CustomResourceOptions }

/** Evaluates a stack and records every resource's options (mocks do not see them) and identity. */
async function evaluateWithOptions(stack: string): Promise<{ run: MockRun; registered: Registered[]; nameOf: (r: unknown) => string | undefined }> {
    const registered: Registered[] = [];
    const names = new Map<unknown, string>();
    const run = await evaluateStack(stack, () => {
        pulumi.runtime.registerStackTransformation((args) => {
            registered.push({ name: args.name, type: args.type, opts: args.opts });
            names.set(args.resource, args.name);
            return undefined;
        });
        return spinCloudProgram();
    }, AWS_ONLY);
    return { run, registered, nameOf: (r) => names.get(r) };
}

const serverIndex = (name: string) => Number(/-server-(\d+)$/.exec(name)![1]);

describe("server rolling updates (mocks)", () => {
    for (const [stack, count] of [["dev", 3], ["prod", 5]] as const) {
        it(`replaces a server on a user-data change, deleting it first, and chains the ${count} servers of ${stack} through their gates`, async () => {
            const { run, registered, nameOf } = await evaluateWithOptions(stack);
            const servers = registered.filter((r) => r.type === INSTANCE).sort((a, b) => serverIndex(a.name) - serverIndex(b.name));
            assert.strictEqual(servers.length, count);
            for (const server of ofType(run, INSTANCE)) {
                assert.strictEqual(server.inputs.userDataReplaceOnChange, true, `${server.name}: a user-data change must replace it, not stop/start it`);
            }
            const gates = registered.filter((r) => r.type === GATE).map((g) => g.name);
            assert.strictEqual(gates.length, count);
            servers.forEach((server, i) => {
                assert.strictEqual(server.opts.deleteBeforeReplace, true, `${server.name}: delete before replace`);
                assert.deepStrictEqual(server.opts.replaceOnChanges, ["userDataBase64"]);
                assert.deepStrictEqual(server.opts.ignoreChanges, ["ami"]);
                const deps = ((server.opts.dependsOn ?? []) as unknown[]).map(nameOf);
                const gateDeps = deps.filter((d) => d !== undefined && gates.includes(d));
                assert.deepStrictEqual(gateDeps, i === 0 ? [] : [`spin-cloud-nomad-server-${i - 1}-raft`], `${server.name} waits for the previous server's gate only`);
                assert.ok(deps.includes("spin-cloud-secrets"), `${server.name} still waits for its secrets`);
            });
            const leader = registered.find((r) => r.name === "spin-cloud-nomad-leader")!;
            assert.ok(((leader.opts.dependsOn ?? []) as unknown[]).map(nameOf).includes(`spin-cloud-nomad-server-${count - 1}-raft`),
                "no job moves before the last server is back");
        });
    }

    it("points each gate at its own server and the operator endpoint's Nomad and Consul, tokens secret", async () => {
        const { run } = await evaluateWithOptions("dev");
        const nlb = ofType(run, "aws:lb/loadBalancer:LoadBalancer").find((l) => l.name === "spin-cloud-operator-nlb")!;
        const servers = Object.fromEntries(ofType(run, INSTANCE).map((s) => [s.name, s]));
        const secrets = Object.fromEntries(run.resources.filter((r) => r.type === "random:index/randomUuid:RandomUuid").map((r) => [r.name, r.state.result]));
        for (const gate of ofType(run, GATE)) {
            const i = /-server-(\d+)-raft$/.exec(gate.name)![1];
            const server = servers[`spin-cloud-nomad-server-${i}`];
            assert.match(String(gate.inputs.serverId), /^i-[0-9a-f]{17}$/);
            assert.strictEqual(gate.inputs.serverIp, server.state.privateIp);
            assert.strictEqual(gate.inputs.serverName, `spin-cloud-dev-server-${i}`);
            assert.strictEqual(gate.inputs.instanceType, server.inputs.instanceType);
            assert.strictEqual(gate.inputs.nomadAddress, `https://${nlb.state.dnsName}:4646`);
            assert.strictEqual(gate.inputs.consulAddress, `https://${nlb.state.dnsName}:8501`);
            assert.ok(isSecretInput(gate.inputs.nomadToken) && isSecretInput(gate.inputs.consulToken), "tokens are secret inputs");
            const tokens = [unwrapSecrets(gate.inputs.nomadToken), unwrapSecrets(gate.inputs.consulToken)];
            assert.ok(tokens.every((t) => Object.values(secrets).includes(t)), "the management tokens of the cluster");
        }
        const ids = new Set(ofType(run, GATE).map((g) => g.inputs.serverId));
        assert.strictEqual(ids.size, 3, "one gate per server");
    });

    it("refreshes the client group in rolling batches keeping 90% healthy, triggered by the launch template version", async () => {
        const { run } = await evaluateWithOptions("dev");
        const [group] = ofType(run, "aws:autoscaling/group:Group");
        assert.deepStrictEqual(group.inputs.instanceRefresh, {
            strategy: "Rolling",
            preferences: { minHealthyPercentage: 90, maxHealthyPercentage: 100, instanceWarmup: "600", skipMatching: true, autoRollback: false },
        });
        const [template] = ofType(run, "aws:ec2/launchTemplate:LaunchTemplate");
        assert.deepStrictEqual(group.inputs.launchTemplate, { id: `${template.name}-id`, version: String(template.state.latestVersion) },
            "a pinned version (not $Latest), so a template change starts the refresh");
    });
});

const IP = "10.40.1.23";
const ok: HealthResponse = { status: 200, body: "" };
/** An autopilot health answer (Nomad's and Consul's shape) for `members` as [address, serf, healthy, voter]. */
function health(members: [string, string, boolean, boolean][]): HealthResponse {
    const healthy = members.every(([, serf, h]) => serf === "alive" && h);
    return {
        status: healthy ? 200 : 429,
        body: JSON.stringify({
            Healthy: healthy, FailureTolerance: healthy ? Math.floor((members.length - 1) / 2) : 0,
            Servers: members.map(([Address, SerfStatus, Healthy, Voter], n) => ({ ID: `id-${n}`, Name: `s${n}`, Address, SerfStatus, Healthy, Voter, Leader: n === 0 })),
        }),
    };
}
const WHOLE = health([["10.40.0.10:4647", "alive", true, true], ["10.40.2.10:4647", "alive", true, true], [`${IP}:4647`, "alive", true, true]]);
const OLD_STILL_LISTED = health([["10.40.0.10:4647", "alive", true, true], ["10.40.2.10:4647", "alive", true, true],
    ["10.40.1.10:4647", "failed", false, true], [`${IP}:4647`, "alive", true, true]]);
const NOT_YET_VOTER = health([["10.40.0.10:4647", "alive", true, true], ["10.40.2.10:4647", "alive", true, true], [`${IP}:4647`, "alive", true, false]]);
const WITHOUT_NEW = health([["10.40.0.10:4647", "alive", true, true], ["10.40.2.10:4647", "alive", true, true]]);

describe("ServerRollGate health reading", () => {
    it("opens only when the server is a healthy voter and every other member is alive and healthy", () => {
        assert.deepStrictEqual(readAutopilotHealth("Nomad", WHOLE, IP), { ok: true, problem: "" });
        assert.match(readAutopilotHealth("Nomad", WITHOUT_NEW, IP).problem, /^Nomad \(GET \/v1\/operator\/autopilot\/health\): server 10\.40\.1\.23 is not in the Raft configuration yet \(members: 10\.40\.0\.10:4647 alive, 10\.40\.2\.10:4647 alive\)$/);
        assert.match(readAutopilotHealth("Consul", OLD_STILL_LISTED, IP).problem, /Consul .*unhealthy \(members: .*10\.40\.1\.10:4647 failed unhealthy,/);
        assert.match(readAutopilotHealth("Nomad", NOT_YET_VOTER, IP).problem, /10\.40\.1\.23:4647 alive non-voter/);
        assert.match(readAutopilotHealth("Nomad", { status: 403, body: "Permission denied" }, IP).problem, /HTTP 403: Permission denied$/);
        assert.match(readAutopilotHealth("Nomad", { status: 500, body: "No cluster leader" }, IP).problem, /HTTP 500: No cluster leader$/);
        assert.match(readAutopilotHealth("Nomad", { ...ok, body: "null" }, IP).problem, /no Servers list/);
        assert.match(readAutopilotHealth("Nomad", { ...ok, body: "<html>" }, IP).problem, /not JSON/);
        // A healthy flag alone is not enough: the member list must show this server.
        assert.strictEqual(readAutopilotHealth("Nomad", { status: 200, body: JSON.stringify({ Healthy: true, Servers: [] }) }, IP).ok, false);
        assert.deepStrictEqual([hostOf("10.0.0.1:8300"), hostOf("[fd00::1]:4647"), hostOf("10.0.0.1")], ["10.0.0.1", "fd00::1", "10.0.0.1"]);
    });

    it("waits until both Nomad and Consul agree in one round, pausing between rounds", async () => {
        const script: Record<string, HealthResponse[]> = {
            Nomad: [WITHOUT_NEW, NOT_YET_VOTER, WHOLE, WHOLE],
            Consul: [WITHOUT_NEW, OLD_STILL_LISTED, OLD_STILL_LISTED, WHOLE],
        };
        const calls: string[] = [];
        const pauses: number[] = [];
        const systems: RaftSystem[] = [{ name: "Nomad", address: "https://ops:4646" }, { name: "Consul", address: "https://ops:8501" }];
        await waitForServerInRaft({ serverIp: IP, systems, attempts: 10, delayMs: 321 }, async (s) => {
            calls.push(s.name);
            return script[s.name].shift()!;
        }, async (ms) => { pauses.push(ms); });
        assert.strictEqual(calls.length, 8);
        assert.deepStrictEqual(pauses, [321, 321, 321]);
    });

    it("gives up after the last round naming the server and what is still wrong, or at once on an untrusted certificate", async () => {
        const systems: RaftSystem[] = [{ name: "Nomad", address: "https://ops:4646" }, { name: "Consul", address: "https://ops:8501" }];
        await assert.rejects(waitForServerInRaft({ serverIp: IP, systems, attempts: 3, delayMs: 0 },
            async (s) => (s.name === "Nomad" ? WHOLE : OLD_STILL_LISTED), async () => undefined), (err: Error) => {
            assert.match(err.message, /^ServerRollGate: server 10\.40\.1\.23 is not a healthy voter in a healthy Nomad and Consul cluster after 3 attempts 0 ms apart; the next server is left alone\. Last: Consul .*10\.40\.1\.10:4647 failed/);
            assert.ok(!err.message.includes("Nomad (GET"), "Nomad was fine");
            return true;
        });
        let calls = 0;
        await assert.rejects(waitForServerInRaft({ serverIp: IP, systems, attempts: 50, delayMs: 0 }, async () => {
            calls++;
            throw Object.assign(new Error("TLS: certificate not trusted"), { permanent: true });
        }), /^Error: ServerRollGate: refusing Nomad at https:\/\/ops:4646: TLS: certificate not trusted/);
        assert.strictEqual(calls, 1);
        await assert.rejects(waitForServerInRaft({ serverIp: IP, systems, attempts: 0, delayMs: 0 }, async () => WHOLE), /attempts must be a whole number/);
        assert.throws(() => new ServerRollGate("g", { serverName: "s", serverId: "i", serverIp: IP, instanceType: "t", nomadAddress: "a", consulAddress: "b",
            caPem: "c", nomadToken: "n", consulToken: "k", delayMs: -1 }), /delayMs must be a number >= 0, got -1/);
    });
});

const NOMAD_TOKEN = "nomad-mgmt-2f0a1c";
const CONSUL_TOKEN = "consul-mgmt-7b3e9d";

/** HTTPS stand-in answering autopilot health from a script per token header; records requests. */
async function autopilotStandIn(pki: LoopbackPki, scripts: { nomad: HealthResponse[]; consul: HealthResponse[] }) {
    const requests: string[] = [];
    const server = https.createServer({ cert: pki.cert, key: pki.key }, (req, res) => {
        const nomad = req.headers["x-nomad-token"];
        const consul = req.headers["x-consul-token"];
        requests.push(`${req.method} ${req.url} nomad=${nomad ?? "none"} consul=${consul ?? "none"}`);
        const script = nomad === NOMAD_TOKEN ? scripts.nomad : consul === CONSUL_TOKEN ? scripts.consul : undefined;
        const answer = req.url !== "/v1/operator/autopilot/health" || script === undefined
            ? { status: 403, body: "Permission denied" }
            : script.length > 1 ? script.shift()! : script[0];
        res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { address, requests, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

describe("ServerRollGate provider (serialized, against a stand-in on 127.0.0.1)", () => {
    let pki: LoopbackPki;
    before(() => { pki = makeLoopbackPki("server-roll"); });
    after(() => pki.remove());

    async function serializedProvider(): Promise<any> {
        const run = await evaluateStack("unit", () => {
            new ServerRollGate("gate", { serverName: "s-0", serverId: "i-1", serverIp: IP, instanceType: "t4g.medium",
                nomadAddress: "https://ops:4646", consulAddress: "https://ops:8501", caPem: "CA", nomadToken: NOMAD_TOKEN, consulToken: CONSUL_TOKEN });
            return {};
        });
        const gate = run.resources.find((r) => r.name === "gate")!;
        assert.strictEqual(gate.type, GATE);
        const file = path.join(pki.dir, "provider.js");
        fs.writeFileSync(file, gate.inputs.__provider as string);
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        return require(file).handler();
    }

    it("creates without asking (a first up has no quorum yet), and on a replaced server waits for both Raft clusters", async () => {
        const provider = await serializedProvider();
        const standIn = await autopilotStandIn(pki, { nomad: [WITHOUT_NEW, NOT_YET_VOTER, WHOLE], consul: [OLD_STILL_LISTED, WHOLE] });
        try {
            const props = { serverName: "s-0", serverId: "i-1", serverIp: IP, instanceType: "t4g.medium", nomadAddress: standIn.address,
                consulAddress: standIn.address, caPem: pki.caPem, nomadToken: NOMAD_TOKEN, consulToken: CONSUL_TOKEN, attempts: 5, delayMs: 5, requestTimeoutMs: 5000 };
            const created = await provider.create({ __provider: "code", ...props });
            assert.deepStrictEqual(created, { id: "s-0", outs: props });
            assert.deepStrictEqual(standIn.requests, [], "create sends nothing");

            assert.deepStrictEqual(await provider.diff("s-0", props, { ...props, __provider: "other code" }), { changes: false, replaces: [], deleteBeforeReplace: false });
            for (const key of ["serverId", "serverIp", "instanceType", "nomadToken"]) {
                assert.deepStrictEqual(await provider.diff("s-0", props, { ...props, [key]: "changed" }), { changes: true, replaces: [], deleteBeforeReplace: false }, key);
            }
            const news = { ...props, serverId: "i-2" };
            assert.deepStrictEqual(await provider.update("s-0", props, { __provider: "code", ...news }), { outs: news });
            const path = "GET /v1/operator/autopilot/health";
            assert.deepStrictEqual(standIn.requests, [
                `${path} nomad=${NOMAD_TOKEN} consul=none`, `${path} nomad=none consul=${CONSUL_TOKEN}`,
                `${path} nomad=${NOMAD_TOKEN} consul=none`, `${path} nomad=none consul=${CONSUL_TOKEN}`,
                `${path} nomad=${NOMAD_TOKEN} consul=none`, `${path} nomad=none consul=${CONSUL_TOKEN}`,
            ], "each token only in its own header, three rounds");
        } finally {
            await standIn.close();
        }
    });

    it("fails bounded naming the server and never the tokens; refuses a server the CA did not sign at once", async () => {
        const provider = await serializedProvider();
        const standIn = await autopilotStandIn(pki, { nomad: [WHOLE], consul: [WITHOUT_NEW] });
        try {
            const props = { serverName: "s-1", serverId: "i-9", serverIp: IP, instanceType: "t4g.medium", nomadAddress: standIn.address,
                consulAddress: standIn.address, caPem: pki.caPem, nomadToken: NOMAD_TOKEN, consulToken: CONSUL_TOKEN, attempts: 3, delayMs: 1, requestTimeoutMs: 5000 };
            const started = Date.now();
            await assert.rejects(provider.update("s-1", props, props), (err: Error) => {
                assert.match(err.message, /server 10\.40\.1\.23 is not a healthy voter .* after 3 attempts 1 ms apart; .*Consul .*not in the Raft configuration yet/);
                assert.ok(!err.message.includes(NOMAD_TOKEN) && !err.message.includes(CONSUL_TOKEN));
                return true;
            });
            assert.ok(Date.now() - started < 5000);
            assert.strictEqual(standIn.requests.length, 6);
            await assert.rejects(provider.update("s-1", props, { ...props, nomadToken: "wrong" }), /Nomad \(GET \/v1\/operator\/autopilot\/health\): HTTP 403/);
            const before = standIn.requests.length;
            await assert.rejects(provider.update("s-1", props, { ...props, caPem: pki.otherCaPem, attempts: 50 }),
                /ServerRollGate: refusing Nomad at https:\/\/127\.0\.0\.1:\d+: TLS: certificate not trusted with the given CA/);
            assert.strictEqual(standIn.requests.length, before, "nothing reached the untrusted server");
        } finally {
            await standIn.close();
        }
    });
});
