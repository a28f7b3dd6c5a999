/**
 * The "wait for a leader" gate: the polling on its own, the HTTPS fetch against a real server on
 * 127.0.0.1 with certificates made here by openssl, and the dynamic provider exactly as Pulumi
 * serializes it, run against that server.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as https from "https";
import { AddressInfo } from "net";
import * as path from "path";
import {
    FetchLeader, LEADER_WAIT_DEFAULTS, LeaderResponse, NomadLeader, httpsFetchLeader, httpsFetchTokenSelf, readLeader, readTokenSelf, waitForLeader,
    waitForNomadReady,
} from "../../components/nomad/leader";
import { LoopbackPki, makeLoopbackPki } from "../aws/loopback-pki";
import { evaluateStack, isSecretInput } from "../harness/mocks";
import { shippedStack } from "../harness/shipped-stacks";

const ADDRESS = "https://nomad.example:4646";
const noSleep = async () => undefined;

/** A fetch that answers from a script: a response, or an Error to throw. */
function scripted(steps: (LeaderResponse | Error)[]): FetchLeader & { calls: string[] } {
    const calls: string[] = [];
    const fetch = async (address: string) => {
        calls.push(address);
        const step = steps[Math.min(calls.length - 1, steps.length - 1)];
        if (step instanceof Error) {
            throw step;
        }
        return step;
    };
    return Object.assign(fetch, { calls });
}

const ok = (leader: string): LeaderResponse => ({ status: 200, body: JSON.stringify(leader) });

describe("NomadLeader polling", () => {
    it("reads a quoted ip:port as the leader and \"\" as no leader", () => {
        assert.deepStrictEqual(readLeader(ok("10.0.1.10:4647")), { leader: "10.0.1.10:4647", problem: "" });
        assert.match(readLeader(ok("")).problem, /no leader elected yet/);
        assert.strictEqual(readLeader(ok("")).leader, undefined);
        assert.match(readLeader({ status: 500, body: "No cluster leader" }).problem, /^HTTP 500: No cluster leader$/);
        assert.match(readLeader({ status: 200, body: "<html>" }).problem, /not JSON/);
        assert.match(readLeader({ status: 200, body: "[\"10.0.1.10:4647\"]" }).problem, /unexpected leader value/);
    });

    it("succeeds after failures, pausing the configured delay between attempts", async () => {
        const fetch = scripted([new Error("ECONNREFUSED"), { status: 500, body: "No cluster leader" }, ok(""), ok("10.0.2.10:4647")]);
        const pauses: number[] = [];
        const leader = await waitForLeader({ address: ADDRESS, attempts: 10, delayMs: 1234 }, fetch, async (ms) => { pauses.push(ms); });
        assert.strictEqual(leader, "10.0.2.10:4647");
        assert.deepStrictEqual(fetch.calls, [ADDRESS, ADDRESS, ADDRESS, ADDRESS]);
        assert.deepStrictEqual(pauses, [1234, 1234, 1234]);
    });

    it("times out with an error naming the address, the attempts and the last error", async () => {
        const fetch = scripted([new Error("ECONNREFUSED"), ok("")]);
        await assert.rejects(waitForLeader({ address: ADDRESS, attempts: 3, delayMs: 5 }, fetch, noSleep), (err: Error) => {
            assert.strictEqual(err.message, `NomadLeader: no Nomad leader at ${ADDRESS} after 3 attempts 5 ms apart; ` +
                'last error: no leader elected yet (leader is "")');
            return true;
        });
        assert.strictEqual(fetch.calls.length, 3);
    });

    it("names the last HTTP status when the servers keep answering with an error", async () => {
        const fetch = scripted([{ status: 500, body: "No cluster leader\n" }]);
        await assert.rejects(waitForLeader({ address: ADDRESS, attempts: 2, delayMs: 0 }, fetch, noSleep),
            /after 2 attempts 0 ms apart; last error: HTTP 500: No cluster leader$/);
    });

    it("stops at once on a permanent error (an untrusted certificate)", async () => {
        const fetch = scripted([Object.assign(new Error("TLS: certificate not trusted"), { permanent: true })]);
        await assert.rejects(waitForLeader({ address: ADDRESS, attempts: 60, delayMs: 0 }, fetch, noSleep),
            /^Error: NomadLeader: refusing https:\/\/nomad\.example:4646 after 1 attempt\(s\): TLS: certificate not trusted$/);
        assert.strictEqual(fetch.calls.length, 1);
    });

    it("refuses nonsense settings", async () => {
        await assert.rejects(waitForLeader({ address: ADDRESS, attempts: 0, delayMs: 0 }, scripted([ok("a:1")]), noSleep), /attempts must be/);
        assert.throws(() => new NomadLeader("g", { address: ADDRESS, caPem: "CA", attempts: 1.5 }), /attempts must be a whole number/);
        assert.throws(() => new NomadLeader("g", { address: ADDRESS, caPem: "CA", delayMs: -1 }), /delayMs must be a number >= 0/);
    });
});

/** A stand-in Nomad server on 127.0.0.1 whose /v1/status/leader answers from a script. */
async function leaderServer(cert: string, key: string, answers: LeaderResponse[], selfAnswers: LeaderResponse[] = []): Promise<{ address: string; requests: string[]; close: () => Promise<void> }> {
    const requests: string[] = [];
    let leaderCalls = 0;
    let selfCalls = 0;
    const server = https.createServer({ cert, key }, (req, res) => {
        requests.push(`${req.method} ${req.url} token=${req.headers["x-nomad-token"] ?? "none"}`);
        const answer = req.url === "/v1/acl/token/self"
            ? (req.headers["x-nomad-token"] === TOKEN ? selfAnswers[Math.min(selfCalls++, selfAnswers.length - 1)] : { status: 403, body: "Permission denied" })
            : answers[Math.min(leaderCalls++, answers.length - 1)];
        res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        address: `https://127.0.0.1:${port}`,
        requests,
        close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
}

const TOKEN = "6a1f0c57-secret-management-token";
const management: LeaderResponse = { status: 200, body: JSON.stringify({ AccessorID: "a", Type: "management", Name: "Bootstrap Token" }) };
const notBootstrapped: LeaderResponse = { status: 403, body: "ACL token not found" };

describe("NomadLeader ACL gate", () => {
    it("reads token-self: 200 with a management token is ready, anything else names the problem", () => {
        assert.deepStrictEqual(readTokenSelf(management), { ok: true, problem: "" });
        assert.match(readTokenSelf(notBootstrapped).problem, /^ACLs not ready for the management token \(GET \/v1\/acl\/token\/self: HTTP 403: ACL token not found\)$/);
        assert.match(readTokenSelf({ status: 200, body: JSON.stringify({ Type: "client" }) }).problem, /type "client", not "management"/);
        assert.match(readTokenSelf({ status: 400, body: "ACL support disabled" }).problem, /HTTP 400: ACL support disabled/);
    });

    it("waits past the leader until the ACL system accepts the token, asking for the leader only until there is one", async () => {
        const leader = scripted([ok(""), ok("10.0.1.10:4647")]);
        const self = scripted([notBootstrapped, notBootstrapped, management]);
        const result = await waitForNomadReady({ address: ADDRESS, attempts: 10, delayMs: 0 }, leader, self, noSleep);
        assert.strictEqual(result, "10.0.1.10:4647");
        assert.strictEqual(leader.calls.length, 2);
        assert.strictEqual(self.calls.length, 3);
    });

    it("times out naming the leader it found and what it waited for, never the token", async () => {
        await assert.rejects(waitForNomadReady({ address: ADDRESS, attempts: 4, delayMs: 7 }, scripted([ok("10.0.1.10:4647")]), scripted([notBootstrapped]), noSleep),
            (err: Error) => {
                assert.strictEqual(err.message, `NomadLeader: a Nomad leader (10.0.1.10:4647) but no bootstrapped ACL system accepting the management token at ${ADDRESS} ` +
                    "after 4 attempts 7 ms apart; last error: ACLs not ready for the management token (GET /v1/acl/token/self: HTTP 403: ACL token not found)");
                assert.ok(!err.message.includes(TOKEN));
                return true;
            });
    });
});

describe("NomadLeader over HTTPS (server on 127.0.0.1)", () => {
    let pki: LoopbackPki;
    before(() => { pki = makeLoopbackPki("nomad-leader"); });
    after(() => pki.remove());

    it("waits through \"\" and an error status, then returns the leader, trusting the given CA", async () => {
        const server = await leaderServer(pki.cert, pki.key, [ok(""), { status: 500, body: "No cluster leader" }, ok("10.0.1.10:4647")]);
        try {
            const leader = await waitForLeader({ address: server.address, attempts: 5, delayMs: 10 },
                (address) => httpsFetchLeader(address, pki.caPem, 5000));
            assert.strictEqual(leader, "10.0.1.10:4647");
            assert.deepStrictEqual(server.requests, Array(3).fill("GET /v1/status/leader token=none"));
        } finally {
            await server.close();
        }
    });

    it("sends the token only as X-Nomad-Token to /v1/acl/token/self and waits for the bootstrap", async () => {
        const server = await leaderServer(pki.cert, pki.key, [ok("10.0.1.10:4647")], [notBootstrapped, management]);
        try {
            const leader = await waitForNomadReady({ address: server.address, attempts: 5, delayMs: 10 },
                (address) => httpsFetchLeader(address, pki.caPem, 5000), (address) => httpsFetchTokenSelf(address, pki.caPem, 5000, TOKEN));
            assert.strictEqual(leader, "10.0.1.10:4647");
            assert.deepStrictEqual(server.requests, ["GET /v1/status/leader token=none",
                `GET /v1/acl/token/self token=${TOKEN}`, `GET /v1/acl/token/self token=${TOKEN}`]);
        } finally {
            await server.close();
        }
    });

    it("refuses a server whose certificate is not from the given CA, at once", async () => {
        const server = await leaderServer(pki.cert, pki.key, [ok("10.0.1.10:4647")]);
        try {
            await assert.rejects(waitForLeader({ address: server.address, attempts: 60, delayMs: 10_000 },
                (address) => httpsFetchLeader(address, pki.otherCaPem, 5000)),
            (err: Error) => {
                assert.match(err.message, /^NomadLeader: refusing https:\/\/127\.0\.0\.1:\d+ after 1 attempt\(s\): TLS: certificate not trusted with the given CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
                return true;
            });
            assert.deepStrictEqual(server.requests, [], "no request reached the untrusted server");
        } finally {
            await server.close();
        }
    });

    it("refuses a self-signed server certificate as permanent", async () => {
        const server = await leaderServer(pki.selfSignedCert, pki.selfSignedKey, [ok("10.0.1.10:4647")]);
        try {
            await assert.rejects(httpsFetchLeader(server.address, pki.caPem, 5000), (err: Error & { permanent?: boolean }) => {
                assert.match(err.message, /certificate not trusted with the given CA \(DEPTH_ZERO_SELF_SIGNED_CERT/);
                assert.strictEqual(err.permanent, true);
                return true;
            });
        } finally {
            await server.close();
        }
    });

    it("treats a closed port as not yet up and reports it after the last attempt", async () => {
        const server = await leaderServer(pki.cert, pki.key, [ok("")]);
        const address = server.address;
        await server.close();
        await assert.rejects(waitForLeader({ address, attempts: 2, delayMs: 1 }, (a) => httpsFetchLeader(a, pki.caPem, 2000)),
            new RegExp(`^Error: NomadLeader: no Nomad leader at ${address.replace(/\./g, "\\.")} after 2 attempts 1 ms apart; last error: connect ECONNREFUSED`));
    });

    it("refuses an http:// address without sending anything", async () => {
        await assert.rejects(httpsFetchLeader("http://127.0.0.1:4646", pki.caPem, 1000), /address must use https/);
    });

    it("the serialized dynamic provider polls the real server and diffs on its inputs only", async () => {
        const run = await evaluateStack("unit", () => {
            new NomadLeader("gate", { address: "https://placeholder:4646", caPem: "CA", triggers: ["i-1"] });
            return {};
        });
        const gate = run.resources.find((r) => r.name === "gate")!;
        assert.strictEqual(gate.type, "pulumi-nodejs:dynamic/nomad:NomadLeader");
        const { __provider: code, ...inputs } = gate.inputs;
        assert.deepStrictEqual(inputs, {
            address: "https://placeholder:4646", caPem: "CA", triggers: ["i-1"], attempts: LEADER_WAIT_DEFAULTS.attempts,
            delayMs: LEADER_WAIT_DEFAULTS.delayMs, requestTimeoutMs: LEADER_WAIT_DEFAULTS.requestTimeoutMs,
        });
        assert.strictEqual(typeof code, "string");
        const file = path.join(pki.dir, "provider.js");
        fs.writeFileSync(file, code as string);
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const provider = require(file).handler();

        const server = await leaderServer(pki.cert, pki.key, [ok(""), ok("10.0.3.10:4647")]);
        try {
            const props = { __provider: code, address: server.address, caPem: pki.caPem, attempts: 3, delayMs: 5, requestTimeoutMs: 5000, triggers: ["i-1"] };
            const created = await provider.create(props);
            assert.strictEqual(created.id, server.address);
            assert.strictEqual(created.outs.leader, "10.0.3.10:4647");
            assert.strictEqual(created.outs.__provider, undefined);
            assert.deepStrictEqual(await provider.diff(created.id, props, { ...props, __provider: "changed code" }), { changes: false });
            assert.deepStrictEqual(await provider.diff(created.id, props, { ...props, triggers: ["i-2"] }), { changes: true });
            const updated = await provider.update(created.id, props, { ...props, triggers: ["i-2"] });
            assert.strictEqual(updated.outs.leader, "10.0.3.10:4647");
            await assert.rejects(provider.create({ ...props, caPem: pki.otherCaPem }), /refusing .* certificate not trusted/);
        } finally {
            await server.close();
        }
        const gated = await leaderServer(pki.cert, pki.key, [ok("10.0.3.10:4647")], [notBootstrapped, notBootstrapped, management]);
        try {
            const props = { __provider: code, address: gated.address, caPem: pki.caPem, token: TOKEN, attempts: 2, delayMs: 5, requestTimeoutMs: 5000, triggers: [] };
            await assert.rejects(provider.create(props), (err: Error) => /no bootstrapped ACL system/.test(err.message) && !err.message.includes(TOKEN));
            const created = await provider.create({ ...props, attempts: 5 });
            assert.strictEqual(created.outs.leader, "10.0.3.10:4647");
            assert.deepStrictEqual(await provider.diff(created.id, props, { ...props, token: "other" }), { changes: true });
        } finally {
            await gated.close();
        }
    });

    it("keeps the token a secret input of the gate", async () => {
        const run = await evaluateStack("unit", () => {
            new NomadLeader("gate", { address: "https://placeholder:4646", caPem: "CA", token: TOKEN });
            return {};
        });
        const gate = run.resources.find((r) => r.name === "gate")!;
        assert.ok(isSecretInput(gate.inputs.token), "the token is a secret input");
        assert.strictEqual((gate.inputs.token as { value: string }).value, TOKEN);
    });

    it("is handed the management token on AWS, so jobs wait for the ACL bootstrap", async () => {
        const run = await shippedStack("dev", { exampleApp: false });
        const gate = run.resources.find((r) => r.name === "spin-cloud-nomad-leader")!;
        assert.ok(isSecretInput(gate.inputs.token), "the token is a secret input");
        const nomadToken = run.resources.find((r) => r.name === "spin-cloud-secrets-nomad-management-token")!;
        assert.strictEqual((gate.inputs.token as { value: string }).value, nomadToken.state.result);
    });
});
