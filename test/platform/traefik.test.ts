import { strict as assert } from "assert";
import { POLICIES } from "../../policy/policies";
import {
    renderTraefikJobspec,
    TRAEFIK_CONSUL_TOKEN_ITEM,
    TRAEFIK_DASHBOARD_SERVICE,
    TRAEFIK_KILL_TIMEOUT_SECONDS,
    TRAEFIK_PATHS,
    traefikJob,
} from "../../provisioning/jobs/traefik-job";
import { NomadJob, SECOND_NS } from "../../provisioning/jobs/nomad-api";
import { nomadCpuArch } from "../../provisioning/jobs/placement";
import { CLIENT_NODE_CLASS, JOB_IDS, jobVariablePath, SERVICE_NAMES, TRAEFIK_PORTS } from "../../provisioning/platform";
import { renderTraefikStaticConfig, TRAEFIK_CONSUL_TOKEN_ENV } from "../../provisioning/jobs/traefik-config";
import { Architecture } from "../../provisioning/types";
import { TRAEFIK } from "../../provisioning/versions";
import { assertValidNomadJob, nomadJobValidator } from "../harness/nomad-job-schema";
import { INPUT, keyPaths } from "../harness/traefik-fixtures";
import { runResourcePolicies } from "../fixtures/policy/harness";
import { JOB_CONFIG, jobResource } from "../fixtures/policy/jobs";

const ARCHITECTURES: readonly Architecture[] = ["arm64", "x86_64"];

describe("traefik Nomad job", () => {
    const jobs = new Map(ARCHITECTURES.map((architecture) => [architecture, traefikJob({ ...INPUT, architecture })] as const));
    const job = jobs.get("arm64") as NomadJob;
    const group = job.TaskGroups[0];
    const task = group.Tasks[0];

    it("is valid against Nomad's closed Job schema, for both architectures", () => {
        for (const [architecture, j] of jobs) {
            assertValidNomadJob(j, `traefik job (${architecture})`);
        }
    });

    it("the closed Job schema rejects misspelt keys", () => {
        const misspelt: Array<(j: any) => void> = [
            (j) => { j.TaskGroups[0].Tasks[0].KillTimout = 1; },
            (j) => { j.TaskGroups[0].Tasks[0].Artifacts[0].GetterOption = {}; },
            (j) => { j.TaskGroups[0].Tasks[0].Templates[1].EnvVars = true; },
            (j) => { j.TaskGroups[0].Networks[0].ReservedPorts[0].Lable = "web"; },
        ];
        for (const mutate of misspelt) {
            const copy = structuredClone(job);
            mutate(copy);
            assert.equal(nomadJobValidator()(copy), false, mutate.toString());
            assert.throws(() => assertValidNomadJob(copy, "misspelt"), /must NOT have additional properties/);
        }
    });

    it("is one system job, the platform's traefik, in the given datacenters", () => {
        assert.equal(job.Type, "system");
        assert.equal(job.ID, JOB_IDS.traefik);
        assert.deepEqual(job.Datacenters, INPUT.datacenters);
        assert.deepEqual(traefikJob({ ...INPUT, datacenters: ["a", "b"] }).Datacenters, ["a", "b"]);
        assert.equal(job.TaskGroups.length, 1);
        assert.equal(group.Count, undefined);
        assert.throws(() => traefikJob({ ...INPUT, datacenters: [] }), /datacenter/);
    });

    it("runs only on client-class nodes of the job's architecture", () => {
        for (const [architecture, j] of jobs) {
            assert.deepEqual(j.Constraints, [
                { LTarget: "${node.class}", RTarget: CLIENT_NODE_CLASS, Operand: "=" },
                { LTarget: "${attr.cpu.arch}", RTarget: nomadCpuArch(architecture), Operand: "=" },
            ]);
        }
        assert.equal(nomadCpuArch("arm64"), "arm64");
        assert.equal(nomadCpuArch("x86_64"), "amd64");
    });

    it("downloads the pinned tarball of its architecture, checksum-verified", () => {
        for (const [architecture, j] of jobs) {
            const artifacts = j.TaskGroups.flatMap((g) => g.Tasks.flatMap((t) => t.Artifacts ?? []));
            assert.equal(artifacts.length, 1);
            for (const artifact of artifacts) {
                assert.match(artifact.GetterOptions.checksum ?? "", /^sha256:[0-9a-f]{64}$/);
                assert.equal(artifact.GetterOptions.checksum, `sha256:${TRAEFIK.artifacts[architecture].sha256}`);
                assert.equal(artifact.GetterSource, TRAEFIK.artifacts[architecture].url);
                assert.ok(!artifact.GetterSource.includes("?"), "no checksum smuggled into the URL");
            }
            const goArch = nomadCpuArch(architecture);
            assert.equal(artifacts[0].GetterSource,
                `https://github.com/traefik/traefik/releases/download/v${TRAEFIK.version}/traefik_v${TRAEFIK.version}_linux_${goArch}.tar.gz`);
        }
        assert.notEqual(TRAEFIK.artifacts.arm64.sha256, TRAEFIK.artifacts.x86_64.sha256);
        assert.match(TRAEFIK.version, /^3\.\d+\.\d+$/);
    });

    it("reserves the platform's static host ports", () => {
        assert.deepEqual(group.Networks, [{
            Mode: "host",
            ReservedPorts: [
                { Label: "web", Value: TRAEFIK_PORTS.web },
                { Label: "dashboard", Value: TRAEFIK_PORTS.dashboard },
                { Label: "ping", Value: TRAEFIK_PORTS.ping },
            ],
        }]);
    });

    it("runs the downloaded binary as nobody with the rendered static file", () => {
        assert.equal(task.Driver, "exec");
        assert.equal(task.User, "nobody");
        assert.equal(task.Config.command, TRAEFIK_PATHS.binary);
        assert.ok(TRAEFIK_PATHS.binary.startsWith(task.Artifacts?.[0].RelativeDest ?? "?"));
        assert.deepEqual(task.Config.args, [`--configFile=${TRAEFIK_PATHS.config}`]);
        const config = task.Templates?.find((t) => t.DestPath === TRAEFIK_PATHS.config);
        assert.equal(config?.EmbeddedTmpl, renderTraefikStaticConfig(INPUT));
        assert.notEqual(config?.Envvars, true);
        assert.ok(Object.values(TRAEFIK_PORTS).every((port) => port > 1024), "no privileged port for nobody");
    });

    it("hands Traefik's Consul token over from the job's Nomad Variable, as CONSUL_HTTP_TOKEN", () => {
        const env = task.Templates?.filter((t) => t.Envvars === true) ?? [];
        assert.equal(env.length, 1);
        assert.equal(env[0].EmbeddedTmpl,
            `{{ with nomadVar "${jobVariablePath(JOB_IDS.traefik)}" }}` +
            `CONSUL_HTTP_TOKEN={{ .${TRAEFIK_CONSUL_TOKEN_ITEM}.Value | toJSON }}{{ end }}\n`);
        assert.equal(TRAEFIK_CONSUL_TOKEN_ENV, "CONSUL_HTTP_TOKEN");
        assert.equal(TRAEFIK_CONSUL_TOKEN_ITEM, "consul_token");
        assert.match(env[0].DestPath, /^secrets\//);
        assert.equal(env[0].Perms, "400");
    });

    it("carries no token in the jobspec", () => {
        const text = renderTraefikJobspec(INPUT);
        assert.ok(!/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i.test(text), "no UUID-shaped secret");
        assert.ok(!text.includes("TRAEFIK_PROVIDERS_CONSULCATALOG_ENDPOINT_TOKEN"));
        assert.ok(!/X-Consul-Token/i.test(text));
        assert.equal(task.Env, undefined);
        const tokenKeys = keyPaths(JSON.parse(text)).filter((p) => /token/i.test(p));
        assert.deepEqual(tokenKeys, []);
    });

    it("registers traefik (checked on /ping) and traefik-dashboard in Consul", () => {
        const [web, dashboard] = group.Services ?? [];
        assert.equal(web.Name, SERVICE_NAMES.traefik);
        assert.equal(web.PortLabel, "web");
        assert.equal(web.Provider, "consul");
        assert.deepEqual(web.Checks?.map((c) => [c.Type, c.PortLabel, c.Path]), [["http", "ping", "/ping"]]);
        assert.equal(dashboard.Name, TRAEFIK_DASHBOARD_SERVICE);
        assert.equal(dashboard.Name, "traefik-dashboard");
        assert.equal(dashboard.PortLabel, "dashboard");
        const labels = new Set(group.Networks?.[0].ReservedPorts?.map((p) => p.Label));
        for (const service of group.Services ?? []) {
            assert.ok(labels.has(service.PortLabel ?? ""), service.Name);
            assert.ok((service.Checks ?? []).length > 0, `${service.Name} has a check`);
            for (const check of service.Checks ?? []) {
                assert.ok(check.Interval > 0 && check.Timeout > 0 && check.Timeout < check.Interval);
                assert.ok(labels.has(check.PortLabel ?? service.PortLabel ?? ""));
            }
        }
        assert.ok(!(group.Services ?? []).some((s) => (s.Tags ?? []).some((t) => t.startsWith("traefik."))), "Traefik does not route to itself");
    });

    it("rolls out one node at a time on health checks and reverts a failed deployment", () => {
        assert.equal(group.Update?.MaxParallel, 1);
        assert.equal(group.Update?.HealthCheck, "checks");
        assert.equal(group.Update?.AutoRevert, true);
        assert.ok((group.Update?.HealthyDeadline ?? 0) < (group.Update?.ProgressDeadline ?? 0));
        assert.equal(group.RestartPolicy?.Mode, "delay");
        assert.equal(group.ReschedulePolicy, undefined);
    });

    it("gives Traefik its graceful stop, within Nomad's 30s max_kill_timeout", () => {
        assert.equal(task.KillTimeout, TRAEFIK_KILL_TIMEOUT_SECONDS * SECOND_NS);
        assert.ok(TRAEFIK_KILL_TIMEOUT_SECONDS <= 30);
        assert.equal(task.KillSignal, "SIGTERM");
        assert.ok(task.Resources.CPU > 0 && task.Resources.MemoryMB > 0);
    });

    it("renders the jobspec deterministically as { Job }", () => {
        const text = renderTraefikJobspec(INPUT);
        assert.equal(text, renderTraefikJobspec({ ...INPUT, datacenters: [...INPUT.datacenters] }));
        assert.deepEqual(JSON.parse(text), { Job: traefikJob(INPUT) });
    });

    it("passes the spin-cloud-guard policy pack", async () => {
        const run = await runResourcePolicies(POLICIES, [jobResource("traefik", { Job: job })], "test", JOB_CONFIG);
        assert.deepEqual(run.violations, []);
        assert.ok(run.applied.has("traefik-dashboard-not-public"));
    });
});
