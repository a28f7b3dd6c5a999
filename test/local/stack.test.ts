/**
 * The local target under mocks: every stack with `spin-cloud:target: local` evaluates; what it
 * would run on the machine (commands), the files it writes, the jobs and outputs are checked,
 * every command passes shellcheck, and bad local settings stop before anything is registered.
 */
import * as assert from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { NomadAccess, nomadResourceOptions } from "../../components/platform/nomad-access";
import { SpinApp } from "../../components/apps/spin-app";
import { spinCloudProgram } from "../../components/program";
import { LOCAL_CONSUL_POLICIES } from "../../components/local/local-agents";
import { localLayout } from "../../provisioning/local/node";
import { localPorts } from "../../provisioning/loopback";
import { renderLocalConsulAgentConfig, renderLocalNomadAgentConfig } from "../../provisioning/local/agent-config";
import {
    FILE_CONTENT_ENV, agentStartCommand, consulAgentSpec, consulTokenEnv, installCommand, nomadAgentSpec, nomadStopJobsCommand, preflightCommand, stateDirCommands,
} from "../../provisioning/local/commands";
import { LOCAL_PRODUCTS, hostPlatform, installArgs, localBinaries } from "../../provisioning/local/releases";
import { MockRun, evaluateStack, isSecretInput, lastRegistered, ofType, unwrapSecrets } from "../harness/mocks";
import { assertValidNomadJob } from "../harness/nomad-job-schema";
import { ROOT, shippedStacks, stackTarget } from "../harness/stack-config";
import { shellcheckSources } from "../harness/validators";
import { strings } from "../harness/walk";

const LOCAL_STACKS = shippedStacks().filter((s) => stackTarget(s) === "local");
const DIRS = { localStateDir: "/home/u/.spin-cloud/local", localCacheDir: "/home/u/.cache/spin-cloud" };
const COMMAND = "command:local:Command";

const runs = new Map<string, MockRun>();
async function run(stack: string): Promise<MockRun> {
    if (!runs.has(stack)) runs.set(stack, await evaluateStack(stack, spinCloudProgram, { config: DIRS }));
    return runs.get(stack)!;
}
const step = (r: MockRun, name: string) => {
    const found = ofType(r, COMMAND).find((c) => c.name === `spin-cloud-agents-${name}`);
    assert.ok(found, `command ${name} is registered`);
    return found!;
};

describe("local target", () => {
    it("ships a local stack", () => assert.deepStrictEqual(LOCAL_STACKS, ["local"]));

    for (const stack of LOCAL_STACKS) {
        describe(`stack ${stack}`, () => {
            const ports = localPorts(10000);
            const layout = localLayout(DIRS.localStateDir);
            const binaries = localBinaries(DIRS.localCacheDir);

            it("registers no AWS resource at all", async () => {
                const r = await run(stack);
                assert.deepStrictEqual(r.resources.filter((x) => x.type.startsWith("aws:")).map((x) => x.type), []);
            });

            it("checks the machine first, then installs every binary verified, for this machine", async () => {
                const r = await run(stack);
                assert.strictEqual(step(r, "preflight").inputs.create, preflightCommand(ports));
                for (const product of LOCAL_PRODUCTS) {
                    assert.strictEqual(step(r, `install-${product}`).inputs.create,
                        installCommand(installArgs(product, hostPlatform(), DIRS.localCacheDir)));
                }
            });

            it("writes the renderers' agent configs, and the secret fragments 0600 from secret inputs", async () => {
                const r = await run(stack);
                const content = (name: string) => step(r, `file-${name}`).inputs.environment as Record<string, unknown>;
                const node = {
                    role: "local", architecture: hostPlatform().arch === "amd64" ? "x86_64" : "arm64", clusterName: `spin-cloud-${stack}`,
                    nomadRegion: "global", datacenter: "dc1", nodeClass: "spin", ports, layout, binaries,
                } as const;
                assert.strictEqual(content("consul-config")[FILE_CONTENT_ENV], renderLocalConsulAgentConfig(node));
                assert.strictEqual(content("nomad-config")[FILE_CONTENT_ENV], renderLocalNomadAgentConfig(node));
                assert.match(String(content("nomad-config")[FILE_CONTENT_ENV]), new RegExp(`"http": ${ports.nomadHttp}`));
                // A secret value inside makes the whole environment map a secret.
                for (const secret of ["consul-secrets", "nomad-secrets"]) {
                    assert.ok(isSecretInput(content(secret)), `${secret} content is a secret`);
                    assert.match(String(step(r, `file-${secret}`).inputs.create), /umask 077; .*'chmod' '0600'/);
                }
                assert.ok(!isSecretInput(content("consul-config")) && !isSecretInput(content("nomad-config")));
                const secretEnv = (name: string) => unwrapSecrets(content(name)) as Record<string, string>;
                const consulSecrets = JSON.parse(secretEnv("consul-secrets")[FILE_CONTENT_ENV]);
                assert.deepStrictEqual(Object.keys(consulSecrets.acl.tokens).sort(), ["agent", "initial_management"]);
                for (const policy of LOCAL_CONSUL_POLICIES) {
                    assert.ok(JSON.parse(String(content(`consul-policy-${policy}`)[FILE_CONTENT_ENV])), `${policy} rules are JSON`);
                }
            });

            it("starts Consul then Nomad as background agents, waits on their APIs, stops them on destroy", async () => {
                const r = await run(stack);
                const consul = consulAgentSpec(binaries.consul, layout.consul.configDir, layout.root, ports);
                assert.strictEqual(step(r, "consul").inputs.create, agentStartCommand(consul));
                assert.match(String(step(r, "consul").inputs.delete), /local-agent\.sh' 'stop' '--name' 'consul'/);
                const nomad = nomadAgentSpec(binaries.nomad, layout.nomad.configDir, layout.root, ports);
                assert.strictEqual(step(r, "nomad").inputs.create, agentStartCommand(nomad));
                assert.match(nomad.healthUrl, /^http:\/\/127\.0\.0\.1:14646\//);
                const state = stateDirCommands(layout.root, [layout.consul.dataDir, layout.nomad.dataDir, layout.bindleData]);
                assert.deepStrictEqual(step(r, "state").inputs.delete, state.delete);
                // Bindle's host volume must exist before Nomad's client starts.
                assert.strictEqual(step(r, "state").inputs.create, state.create);
                assert.match(state.create, new RegExp(`'mkdir' '-p' '${layout.root}' .*'${layout.bindleData}'`));
            });

            it("stops every job and waits for them on destroy, before Nomad stops; nothing on create", async () => {
                const r = await run(stack);
                const jobs = step(r, "nomad-jobs");
                assert.strictEqual(jobs.inputs.delete, nomadStopJobsCommand(binaries.nomad));
                assert.strictEqual(jobs.inputs.create, undefined);
                assert.strictEqual(jobs.inputs.triggers, undefined, "not replaced with the agent: a restart stops no job");
                assert.ok(isSecretInput(jobs.inputs.environment));
                const env = unwrapSecrets(jobs.inputs.environment) as Record<string, string>;
                assert.strictEqual(env.NOMAD_ADDR, `http://127.0.0.1:${ports.nomadHttp}`);
                assert.ok(r.secretValues.includes(env.SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN));
            });

            it("hands every token to the ACL steps as secrets, and to Nomad's provider over loopback", async () => {
                const r = await run(stack);
                const consulEnv = step(r, "consul-acl").inputs.environment;
                assert.ok(isSecretInput(consulEnv), "the tokens make the environment a secret");
                const env = unwrapSecrets(consulEnv) as Record<string, string>;
                assert.strictEqual(env.CONSUL_HTTP_ADDR, `http://127.0.0.1:${ports.consulHttp}`);
                assert.deepStrictEqual(Object.keys(env).sort(), ["CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN",
                    ...LOCAL_CONSUL_POLICIES.map(consulTokenEnv)].sort());
                for (const [key, value] of Object.entries(env).filter(([k]) => k !== "CONSUL_HTTP_ADDR")) {
                    assert.ok(r.secretValues.includes(value), `${key} is a generated token`);
                }
                assert.ok(isSecretInput(step(r, "nomad-acl").inputs.environment));
                const [provider] = ofType(r, "pulumi:providers:nomad");
                assert.strictEqual(provider.inputs.address, `http://127.0.0.1:${ports.nomadHttp}`);
                assert.ok(isSecretInput(provider.inputs.secretId));
            });

            it("runs Traefik, Bindle and the example app under raw_exec from the installed binaries, valid jobs", async () => {
                const r = await run(stack);
                const jobs = Object.fromEntries(ofType(r, "nomad:index/job:Job").map((j) => [j.name, JSON.parse(j.inputs.jobspec as string).Job]));
                assert.deepStrictEqual(Object.keys(jobs).sort(), ["hello", "spin-cloud-bindle", "spin-cloud-traefik"]);
                for (const [name, job] of Object.entries(jobs)) {
                    assertValidNomadJob(job, name);
                    for (const task of job.TaskGroups.flatMap((g: { Tasks: unknown[] }) => g.Tasks)) {
                        assert.strictEqual((task as { Driver: string }).Driver, "raw_exec", `${name} runs under raw_exec`);
                    }
                }
                // The main task of each job (the Bindle job's repair prestart runs /bin/sh first).
                const command = (name: string) => jobs[name].TaskGroups[0].Tasks.find((t: { Lifecycle?: unknown }) => !t.Lifecycle).Config.command;
                assert.strictEqual(command("spin-cloud-traefik"), binaries.traefik);
                assert.strictEqual(command("spin-cloud-bindle"), binaries.bindleServer);
                assert.strictEqual(command("hello"), binaries.spin);
                assert.strictEqual(jobs.hello.TaskGroups[0].Count, 1);
                assert.ok(jobs.hello.TaskGroups[0].Tasks[0].Artifacts.every((a: { GetterSource: string }) =>
                    a.GetterSource.startsWith(`http://127.0.0.1:${ports.bindle}/v1/_i/`)));
            });

            it("outputs every URL on 127.0.0.1 and the state directory; tokens only as secrets", async () => {
                const r = await run(stack);
                const o = r.outputs as Record<string, unknown>;
                assert.strictEqual((o.appUrls as Record<string, string>)["app-hello"], `http://127.0.0.1:${ports.traefikWeb}/hello/`);
                assert.deepStrictEqual(o.operatorUrls, {
                    nomad: `http://127.0.0.1:${ports.nomadHttp}/ui/`,
                    consul: `http://127.0.0.1:${ports.consulHttp}/ui/`,
                    traefik: `http://127.0.0.1:${ports.traefikDashboard}/dashboard/`,
                    bindle: `http://127.0.0.1:${ports.bindle}/v1`,
                });
                assert.strictEqual(o.stateDir, DIRS.localStateDir);
            });

            it("pushes the example app only after the Bindle job is registered", async () => {
                const r = await run(stack);
                const bindleJob = r.resources.findIndex((x) => x.type === "nomad:index/job:Job" && x.name === "spin-cloud-bindle");
                const push = r.resources.findIndex((x) => x.type.endsWith(":BindlePush"));
                assert.ok(bindleJob >= 0 && push > bindleJob, `bindle job at ${bindleJob}, push at ${push}`);
            });

            it("outputs the up that restarts exactly the two agent commands after a reboot", async () => {
                const r = await run(stack);
                const urn = (name: string) => step(r, name).urn;
                assert.strictEqual(r.outputs.restartCommand,
                    `pulumi up --stack ${stack} --replace '${urn("consul")}' --replace '${urn("nomad")}'`);
                assert.match(urn("consul"), /^urn:pulumi:local::spin-cloud::.*command:local:Command::spin-cloud-agents-consul$/);
            });

            it("puts no secret value in any non-secret input", async () => {
                const r = await run(stack);
                for (const resource of r.resources) {
                    for (const [path, text] of strings(resource.inputs, isSecretInput)) {
                        for (const secret of r.secretValues) {
                            assert.ok(!text.includes(secret), `${resource.type} ${resource.name} ${path} holds a secret`);
                        }
                    }
                }
            });

            it("runs only commands that pass shellcheck (as /bin/sh runs them)", async () => {
                const r = await run(stack);
                const sources = ofType(r, COMMAND).flatMap((c) => (["create", "delete"] as const)
                    .filter((k) => typeof c.inputs[k] === "string")
                    .map((k) => ({ name: `${c.name}-${k}.sh`, content: `#!/bin/sh\n${c.inputs[k]}\n` })));
                assert.ok(sources.length >= 20, `${sources.length} commands`);
                for (const [name, result] of shellcheckSources(sources, "sh")) {
                    assert.ok(result.ok, `${name}: ${result.output}`);
                }
            });

            it("evaluates to byte-identical resource inputs twice", async () => {
                const first = await run(stack);
                const second = await evaluateStack(stack, spinCloudProgram, { config: DIRS });
                const inputs = (x: MockRun) => JSON.stringify(x.resources.map((res) => [res.type, res.name, res.inputs])
                    .sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`)));
                assert.strictEqual(inputs(second), inputs(first));
            });
        });
    }
});

describe("Nomad resources of the local target go with the state step", () => {
    const fake = (n: string) => ({ n }) as unknown as pulumi.Resource;
    it("passes deletedWith only when the access has one, next to provider, parent and the leader gate", () => {
        const access = { provider: fake("provider"), leader: fake("leader") } as unknown as NomadAccess;
        const parent = fake("parent");
        const dep = fake("dep");
        assert.deepStrictEqual(nomadResourceOptions(access, parent, [dep]), { parent, provider: access.provider, dependsOn: [access.leader, dep] });
        const state = fake("state");
        assert.strictEqual(nomadResourceOptions({ ...access, deletedWith: state }, parent).deletedWith, state);
    });
});

describe("bad local config stops before anything is registered", () => {
    const cases: [string, Record<string, string>, RegExp][] = [
        ["local", { serverCount: "5" }, /spin-cloud:serverCount = "5" .*nothing on target 'local'/],
        // At their defaults too: Pulumi.yaml's defaults are "not set" ("" / [""]), never a real default.
        ["local", { serverCount: "3" }, /spin-cloud:serverCount = "3" .*nothing on target 'local'/],
        ["local", { operatorCidrs: "[]" }, /spin-cloud:operatorCidrs = "\[\]" .*nothing on target 'local'/],
        ["dev", { localPortOffset: "10000" }, /spin-cloud:localPortOffset = "10000" .*nothing on target 'aws'/],
        ["local", { localPortOffset: "80" }, /spin-cloud:localPortOffset = "80" .*integer from 1024 to 55000/],
        ["local", { localStateDir: "~/spin" }, /spin-cloud:localStateDir = "~\/spin" .*absolute path/],
        ["local", { localCacheDir: "/tmp/my cache" }, /spin-cloud:localCacheDir = "\/tmp\/my cache"/],
        ["local", { datacenter: "DC 1" }, /spin-cloud:datacenter = "DC 1"/],
        ["local", { expectedVersions: '["bindle@0.9.0"]' }, /spin-cloud:expectedVersions = "bindle@0.9.0" .*the only bindle version/],
        ["local", { target: "gcp" }, /spin-cloud:target = "gcp" .*'aws', 'local'/],
        ["dev", { localPortOffset: "20000" }, /spin-cloud:localPortOffset = "20000" .*nothing on target 'aws'/],
    ];
    for (const [stack, config, message] of cases) {
        it(`rejects ${JSON.stringify(config)} on ${stack}`, async () => {
            await assert.rejects(evaluateStack(stack, spinCloudProgram, { config }), message);
            assert.deepStrictEqual(lastRegistered().filter((x) => x.type !== "pulumi:pulumi:Stack"), []);
        });
    }
});

describe("apps on the local stack", () => {
    it("is deployed only when the stack asks for it", async () => {
        const jobNames = (r: MockRun) => ofType(r, "nomad:index/job:Job").map((j) => j.name).sort();
        const withApp = await evaluateStack("local", spinCloudProgram, { config: DIRS });
        const without = await evaluateStack("local", spinCloudProgram, { config: { ...DIRS, exampleApp: "false" } });
        assert.ok(jobNames(withApp).some((n) => n.includes("hello")), jobNames(withApp).join(", "));
        assert.deepStrictEqual(jobNames(without).filter((n) => n.includes("hello")), []);
        assert.deepStrictEqual((without.outputs.appUrls as Record<string, string>), {});
    });

    it("runs the apps index.ts declares on the stack's cloud, with their URLs in appUrls", async () => {
        const source = path.join(ROOT, "test", "fixtures", "apps", "hello");
        const program = () => spinCloudProgram((cloud) => [new SpinApp("extra", { cloud, source, secretVariables: { token: "t" } })]);
        const r = await evaluateStack("local", program, { config: DIRS });
        const extra = ofType(r, "nomad:index/job:Job").find((j) => j.name.includes("extra"));
        assert.ok(extra, "the declared app's job is registered");
        const urls = r.outputs.appUrls as Record<string, string>;
        assert.strictEqual(urls["app-extra"], `http://127.0.0.1:${localPorts(10000).traefikWeb}/extra/`);
        assert.ok(urls["app-hello"], "the example app stays");
    });
});
