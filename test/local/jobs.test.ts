/**
 * The local target's platform jobs: the AWS Traefik and Bindle job builders with the `raw_exec`
 * runtime (Nomad unprivileged on 127.0.0.1, binaries from the local installer). The AWS outputs
 * are covered by traefik.test.ts and bindle.test.ts; here they only serve as the reference for
 * what must stay the same.
 */
import { BINDLE_REPAIR_TASK } from "../../provisioning/jobs/bindle-repair";
import { strict as assert } from "assert";
import * as YAML from "yaml";
import { POLICIES } from "../../policy/policies";
import {
    BINDLE_EMPTY_KEYRING,
    BINDLE_PORT_LABEL,
    BINDLE_TEMPLATE_PATHS,
    bindleApiUrl,
    bindleJob,
    BindleJobInput,
    BindleRuntime,
    containerPathOf,
    renderBindleJobspec,
} from "../../provisioning/jobs/bindle-job";
import { NomadJob, NomadTask } from "../../provisioning/jobs/nomad-api";
import { spinAppJob } from "../../provisioning/jobs/spin-app-job";
import {
    renderTraefikJobspec,
    TRAEFIK_PATHS,
    traefikJob,
    TraefikJobInput,
    TraefikRuntime,
    traefikStaticConfigInput,
} from "../../provisioning/jobs/traefik-job";
import { localLayout } from "../../provisioning/local/node";
import { localPorts } from "../../provisioning/loopback";
import { renderTraefikStaticConfig, traefikStaticConfig } from "../../provisioning/jobs/traefik-config";
import { Architecture } from "../../provisioning/types";
import { runResourcePolicies } from "../fixtures/policy/harness";
import { APPS_DOMAIN, JOB_CONFIG, jobResource } from "../fixtures/policy/jobs";
import { assertValidNomadJob } from "../harness/nomad-job-schema";
import { closeObjects, compileStrict, describeErrors, readSchema } from "../harness/schemas";
import { keyPaths } from "../harness/walk";

const BIN = "/home/u/.cache/spin-cloud/bin";
const PORTS = localPorts(10000);
const LAYOUT = localLayout("/home/u/.spin-cloud/local");
const ARCHITECTURES: readonly Architecture[] = ["arm64", "x86_64"];

const TRAEFIK_RUNTIME: TraefikRuntime = { driver: "raw_exec", traefikBinary: `${BIN}/traefik`, ports: PORTS };
const BINDLE_RUNTIME: BindleRuntime = { driver: "raw_exec", bindleServerBinary: `${BIN}/bindle-server`, port: PORTS.bindle, dataDir: LAYOUT.bindleData };

const TRAEFIK_LOCAL: TraefikJobInput = { datacenters: ["local"], architecture: "x86_64", runtime: TRAEFIK_RUNTIME };
const TRAEFIK_AWS: TraefikJobInput = { datacenters: ["local"], architecture: "x86_64", vpcCidr: "10.40.0.0/16" };
const BINDLE_LOCAL: BindleJobInput = { datacenters: ["local"], architecture: "x86_64", runtime: BINDLE_RUNTIME };
const BINDLE_AWS: BindleJobInput = { datacenters: ["local"], architecture: "x86_64" };

const validateStatic = compileStrict(closeObjects(readSchema("traefik-v3.json")));

/** The job's one main task; the Bindle job's repair prestart (bindle-repair.ts) is set aside. */
function onlyTask(job: NomadJob): NomadTask {
    assert.equal(job.TaskGroups.length, 1);
    const main = job.TaskGroups[0].Tasks.filter((t) => t.Name !== BINDLE_REPAIR_TASK);
    assert.equal(main.length, 1);
    return main[0];
}

/** The jobspec with everything inside `{{ }}` and the public empty keyring blanked: what a reader of the spec sees. */
function assertNoSecret(text: string): void {
    assert.doesNotMatch(text, /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i, "no UUID-shaped token");
    assert.doesNotMatch(text, /\$2[aby]\$\d\d\$/, "no bcrypt hash");
    assert.doesNotMatch(text, /keypair|PRIVATE KEY|password|X-Consul-Token/i);
    assert.deepEqual(keyPaths(JSON.parse(text)).filter((p) => /token|secret|password/i.test(p.split(".").pop() ?? "")), []);
}

describe("local traefik job (raw_exec)", () => {
    const job = traefikJob(TRAEFIK_LOCAL);
    const aws = traefikJob(TRAEFIK_AWS);
    const group = job.TaskGroups[0];
    const task = onlyTask(job);
    const configTemplate = task.Templates?.find((t) => t.DestPath === TRAEFIK_PATHS.config);
    const parsed = YAML.parse(configTemplate?.EmbeddedTmpl ?? "");

    it("is valid against Nomad's closed Job schema, for both architectures", () => {
        for (const architecture of ARCHITECTURES) {
            assertValidNomadJob(traefikJob({ ...TRAEFIK_LOCAL, architecture }), `local traefik job (${architecture})`);
        }
    });

    it("runs the installer's absolute binary with raw_exec, as the agent's user, without artifacts", () => {
        assert.equal(task.Driver, "raw_exec");
        assert.equal(task.User, undefined);
        assert.deepEqual(task.Config, { command: `${BIN}/traefik`, args: [`--configFile=${TRAEFIK_PATHS.config}`] });
        assert.equal(task.Artifacts, undefined);
        assert.doesNotMatch(renderTraefikJobspec(TRAEFIK_LOCAL), /docker|GetterSource|"image"|cap_drop|"exec"/);
    });

    it("listens only on 127.0.0.1 at the offset ports, and reserves exactly those", () => {
        assert.deepEqual(parsed.entryPoints.web.address, "127.0.0.1:18080");
        assert.deepEqual(
            Object.fromEntries(Object.entries(parsed.entryPoints).map(([name, ep]) => [name, (ep as { address: string }).address])),
            { web: `127.0.0.1:${PORTS.traefikWeb}`, traefik: `127.0.0.1:${PORTS.traefikDashboard}`, ping: `127.0.0.1:${PORTS.traefikPing}` },
        );
        assert.deepEqual(group.Networks, [{
            Mode: "host",
            ReservedPorts: [
                { Label: "web", Value: PORTS.traefikWeb },
                { Label: "dashboard", Value: PORTS.traefikDashboard },
                { Label: "ping", Value: PORTS.traefikPing },
            ],
        }]);
    });

    it("reads the local Consul at 127.0.0.1:<consulHttp> and trusts forwarded headers from loopback only", () => {
        assert.deepEqual(parsed.providers.consulCatalog.endpoint, { address: `127.0.0.1:${PORTS.consulHttp}`, scheme: "http" });
        assert.deepEqual(parsed.entryPoints.web.forwardedHeaders, { trustedIPs: ["127.0.0.1/32"] });
    });

    it("renders a static config valid against the closed traefik-v3 schema, the AWS one but for the placement", () => {
        assert.ok(validateStatic(parsed), describeErrors(validateStatic));
        assert.deepEqual(parsed, traefikStaticConfig({ local: { ports: PORTS } }));
        assert.equal(configTemplate?.EmbeddedTmpl, renderTraefikStaticConfig(traefikStaticConfigInput(TRAEFIK_LOCAL)));
        const awsParsed = YAML.parse(onlyTask(aws).Templates?.find((t) => t.DestPath === TRAEFIK_PATHS.config)?.EmbeddedTmpl ?? "");
        const placementFree = (c: any) => {
            const copy = structuredClone(c);
            for (const ep of Object.values(copy.entryPoints) as any[]) delete ep.address;
            delete copy.entryPoints.web.forwardedHeaders;
            delete copy.providers.consulCatalog.endpoint.address;
            return copy;
        };
        assert.deepEqual(placementFree(parsed), placementFree(awsParsed));
        assert.equal(traefikStaticConfig({ local: { ports: PORTS }, tagPrefix: "edge" }).providers.consulCatalog.prefix, "edge");
        assert.equal(YAML.parse(onlyTask(traefikJob({ ...TRAEFIK_LOCAL, tagPrefix: "edge" })).Templates![0].EmbeddedTmpl).providers.consulCatalog.prefix, "edge");
    });

    it("keeps the AWS job's templates, services, constraints and policies apart from the config", () => {
        assert.deepEqual(task.Templates?.filter((t) => t.DestPath !== TRAEFIK_PATHS.config), onlyTask(aws).Templates?.filter((t) => t.DestPath !== TRAEFIK_PATHS.config));
        assert.deepEqual(group.Services, aws.TaskGroups[0].Services);
        assert.deepEqual(job.Constraints, aws.Constraints);
        const { Networks: _n, Tasks: _t, ...rest } = group;
        const { Networks: _an, Tasks: _at, ...awsRest } = aws.TaskGroups[0];
        assert.deepEqual(rest, awsRest);
        const { Templates: _tt, Driver: _d, User: _u, Config: _c, Artifacts: _a, ...taskRest } = task;
        const { Templates: _att, Driver: _ad, User: _au, Config: _ac, Artifacts: _aa, ...awsTaskRest } = onlyTask(aws);
        assert.deepEqual(taskRest, awsTaskRest);
    });

    it("carries no secret: the Consul token comes from the Nomad Variable as on AWS", () => {
        const text = renderTraefikJobspec(TRAEFIK_LOCAL);
        assertNoSecret(text);
        assert.equal(task.Env, undefined);
        const env = task.Templates?.filter((t) => t.Envvars === true) ?? [];
        assert.equal(env.length, 1);
        assert.equal(env[0].EmbeddedTmpl, '{{ with nomadVar "nomad/jobs/traefik" }}CONSUL_HTTP_TOKEN={{ .consul_token.Value | toJSON }}{{ end }}\n');
    });

    it("refuses a relative binary, privileged or clashing ports, and a runtime without its fields", () => {
        for (const traefikBinary of ["traefik", "./bin/traefik", "/home/u/my bin/traefik", ""]) {
            assert.throws(() => traefikJob({ ...TRAEFIK_LOCAL, runtime: { ...TRAEFIK_RUNTIME, traefikBinary } }), /traefikBinary/, traefikBinary);
        }
        assert.throws(() => traefikJob({ ...TRAEFIK_LOCAL, runtime: { ...TRAEFIK_RUNTIME, ports: { ...PORTS, traefikWeb: 80 } } }), /traefikWeb/);
        assert.throws(() => traefikJob({ ...TRAEFIK_LOCAL, runtime: { ...TRAEFIK_RUNTIME, ports: { ...PORTS, traefikPing: PORTS.traefikWeb } } }), /must differ/);
        assert.throws(() => traefikStaticConfig({ local: { ports: { ...PORTS, consulHttp: 70000 } } }), /consulHttp/);
        assert.throws(() => traefikJob({ datacenters: ["local"], architecture: "x86_64" } as unknown as TraefikJobInput), /vpcCidr/);
        // The input variants are exclusive at compile time too.
        // @ts-expect-error a local (raw_exec) job has no VPC
        assert.ok(traefikJob({ ...TRAEFIK_LOCAL, vpcCidr: "10.40.0.0/16" }));
        // @ts-expect-error the exec runtime needs vpcCidr
        assert.throws(() => traefikJob({ datacenters: ["local"], architecture: "x86_64", runtime: { driver: "exec" } }), /vpcCidr/);
    });
});

describe("local bindle job (raw_exec)", () => {
    const job = bindleJob(BINDLE_LOCAL);
    const aws = bindleJob(BINDLE_AWS);
    const group = job.TaskGroups[0];
    const task = onlyTask(job);
    const args = task.Config.args as string[];
    const flag = (name: string): string | undefined => args[args.indexOf(name) + 1];

    it("is valid against Nomad's closed Job schema, for both architectures", () => {
        for (const architecture of ARCHITECTURES) {
            assertValidNomadJob(bindleJob({ ...BINDLE_LOCAL, architecture }), `local bindle job (${architecture})`);
        }
    });

    it("runs the installer's absolute bindle-server with raw_exec, no docker, no artifacts, no volume", () => {
        assert.equal(task.Driver, "raw_exec");
        assert.equal(task.User, undefined);
        assert.equal(task.Config.command, `${BIN}/bindle-server`);
        assert.deepEqual(Object.keys(task.Config).sort(), ["args", "command"]);
        assert.equal(task.Artifacts, undefined);
        assert.equal(task.VolumeMounts, undefined);
        assert.equal(group.Volumes, undefined);
        assert.doesNotMatch(renderBindleJobspec(BINDLE_LOCAL), /docker|GetterSource|"image"|network_mode|cap_drop|bindle-data/);
    });

    it("listens only on 127.0.0.1 at the offset port, the only port it reserves", () => {
        assert.equal(flag("--address"), `127.0.0.1:${PORTS.bindle}`);
        assert.equal(PORTS.bindle, 18085);
        assert.deepEqual(group.Networks, [{ Mode: "host", ReservedPorts: [{ Label: BINDLE_PORT_LABEL, Value: PORTS.bindle }] }]);
        assert.equal(bindleApiUrl(BINDLE_RUNTIME), "http://127.0.0.1:18085/v1");
        assert.equal(bindleApiUrl(), "http://bindle.service.consul:8085/v1");
        assert.equal(bindleApiUrl({ driver: "exec", architecture: "arm64" }), bindleApiUrl());
    });

    it("keeps its store in the local state directory, the AWS flags otherwise", () => {
        assert.equal(flag("--directory"), "/home/u/.spin-cloud/local/bindle/bindles");
        assert.equal(flag("--directory"), `${LAYOUT.bindleData}/bindles`);
        const awsArgs = onlyTask(aws).Config.args as string[];
        assert.deepEqual(args.filter((_, i) => i % 2 === 0), awsArgs.filter((_, i) => i % 2 === 0), "the same flags in the same order");
        for (const [name, dest] of [["--htpasswd-file", BINDLE_TEMPLATE_PATHS.htpasswd], ["--signing-keys", BINDLE_TEMPLATE_PATHS.signingKeys], ["--keyring", BINDLE_TEMPLATE_PATHS.keyring]]) {
            assert.equal(flag(name), containerPathOf(dest));
        }
        assert.equal(flag("--htpasswd-file"), "${NOMAD_SECRETS_DIR}/htpasswd");
        assert.equal(flag("--strategy"), "GreedyVerification");
    });

    it("renders its secrets from the same Nomad Variable, owned by the agent's user", () => {
        const awsTemplates = onlyTask(aws).Templates ?? [];
        assert.deepEqual(task.Templates, awsTemplates.map(({ Uid: _u, Gid: _g, ...t }) => t));
        for (const t of task.Templates ?? []) {
            assert.equal(t.Uid, undefined);
            assert.equal(t.Gid, undefined);
        }
        assert.deepEqual(task.Templates?.filter((t) => t.DestPath.startsWith("secrets/")).map((t) => t.Perms), ["0400", "0400"]);
    });

    it("carries no secret in the jobspec", () => {
        assertNoSecret(renderBindleJobspec(BINDLE_LOCAL));
        for (const t of task.Templates ?? []) {
            assert.equal(t.EmbeddedTmpl.replace(/\{\{[^}]*\}\}/g, "").replace(BINDLE_EMPTY_KEYRING, ""), "", t.DestPath);
        }
        assert.deepEqual(task.Env, { RUST_LOG: "error,bindle=info" });
    });

    it("keeps the AWS job's service, check, constraints and policies", () => {
        assert.deepEqual(group.Services, aws.TaskGroups[0].Services);
        assert.deepEqual(job.Constraints, aws.Constraints);
        assert.deepEqual(job.Meta, aws.Meta);
        const { Networks: _n, Volumes: _v, Tasks: _t, ...rest } = group;
        const { Networks: _an, Volumes: _av, Tasks: _at, ...awsRest } = aws.TaskGroups[0];
        assert.deepEqual(rest, awsRest);
        assert.deepEqual(task.Resources, onlyTask(aws).Resources);
        assert.equal(task.KillSignal, "SIGINT");
        assert.equal(task.KillTimeout, onlyTask(aws).KillTimeout);
    });

    it("refuses relative paths and privileged or out-of-range ports", () => {
        for (const bad of [{ bindleServerBinary: "bindle-server" }, { dataDir: "state/bindle" }, { dataDir: "/home/u/my data" }, { port: 80 }, { port: 65536 }, { port: 18085.5 }]) {
            const runtime = { ...BINDLE_RUNTIME, ...bad } as BindleRuntime;
            assert.throws(() => bindleJob({ ...BINDLE_LOCAL, runtime }), new RegExp(`runtime\\.${Object.keys(bad)[0]}`), JSON.stringify(bad));
            assert.throws(() => bindleApiUrl(runtime), new RegExp(`runtime\\.${Object.keys(bad)[0]}`));
        }
    });
});

describe("local platform jobs and the spin-cloud-guard policy pack", () => {
    const app = spinAppJob({
        name: "hello",
        datacenters: ["local"],
        architecture: "x86_64",
        instances: 1,
        resources: { cpuMhz: 100, memoryMb: 128 },
        bindle: { baseUrl: bindleApiUrl(BINDLE_RUNTIME), bindleId: "hello/1.0.0", parcels: [{ path: "spin.toml", sha256: "a".repeat(64) }] },
        routing: { kind: "hosts", hosts: [`hello.${APPS_DOMAIN}`] },
        runtime: { driver: "raw_exec", spinBinary: `${BIN}/spin` },
    });

    it("the local Spin app fetches its parcels from the local Bindle", () => {
        assert.match(onlyTask(app).Artifacts?.[0].GetterSource ?? "", /^http:\/\/127\.0\.0\.1:18085\/v1\/_i\/hello\/1\.0\.0@a{64}$/);
    });

    it("no policy rejects the raw_exec jobs", async () => {
        const resources = [
            jobResource("traefik", { Job: traefikJob(TRAEFIK_LOCAL) }),
            jobResource("bindle", { Job: bindleJob(BINDLE_LOCAL) }),
            jobResource("hello", { Job: app }),
        ];
        const run = await runResourcePolicies(POLICIES, resources, "local", JOB_CONFIG, { "spin-cloud:target": "local" });
        assert.deepEqual(run.violations, []);
        for (const policy of ["nomad-jobspec-json", "artifacts-pinned-by-checksum", "traefik-dashboard-not-public", "app-hosts-in-allowed-domains"]) {
            assert.ok(run.applied.has(policy), policy);
        }
        // raw_exec tasks running `spin` are Spin apps to the pack (policy/lib/nomad-job.ts EXEC_DRIVERS).
        for (const policy of ["spin-app-resources", "spin-app-health-check", "spin-app-update-auto-revert"]) {
            assert.ok(run.applied.has(policy), policy);
        }
    });
});
