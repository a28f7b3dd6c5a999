/**
 * Issue 10 point 3: the local target's rendered agent configuration starts a real Nomad (server +
 * client, ACLs on) with its data and volume paths as the local steps prepare them, the project's
 * ACL bootstrap runs against it, and every job the project renders passes the real
 * `PUT /v1/validate/job` and keeps every key it was sent once registered.
 */
import { strict as assert } from "assert";
import { statSync } from "fs";
import { bindleApiUrl, bindleJob, BindleJobInput } from "../../../provisioning/jobs/bindle-job";
import { NomadJob } from "../../../provisioning/jobs/nomad-api";
import { spinAppJob, SpinAppJobInput } from "../../../provisioning/jobs/spin-app-job";
import { traefikJob } from "../../../provisioning/jobs/traefik-job";
import { nomadAclCommand } from "../../../provisioning/local/commands";
import { Architecture } from "../../../provisioning/types";
import { keyPaths } from "../../harness/walk";
import { LocalNomad, NOMAD_BINARY, runStep } from "../harness/nomad-agent";
import { itWith } from "../harness/runtime";

const ARCHITECTURES: readonly Architecture[] = ["arm64", "x86_64"];
const SHA = { manifest: "a".repeat(64), wasm: "b".repeat(64) };

/**
 * Keys of the rendered jobs that Nomad 1.6.3 does not know (its JSON decoder drops them silently,
 * so they are found by registering the job and reading it back). Each names the version that
 * added it. Empty: every key the project renders is one 1.6.3 keeps.
 */
const NEWER_THAN_163: readonly RegExp[] = [];

/** Every job the project renders, for the local target and for AWS. */
function renderedJobs(nomad: LocalNomad): [string, NomadJob][] {
    const { node } = nomad;
    const bindleLocal: BindleJobInput["runtime"] = {
        driver: "raw_exec", bindleServerBinary: node.binaries.bindleServer, port: node.ports.bindle, dataDir: node.layout.bindleData,
    };
    const app = (architecture: Architecture, local: boolean): SpinAppJobInput => ({
        name: "hello",
        datacenters: [node.datacenter],
        architecture,
        instances: local ? 1 : 2,
        resources: { cpuMhz: 100, memoryMb: 128 },
        env: { RUST_LOG: "spin=info" },
        variables: { values: { greeting: "hi" }, secrets: ["api_token"] },
        bindle: {
            baseUrl: local ? bindleApiUrl(bindleLocal) : bindleApiUrl(),
            bindleId: "hello/1.0.0-sha-0123456789abcdef",
            parcels: [{ path: "target/hello.wasm", sha256: SHA.wasm }, { path: "spin.toml", sha256: SHA.manifest }],
        },
        routing: local ? { kind: "pathPrefix", prefix: "/hello" } : { kind: "hosts", hosts: ["hello.apps.example.com"] },
        ...(local ? { runtime: { driver: "raw_exec", spinBinary: node.binaries.spin } as const } : {}),
    });
    return ARCHITECTURES.flatMap((architecture): [string, NomadJob][] => [
        [`local traefik ${architecture}`, traefikJob({ datacenters: [node.datacenter], architecture,
            runtime: { driver: "raw_exec", traefikBinary: node.binaries.traefik, ports: node.ports } })],
        [`aws traefik ${architecture}`, traefikJob({ datacenters: ["dc1"], architecture, vpcCidr: "10.40.0.0/16" })],
        [`local bindle ${architecture}`, bindleJob({ datacenters: [node.datacenter], architecture, runtime: bindleLocal })],
        [`aws bindle ${architecture}`, bindleJob({ datacenters: ["dc1"], architecture })],
        [`local app ${architecture}`, spinAppJob(app(architecture, true))],
        [`aws app ${architecture}`, spinAppJob(app(architecture, false))],
        [`aws app by path ${architecture}`, spinAppJob({ ...app(architecture, false), routing: { kind: "pathPrefix", prefix: "/hello" } })],
    ]);
}

describe("real Nomad 1.6.3: the local agent configuration, ACL bootstrap and every rendered job", function () {
    let nomad: LocalNomad | undefined;

    before(async function () {
        if (process.platform !== "linux") this.skip();
        try { nomad = await LocalNomad.up("nomad-agent"); } catch (e) { nomad?.cleanup(); throw e; }
    });
    after(() => nomad?.cleanup());

    itWith([NOMAD_BINARY], "starts server + client from the rendered config, with the data and volume dirs the state step made", async () => {
        const n = nomad!;
        const health = JSON.parse((await n.api("GET", "/v1/agent/health")).body);
        assert.equal(health.server.ok, true);
        assert.equal(health.client.ok, true);
        const [node] = JSON.parse((await n.api("GET", "/v1/nodes")).body);
        const detail = JSON.parse((await n.api("GET", `/v1/node/${node.ID}`)).body);
        assert.equal(detail.NodeClass, "spin");
        assert.equal(detail.HostVolumes["bindle-data"].Path, n.layout.bindleData);
        assert.equal(detail.Drivers.raw_exec.Healthy, true);
        assert.equal(detail.Drivers.docker, undefined, "only raw_exec is allowed");
        assert.equal(detail.Attributes["unique.network.ip-address"], "127.0.0.1", "the client fingerprints the loopback");
        assert.ok(statSync(n.layout.nomad.dataDir).isDirectory());
    });

    itWith([NOMAD_BINARY], "has ACLs on: anonymous requests are refused, the bootstrapped management token works, a rerun is a no-op", async () => {
        const n = nomad!;
        assert.equal((await n.api("GET", "/v1/acl/tokens", undefined, null)).status, 403);
        assert.equal((await n.api("PUT", "/v1/validate/job", { Job: renderedJobs(n)[0][1] }, null)).status, 403);
        const self = JSON.parse((await n.api("GET", "/v1/acl/token/self")).body);
        assert.equal(self.Type, "management");
        assert.equal(self.SecretID, n.token);
        const again = runStep(nomadAclCommand(n.node.binaries.nomad), n.env);
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stdout, /already bootstrapped/);
        const other = runStep(nomadAclCommand(n.node.binaries.nomad), { ...n.env, SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN: "00000000-0000-4000-8000-000000000000" });
        assert.notEqual(other.status, 0);
        assert.match(other.stderr, /bootstrapped with another token/);
    });

    itWith([NOMAD_BINARY], "validates every rendered job (local and AWS, both architectures) and keeps every key once registered", async () => {
        const n = nomad!;
        const jobs = renderedJobs(n);
        assert.equal(jobs.length, 14);
        for (const [title, job] of jobs) {
            const validated = await n.api("PUT", "/v1/validate/job", { Job: job });
            assert.equal(validated.status, 200, `${title}: ${validated.body}`);
            const result = JSON.parse(validated.body);
            assert.deepEqual([result.Error ?? "", result.ValidationErrors ?? []], ["", []], `${title}: ${validated.body}`);

            // Registered where no client is (so nothing runs), read back, purged.
            const parked = { ...job, ID: `validate-${jobs.findIndex(([t]) => t === title)}`, Datacenters: ["nowhere"] };
            const registered = await n.api("PUT", "/v1/jobs", { Job: parked });
            assert.equal(registered.status, 200, `${title}: ${registered.body}`);
            const back = JSON.parse((await n.api("GET", `/v1/job/${parked.ID}`)).body);
            const kept = new Set(keyPaths(back));
            const dropped = keyPaths(parked).filter((p) => !kept.has(p) && !NEWER_THAN_163.some((r) => r.test(p)));
            assert.deepEqual(dropped, [], `${title}: keys Nomad 1.6.3 dropped`);
            assert.equal((await n.api("DELETE", `/v1/job/${parked.ID}?purge=true`)).status, 200);
        }
    });
});
