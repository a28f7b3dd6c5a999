import { strict as assert } from "assert";
import * as YAML from "yaml";
import { POLICIES } from "../policy/policies";
import {
    nomadCpuArch,
    renderTraefikJobspec,
    TRAEFIK_CONSUL_TOKEN_ITEM,
    TRAEFIK_DASHBOARD_SERVICE,
    TRAEFIK_KILL_TIMEOUT_SECONDS,
    TRAEFIK_PATHS,
    traefikJob,
    TraefikJobInput,
} from "../provisioning/jobs/traefik-job";
import { NomadJob, SECOND_NS } from "../provisioning/jobs/nomad-api";
import { CLIENT_NODE_CLASS, JOB_IDS, jobVariablePath, SERVICE_NAMES, TRAEFIK_PORTS } from "../provisioning/platform";
import {
    renderTraefikStaticConfig,
    TRAEFIK_CONSUL_TOKEN_ENV,
    TRAEFIK_LIFECYCLE_SECONDS,
    traefikStaticConfig,
} from "../provisioning/traefik-config";
import { Architecture } from "../provisioning/types";
import { TRAEFIK } from "../provisioning/versions";
import { assertValidNomadJob, nomadJobValidator } from "./harness/nomad-job-schema";
import { closeObjects, compileStrict, describeErrors, readSharedSchema } from "./harness/schemas";
import { runResourcePolicies } from "./fixtures/policy/harness";
import { JOB_CONFIG, jobResource } from "./fixtures/policy/jobs";

const INPUT: TraefikJobInput = { vpcCidr: "10.40.0.0/16", datacenters: ["dc-test"], architecture: "arm64" };
const ARCHITECTURES: readonly Architecture[] = ["arm64", "x86_64"];

/**
 * SchemaStore's traefik-v3.json with every object schema closed. It compiles in ajv's strict mode
 * as shipped (draft-07, `$defs`), so nothing is adapted.
 */
const validateStatic = compileStrict(closeObjects(readSharedSchema("traefik-v3.json")));

function assertValidStatic(config: unknown): void {
    assert.ok(validateStatic(config), describeErrors(validateStatic));
}

/** Every object key of a parsed document, with its dotted path. */
function keyPaths(value: unknown, prefix = ""): string[] {
    if (Array.isArray(value)) {
        return value.flatMap((item, i) => keyPaths(item, `${prefix}[${i}]`));
    }
    if (value !== null && typeof value === "object") {
        return Object.entries(value).flatMap(([key, child]) => [`${prefix}${key}`, ...keyPaths(child, `${prefix}${key}.`)]);
    }
    return [];
}

const portOf = (address: string): number => Number(/:(\d+)$/.exec(address)?.[1]);

describe("traefik static configuration", () => {
    const config = traefikStaticConfig(INPUT);
    const parsed = YAML.parse(renderTraefikStaticConfig(INPUT));

    it("renders exactly the typed object, deterministically", () => {
        assert.deepEqual(parsed, config);
        assert.equal(renderTraefikStaticConfig(INPUT), renderTraefikStaticConfig({ ...INPUT }));
    });

    it("listens on the platform ports: web, traefik (dashboard) and ping", () => {
        assert.deepEqual(Object.keys(parsed.entryPoints).sort(), ["ping", "traefik", "web"]);
        assert.equal(parsed.entryPoints.web.address, `:${TRAEFIK_PORTS.web}`);
        assert.equal(parsed.entryPoints.traefik.address, `:${TRAEFIK_PORTS.dashboard}`);
        assert.equal(parsed.entryPoints.ping.address, `:${TRAEFIK_PORTS.ping}`);
    });

    it("trusts X-Forwarded-* only on web and only from the VPC", () => {
        assert.deepEqual(parsed.entryPoints.web.forwardedHeaders, { trustedIPs: [INPUT.vpcCidr] });
        const other = YAML.parse(renderTraefikStaticConfig({ vpcCidr: "172.16.0.0/20" }));
        assert.deepEqual(other.entryPoints.web.forwardedHeaders.trustedIPs, ["172.16.0.0/20"]);
        assert.equal(parsed.entryPoints.traefik.forwardedHeaders, undefined);
        assert.equal(parsed.entryPoints.ping.forwardedHeaders, undefined);
        assert.ok(!keyPaths(parsed).some((p) => /insecure$/.test(p) && p !== "api.insecure"), "no forwardedHeaders.insecure");
    });

    it("makes web the only default entry point for app routers", () => {
        const defaults = Object.entries(parsed.entryPoints).filter(([, ep]) => (ep as { asDefault?: boolean }).asDefault === true);
        assert.deepEqual(defaults.map(([name]) => name), ["web"]);
    });

    it("serves API and dashboard on the traefik entry point only, never on the web port", () => {
        assert.deepEqual(parsed.api, { dashboard: true, insecure: true });
        assert.notEqual(portOf(parsed.entryPoints.traefik.address), TRAEFIK_PORTS.web);
        assert.equal(portOf(parsed.entryPoints.traefik.address), TRAEFIK_PORTS.dashboard);
        // Only the Consul catalog provider: no file/http provider that could route api@internal.
        assert.deepEqual(Object.keys(parsed.providers), ["consulCatalog"]);
    });

    it("answers /ping on its own entry point", () => {
        assert.deepEqual(parsed.ping, { entryPoint: "ping" });
        assert.ok(parsed.entryPoints[parsed.ping.entryPoint]);
    });

    it("logs JSON at INFO, exposes Prometheus on the operator entry point, phones nobody", () => {
        assert.equal(parsed.accessLog.format, "json");
        assert.equal(parsed.log.level, "INFO");
        assert.equal(parsed.metrics.prometheus.entryPoint, "traefik");
        assert.deepEqual(parsed.global, { checkNewVersion: false, sendAnonymousUsage: false });
    });

    it("reads the local Consul agent over plain HTTP and routes only opted-in services", () => {
        const catalog = parsed.providers.consulCatalog;
        assert.equal(catalog.exposedByDefault, false);
        assert.equal(catalog.connectAware, false);
        assert.equal(catalog.prefix, "traefik");
        assert.deepEqual(catalog.endpoint, { address: "127.0.0.1:8500", scheme: "http" });
        assert.equal(traefikStaticConfig({ ...INPUT, tagPrefix: "edge" }).providers.consulCatalog.prefix, "edge");
    });

    it("holds no token and no template action", () => {
        const text = renderTraefikStaticConfig(INPUT);
        assert.ok(!keyPaths(parsed).some((p) => /token/i.test(p)), keyPaths(parsed).join(", "));
        assert.ok(!/token/i.test(text));
        assert.ok(!text.includes("{{"));
    });

    it("stops gracefully before Nomad's kill timeout", () => {
        assert.deepEqual(parsed.entryPoints.web.transport.lifeCycle, {
            requestAcceptGraceTimeout: `${TRAEFIK_LIFECYCLE_SECONDS.requestAcceptGrace}s`,
            graceTimeOut: `${TRAEFIK_LIFECYCLE_SECONDS.grace}s`,
        });
        assert.ok(TRAEFIK_LIFECYCLE_SECONDS.requestAcceptGrace + TRAEFIK_LIFECYCLE_SECONDS.grace < TRAEFIK_KILL_TIMEOUT_SECONDS);
    });

    it("refuses a malformed VPC CIDR or tag prefix", () => {
        for (const vpcCidr of ["10.40.0.0", "10.300.0.0/16", "10.40.0.0/33", "any", ""]) {
            assert.throws(() => traefikStaticConfig({ vpcCidr }), /vpcCidr/, vpcCidr);
        }
        for (const tagPrefix of ["", "Traefik", "tr.aefik", "{{x}}"]) {
            assert.throws(() => traefikStaticConfig({ ...INPUT, tagPrefix }), /tagPrefix/, tagPrefix);
        }
    });

    it("is valid against the closed traefik-v3 schema", () => {
        assertValidStatic(parsed);
        assertValidStatic(YAML.parse(renderTraefikStaticConfig({ vpcCidr: "192.168.0.0/24", tagPrefix: "edge" })));
    });

    it("the closed schema rejects misspelt keys at any depth", () => {
        const misspelt: Array<(c: any) => void> = [
            (c) => { c.entryPoints.web.adress = c.entryPoints.web.address; },
            (c) => { c.providers.consulCatalog.exposedByDefualt = false; },
            (c) => { c.providers.consulCatalog.endpoint.tokn = "x"; },
            (c) => { c.accesslog = { format: "json" }; },
            (c) => { c.entryPoints.web.forwardedHeaders.trustedIps = ["10.0.0.0/8"]; },
        ];
        for (const mutate of misspelt) {
            const copy = structuredClone(parsed);
            mutate(copy);
            assert.equal(validateStatic(copy), false, mutate.toString());
            assert.ok(validateStatic.errors?.some((e) => e.keyword === "additionalProperties"), describeErrors(validateStatic));
        }
    });
});

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
            assert.ok(labels.has(service.PortLabel), service.Name);
            assert.ok((service.Checks ?? []).length > 0, `${service.Name} has a check`);
            for (const check of service.Checks ?? []) {
                assert.ok(check.Interval > 0 && check.Timeout > 0 && check.Timeout < check.Interval);
                assert.ok(labels.has(check.PortLabel ?? service.PortLabel));
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
