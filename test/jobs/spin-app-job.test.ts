import { strict as assert } from "assert";
import { POLICIES } from "../../policy/policies";
import { SPIN_APP_META } from "../../policy/lib/nomad-job";
import { bindleApiUrl } from "../../provisioning/jobs/bindle-job";
import { NomadTask, SECOND_NS } from "../../provisioning/jobs/nomad-api";
import {
    parcelUrl, renderSpinAppJobspec, SPIN_APP_DEFAULT_UPDATE, SPIN_APP_HEALTH_PATH, SPIN_APP_KIND_META, SPIN_APP_LIMITS,
    SPIN_APP_RESERVED_NAMES, SPIN_APP_SECRETS_ENV_FILE, SPIN_APP_SHUTDOWN_DELAY_SECONDS, spinAppJob, spinAppJobId,
    SpinAppJobInput, spinAppTraefikTags, spinUpArgs, spinVariableEnvName,
} from "../../provisioning/jobs/spin-app-job";
import { spinAppRouteRouterName } from "../../provisioning/jobs/spin-app-routing";
import { NODE_LAYOUT } from "../../provisioning/agents/node-layout";
import { CLIENT_NODE_CLASS, jobVariablePath } from "../../provisioning/platform";
import { runResourcePolicies } from "../fixtures/policy/harness";
import { APPS_DOMAIN, JOB_CONFIG, jobResource } from "../fixtures/policy/jobs";
import { assertValidNomadJob } from "../harness/nomad-job-schema";

const SHA = { manifest: "a".repeat(64), wasm: "b".repeat(64), page: "c".repeat(64) };
const BINDLE_ID = "hello/1.0.0-sha-0123456789abcdef";
const HOST = `hello.${APPS_DOMAIN}`;

const HOSTS: SpinAppJobInput = {
    name: "hello",
    datacenters: ["dc-test"],
    architecture: "arm64",
    instances: 2,
    resources: { cpuMhz: 100, memoryMb: 128 },
    env: { RUST_LOG: "spin=info" },
    variables: { values: { api_uri: "https://api.example.com" }, secrets: ["api_token", "db_password"] },
    bindle: {
        baseUrl: bindleApiUrl(),
        bindleId: BINDLE_ID,
        parcels: [
            { path: "target/hello.wasm", sha256: SHA.wasm },
            { path: "spin.toml", sha256: SHA.manifest },
            { path: "static/index.html", sha256: SHA.page },
        ],
    },
    routing: { kind: "hosts", hosts: [HOST, `www.${HOST}`] },
};
const PREFIX: SpinAppJobInput = { ...HOSTS, routing: { kind: "pathPrefix", prefix: "/hello" } };

function parts(input: SpinAppJobInput) {
    const job = spinAppJob(input);
    assert.equal(job.TaskGroups.length, 1);
    const group = job.TaskGroups[0];
    assert.equal(group.Tasks.length, 1);
    const task: NomadTask = group.Tasks[0];
    assert.equal(group.Services?.length, 1);
    return { job, group, task, service: group.Services![0], args: task.Config.args as string[] };
}

/** `--flag value` pairs after `up`; fails on a bare flag or a repeated one. */
function flagsOf(args: readonly string[]): Map<string, string> {
    assert.equal(args[0], "up");
    const flags = new Map<string, string>();
    for (let i = 1; i < args.length; i += 2) {
        assert.match(args[i], /^--[a-z-]+$/);
        assert.ok(i + 1 < args.length && !args[i + 1].startsWith("-"), `${args[i]} has a value`);
        assert.ok(!flags.has(args[i]), `${args[i]} given twice`);
        flags.set(args[i], args[i + 1]);
    }
    return flags;
}

describe("spin app job", () => {
    it("is a valid Nomad service job for both routing kinds and architectures", () => {
        for (const input of [HOSTS, PREFIX, { ...HOSTS, architecture: "x86_64" as const }]) {
            assertValidNomadJob(spinAppJob(input), `${input.routing.kind} ${input.architecture}`);
        }
        const { job, group } = parts(HOSTS);
        assert.equal(job.ID, "app-hello");
        assert.equal(spinAppJobId("hello"), "app-hello");
        assert.equal(job.Name, job.ID);
        assert.equal(job.Type, "service");
        assert.deepEqual(job.Datacenters, ["dc-test"]);
        assert.equal(group.Count, 2);
        assert.deepEqual(job.Meta, { [SPIN_APP_META.key]: SPIN_APP_META.value, spin_cloud_app: "hello", bindle_id: BINDLE_ID });
        assert.deepEqual(SPIN_APP_KIND_META, SPIN_APP_META);
    });

    it("routes hosts with one Host() per name on the web entry point", () => {
        const r = `traefik.http.routers.${spinAppRouteRouterName("hello", HOSTS.routing)}`;
        assert.deepEqual(parts(HOSTS).service.Tags, [
            "traefik.enable=true",
            `${r}.rule=(Host(\`hello.apps.example.com\`) || Host(\`www.hello.apps.example.com\`)) && !PathPrefix(\`/.well-known/spin/\`)`,
            `${r}.priority=20000`,
            `${r}.entrypoints=web`,
        ]);
    });

    it("routes a path prefix (and only it, not /hello-world) and strips it through a middleware", () => {
        const n = spinAppRouteRouterName("hello", PREFIX.routing);
        assert.deepEqual(parts(PREFIX).service.Tags, [
            "traefik.enable=true",
            `traefik.http.routers.${n}.rule=(Path(\`/hello\`) || PathPrefix(\`/hello/\`)) && !PathPrefix(\`/hello/.well-known/spin/\`)`,
            `traefik.http.routers.${n}.priority=10000`,
            `traefik.http.routers.${n}.entrypoints=web`,
            `traefik.http.routers.${n}.middlewares=${n}-strip`,
            `traefik.http.middlewares.${n}-strip.stripprefix.prefixes=/hello`,
        ]);
        const x = spinAppRouteRouterName("x", { kind: "pathPrefix", prefix: "/y" });
        assert.deepEqual(spinAppTraefikTags("x", { kind: "pathPrefix", prefix: "/y" })[1],
            `traefik.http.routers.${x}.rule=(Path(\`/y\`) || PathPrefix(\`/y/\`)) && !PathPrefix(\`/y/.well-known/spin/\`)`);
    });

    it("routes hosts and a path prefix together: the hosts' rule AND the prefix rule, the prefix stripped", () => {
        const routing: SpinAppJobInput["routing"] = { kind: "hostsPathPrefix", hosts: [HOST, `www.${HOST}`], prefix: "/shop" };
        const tags = parts({ ...HOSTS, routing }).service.Tags;
        const n = spinAppRouteRouterName("hello", routing);
        assert.deepEqual(tags, [
            "traefik.enable=true",
            `traefik.http.routers.${n}.rule=(Host(\`${HOST}\`) || Host(\`www.${HOST}\`)) && (Path(\`/shop\`) || PathPrefix(\`/shop/\`)) && !PathPrefix(\`/shop/.well-known/spin/\`)`,
            `traefik.http.routers.${n}.priority=30000`,
            `traefik.http.routers.${n}.entrypoints=web`,
            `traefik.http.routers.${n}.middlewares=${n}-strip`,
            `traefik.http.middlewares.${n}-strip.stripprefix.prefixes=/shop`,
        ]);
    });

    it("runs Spin with raw_exec from a given binary, as the agent's user, when the runtime says so", () => {
        const { task, args } = parts({ ...PREFIX, runtime: { driver: "raw_exec", spinBinary: "/home/u/.cache/spin-cloud/bin/spin" } });
        assert.equal(task.Driver, "raw_exec");
        assert.equal(task.User, undefined, "raw_exec cannot switch users unless Nomad runs as root");
        assert.deepEqual(task.Config, { command: "/home/u/.cache/spin-cloud/bin/spin", args: spinUpArgs() });
        assert.deepEqual(args, spinUpArgs());
        assertValidNomadJob(spinAppJob({ ...PREFIX, runtime: { driver: "raw_exec", spinBinary: "/opt/spin" } }), "raw_exec app");
        assert.equal(parts(PREFIX).task.Driver, "exec", "exec by default");
    });

    it("fetches one checksum-pinned artifact per parcel from Bindle's parcel path into local/app", () => {
        const { task } = parts(HOSTS);
        const base = "http://bindle.service.consul:8085/v1/_i/hello/1.0.0-sha-0123456789abcdef@";
        assert.deepEqual(task.Artifacts, [
            { GetterSource: base + SHA.manifest, GetterOptions: { checksum: `sha256:${SHA.manifest}` }, GetterMode: "file", RelativeDest: "local/app/spin.toml" },
            { GetterSource: base + SHA.page, GetterOptions: { checksum: `sha256:${SHA.page}` }, GetterMode: "file", RelativeDest: "local/app/static/index.html" },
            { GetterSource: base + SHA.wasm, GetterOptions: { checksum: `sha256:${SHA.wasm}` }, GetterMode: "file", RelativeDest: "local/app/target/hello.wasm" },
        ]);
        assert.equal(parcelUrl("http://b:1/v1/", "a/1.0.0", SHA.page), `http://b:1/v1/_i/a/1.0.0@${SHA.page}`);
    });

    it("runs the node's spin binary as nobody with spin up --from the manifest, listening on the dynamic port", () => {
        const { group, task, args } = parts(HOSTS);
        assert.equal(task.Driver, "exec");
        assert.equal(task.User, "nobody");
        assert.equal(task.Config.command, NODE_LAYOUT.spin.binary);
        assert.deepEqual(task.Config.cap_drop, ["all"]);
        assert.deepEqual(args, spinUpArgs());
        assert.deepEqual(args, ["up", "--from", "${NOMAD_TASK_DIR}/app/spin.toml", "--listen", "${NOMAD_IP_http}:${NOMAD_PORT_http}",
            "--state-dir", "${NOMAD_TASK_DIR}/spin-state", "--log-dir", ""]);
        // up.rs: its own flags (--from) before the ones it passes through to the trigger.
        assert.equal(args.indexOf("--from"), 1);
        assert.throws(() => flagsOf(["up", "--from", "a", "--from", "b"]), /twice/);
        const flags = flagsOf(args.slice(0, -2));
        assert.deepEqual([...flags.keys()], ["--from", "--listen", "--state-dir"]);
        assert.deepEqual(group.Networks, [{ Mode: "host", DynamicPorts: [{ Label: "http" }] }]);
        assert.equal(task.Env?.HOME, "${NOMAD_TASK_DIR}");
        assert.equal(task.KillSignal, "SIGINT");
        assert.ok(task.KillTimeout! > 0 && task.KillTimeout! <= 30 * SECOND_NS);
        assert.deepEqual(task.Resources, { CPU: 100, MemoryMB: 128 });
    });

    it("registers the app's Consul service with Spin's health check and a readiness check that runs the app", () => {
        const { service } = parts(HOSTS);
        assert.equal(service.Name, "hello");
        assert.equal(service.PortLabel, "http");
        assert.equal(service.Provider, "consul");
        assert.equal(service.CanaryTags, undefined);
        assert.deepEqual(service.Checks, [{
            Name: "hello-health", Type: "http", Protocol: "http", PortLabel: "http", Path: "/.well-known/spin/health",
            Method: "GET", Interval: 10 * SECOND_NS, Timeout: 2 * SECOND_NS,
        }, {
            Name: "hello-ready", Type: "http", Protocol: "http", PortLabel: "http", Path: "/",
            Method: "GET", Interval: 15 * SECOND_NS, Timeout: 5 * SECOND_NS,
        }]);
        assert.equal(SPIN_APP_HEALTH_PATH, "/.well-known/spin/health");
        const custom = parts({ ...HOSTS, readiness: { path: "/api/health?deep=1" } }).service.Checks!;
        assert.equal(custom[1].Path, "/api/health?deep=1");
    });

    it("deploys one auto-promoted canary on checks, auto-reverting, deregistering before stopping", () => {
        const { group } = parts(HOSTS);
        assert.deepEqual(group.Update, {
            MaxParallel: 1, HealthCheck: "checks", MinHealthyTime: 10 * SECOND_NS, HealthyDeadline: 180 * SECOND_NS,
            ProgressDeadline: 600 * SECOND_NS, AutoRevert: true, AutoPromote: true, Canary: 1,
        });
        const noCanary = parts({ ...HOSTS, update: { canary: 0, maxParallel: 2 } }).group.Update!;
        assert.equal(noCanary.Canary, 0);
        assert.equal(noCanary.AutoPromote, false, "Nomad refuses auto_promote without canaries");
        assert.equal(noCanary.MaxParallel, 2);
        assert.equal(noCanary.AutoRevert, true);
        assert.equal(group.ShutdownDelay, SPIN_APP_SHUTDOWN_DELAY_SECONDS * SECOND_NS);
        assert.ok(SPIN_APP_SHUTDOWN_DELAY_SECONDS > 15 + 2, "longer than Traefik's refresh interval and throttle");
        assert.deepEqual(group.RestartPolicy, { Attempts: 2, Interval: 300 * SECOND_NS, Delay: 15 * SECOND_NS, Mode: "fail" });
        assert.equal(group.ReschedulePolicy?.Unlimited, true);
        assert.equal(SPIN_APP_DEFAULT_UPDATE.canary, 1);
    });

    it("spreads over availability zones and runs only on spin clients of the architecture", () => {
        for (const [architecture, goarch] of [["arm64", "arm64"], ["x86_64", "amd64"]] as const) {
            const { group } = parts({ ...HOSTS, architecture });
            assert.deepEqual(group.Spreads, [{ Attribute: "${attr.platform.aws.placement.availability-zone}", Weight: 100 }]);
            assert.deepEqual(group.Constraints, [
                { LTarget: "${node.class}", RTarget: CLIENT_NODE_CLASS, Operand: "=" },
                { LTarget: "${attr.cpu.arch}", RTarget: goarch, Operand: "=" },
            ]);
        }
    });

    it("passes plain variables as SPIN_VARIABLE_* env and secret ones only through the Nomad Variable template", () => {
        const { task } = parts(HOSTS);
        assert.deepEqual(task.Env, { HOME: "${NOMAD_TASK_DIR}", RUST_LOG: "spin=info", SPIN_VARIABLE_API_URI: "https://api.example.com" });
        assert.equal(spinVariableEnvName("api_token"), "SPIN_VARIABLE_API_TOKEN");
        assert.equal(jobVariablePath("app-hello"), "nomad/jobs/app-hello");
        assert.deepEqual(task.Templates, [{
            EmbeddedTmpl: '{{ with nomadVar "nomad/jobs/app-hello" }}'
                + "{{ with .api_token.Value }}SPIN_VARIABLE_API_TOKEN={{ . | toJSON }}\n{{ end }}"
                + "{{ with .db_password.Value }}SPIN_VARIABLE_DB_PASSWORD={{ . | toJSON }}\n{{ end }}{{ end }}",
            DestPath: SPIN_APP_SECRETS_ENV_FILE, Envvars: true, ChangeMode: "noop", Perms: "400",
        }]);
        assert.ok(SPIN_APP_SECRETS_ENV_FILE.startsWith("secrets/"));
        // Outside template actions there are only env names: no value can be in the jobspec.
        assert.equal(task.Templates![0].EmbeddedTmpl.replace(/\{\{[^}]*\}\}/g, ""), "SPIN_VARIABLE_API_TOKEN=\nSPIN_VARIABLE_DB_PASSWORD=\n");
        const plain = parts({ ...HOSTS, variables: { values: { a: "1" } } }).task;
        assert.deepEqual(plain.Templates, [], "no secrets, no template (nomadVar would block on a missing variable)");
    });

    it("renders deterministically, independent of key and parcel order", () => {
        const text = renderSpinAppJobspec(HOSTS);
        assert.deepEqual(JSON.parse(text), { Job: spinAppJob(HOSTS) });
        const shuffled: SpinAppJobInput = {
            ...HOSTS,
            env: { ...HOSTS.env },
            variables: { secrets: ["db_password", "api_token"], values: { ...HOSTS.variables!.values } },
            bindle: { ...HOSTS.bindle, parcels: [...HOSTS.bindle.parcels].reverse() },
        };
        assert.equal(renderSpinAppJobspec(shuffled), text);
        assert.notEqual(renderSpinAppJobspec(PREFIX), text);
    });

    const bad: [string, (i: SpinAppJobInput) => SpinAppJobInput, RegExp][] = [
        ["name not a DNS label", (i) => ({ ...i, name: "Hello_App" }), /name is "Hello_App"; must be a DNS label/],
        ["name too long", (i) => ({ ...i, name: "a".repeat(SPIN_APP_LIMITS.nameMaxLength + 1) }), /name is "a{64}"/],
        ["reserved name", (i) => ({ ...i, name: "bindle" }), /name is "bindle"; is reserved/],
        ["no datacenter", (i) => ({ ...i, datacenters: [] }), /datacenters is \[\]/],
        ["bad datacenter", (i) => ({ ...i, datacenters: ["dc 1"] }), /datacenters\[0\] is "dc 1"/],
        ["zero instances", (i) => ({ ...i, instances: 0 }), /instances is 0; must be an integer from 1 to 100/],
        ["fractional instances", (i) => ({ ...i, instances: 1.5 }), /instances is 1.5/],
        ["memory too low", (i) => ({ ...i, resources: { cpuMhz: 100, memoryMb: 32 } }), /resources\.memoryMb is 32; must be an integer from 128 to 4096/],
        ["memory too high", (i) => ({ ...i, resources: { cpuMhz: 100, memoryMb: 8192 } }), /resources\.memoryMb is 8192/],
        ["cpu too low", (i) => ({ ...i, resources: { cpuMhz: 10, memoryMb: 128 } }), /resources\.cpuMhz is 10; must be an integer from 50 to 8000/],
        ["no hosts", (i) => ({ ...i, routing: { kind: "hosts", hosts: [] } }), /routing\.hosts is \[\]/],
        ["bad host", (i) => ({ ...i, routing: { kind: "hosts", hosts: [HOST, "Bad_Host"] } }), /routing\.hosts\[1\] is "Bad_Host"/],
        ["duplicate host", (i) => ({ ...i, routing: { kind: "hosts", hosts: [HOST, HOST] } }), /routing\.hosts .*unique/],
        ["bad prefix", (i) => ({ ...i, routing: { kind: "pathPrefix", prefix: "/a/b" } }), /routing\.prefix is "\/a\/b"/],
        ["bad prefix with hosts", (i) => ({ ...i, routing: { kind: "hostsPathPrefix", hosts: [HOST], prefix: "shop" } }), /routing\.prefix is "shop"/],
        ["no hosts with a prefix", (i) => ({ ...i, routing: { kind: "hostsPathPrefix", hosts: [], prefix: "/shop" } }), /routing\.hosts is \[\]/],
        ["relative spin binary", (i) => ({ ...i, runtime: { driver: "raw_exec", spinBinary: "bin/spin" } }), /runtime\.spinBinary is "bin\/spin"/],
        ["unknown driver", (i) => ({ ...i, runtime: { driver: "docker" } as never }), /runtime\.driver is "docker"/],
        ["unknown routing", (i) => ({ ...i, routing: { kind: "dns" } as never }), /routing\.kind is "dns"/],
        ["no parcels", (i) => ({ ...i, bindle: { ...i.bindle, parcels: [] } }), /bindle\.parcels is \[\]/],
        ["no manifest", (i) => ({ ...i, bindle: { ...i.bindle, parcels: i.bindle.parcels.filter((p) => p.path !== "spin.toml") } }), /bindle\.parcels .*exactly one parcel must be spin\.toml/],
        ["two manifests", (i) => ({ ...i, bindle: { ...i.bindle, parcels: [...i.bindle.parcels, { path: "spin.toml", sha256: SHA.page }] } }), /bindle\.parcels .*unique/],
        ["bad sha", (i) => ({ ...i, bindle: { ...i.bindle, parcels: [{ path: "spin.toml", sha256: "ABC" }] } }), /bindle\.parcels\[0\]\.sha256 is "ABC"; must be 64 lowercase hex/],
        ["escaping parcel path", (i) => ({ ...i, bindle: { ...i.bindle, parcels: [...i.bindle.parcels, { path: "../x", sha256: SHA.page }] } }), /bindle\.parcels\[3\]\.path is "\.\.\/x"/],
        ["bad bindle id", (i) => ({ ...i, bindle: { ...i.bindle, bindleId: "hello" } }), /bindle\.bindleId is "hello"/],
        ["bad base URL", (i) => ({ ...i, bindle: { ...i.bindle, baseUrl: "ftp://bindle/v1" } }), /bindle\.baseUrl is "ftp:\/\/bindle\/v1"/],
        ["bad variable name", (i) => ({ ...i, variables: { values: { "Api-Uri": "x" } } }), /variables\.values\.Api-Uri is "Api-Uri"/],
        ["interpolated variable value", (i) => ({ ...i, variables: { values: { a: "${NOMAD_ALLOC_ID}" } } }), /variables\.values\.a is "\$\{NOMAD_ALLOC_ID\}"/],
        ["bad secret name", (i) => ({ ...i, variables: { secrets: ["a__b"] } }), /variables\.secrets\[0\] is "a__b"/],
        ["value and secret", (i) => ({ ...i, variables: { values: { a: "1" }, secrets: ["a"] } }), /variables\.secrets is \["a"\]; a variable is either/],
        ["env sets a Spin variable", (i) => ({ ...i, env: { SPIN_VARIABLE_X: "1" } }), /env\.SPIN_VARIABLE_X is "SPIN_VARIABLE_X"/],
        ["env sets HOME", (i) => ({ ...i, env: { HOME: "/" } }), /env\.HOME is "HOME"/],
        ["bad env name", (i) => ({ ...i, env: { "a-b": "1" } }), /env\.a-b is "a-b"/],
        ["canary above instances", (i) => ({ ...i, update: { canary: 3 } }), /update\.canary is 3; must be an integer from 0 to 2/],
        ["zero maxParallel", (i) => ({ ...i, update: { maxParallel: 0 } }), /update\.maxParallel is 0/],
        ["healthy deadline not above min healthy", (i) => ({ ...i, update: { minHealthySeconds: 60, healthyDeadlineSeconds: 60 } }), /update\.healthyDeadlineSeconds is 60; must be an integer from 61/],
        ["progress deadline not above healthy", (i) => ({ ...i, update: { progressDeadlineSeconds: 180 } }), /update\.progressDeadlineSeconds is 180; must be an integer from 181/],
    ];
    for (const [title, mutate, message] of bad) {
        it(`rejects ${title}, naming the field`, () => {
            assert.throws(() => spinAppJob(mutate(HOSTS)), message);
        });
    }

    it("accepts the limits themselves", () => {
        const { cpuMhz, memoryMb, instances } = SPIN_APP_LIMITS;
        for (const [cpu, mem, n] of [[cpuMhz.min, memoryMb.min, instances.min], [cpuMhz.max, memoryMb.max, instances.max]]) {
            assert.equal(spinAppJob({ ...HOSTS, instances: n, resources: { cpuMhz: cpu, memoryMb: mem } }).TaskGroups[0].Count, n);
        }
        assert.equal(spinAppJob({ ...HOSTS, name: "a".repeat(63) }).ID, `app-${"a".repeat(63)}`);
        assert.ok(SPIN_APP_RESERVED_NAMES.includes("traefik") && SPIN_APP_RESERVED_NAMES.includes("nomad-client"));
    });

    it("passes the spin-cloud-guard job policies with no violation, for both routing kinds", async () => {
        // A path-only app has no Host rule: with allowedDomains set it would match any host (policy/README.md).
        for (const [input, config] of [[HOSTS, JOB_CONFIG], [PREFIX, {}]] as const) {
            const run = await runResourcePolicies(POLICIES, [jobResource("hello", { Job: spinAppJob(input) })], "prod", config);
            assert.deepEqual(run.violations, [], input.routing.kind);
            for (const policy of ["nomad-jobspec-json", "spin-app-resources", "spin-app-health-check", "spin-app-update-auto-revert",
                "app-hosts-in-allowed-domains", "artifacts-pinned-by-checksum", "production-app-min-instances"]) {
                if (policy === "app-hosts-in-allowed-domains" && input === PREFIX) continue; // no domain configured: nothing to check
                assert.ok(run.applied.has(policy), `${policy} ran on the job`);
            }
        }
    });

    it("is seen as a Spin app by the pack: a host outside the allowed domains or a large app is reported", async () => {
        const outside = spinAppJob({ ...HOSTS, routing: { kind: "hosts", hosts: ["hello.example.org"] } });
        const big = spinAppJob({ ...HOSTS, resources: { cpuMhz: 100, memoryMb: 1024 } });
        const run = await runResourcePolicies(POLICIES, [jobResource("a", { Job: outside }), jobResource("b", { Job: big })], "dev",
            { ...JOB_CONFIG, "spin-app-resources": { maxAppMemoryMb: 512 } });
        assert.deepEqual(run.violations.map((v) => [v.policy, v.level]).sort(), [
            ["app-hosts-in-allowed-domains", "mandatory"], ["spin-app-resources", "mandatory"],
        ]);
    });
});

describe("spin app job: parcel file names", () => {
    const withPath = (p: string) => ({
        ...HOSTS,
        bindle: { ...HOSTS.bindle, parcels: [...HOSTS.bindle.parcels.filter((x) => x.path === "spin.toml"), { path: p, sha256: "c".repeat(64) }] },
    });
    const USED = ["static/logo@2x.png", "docs/[slug].html", "assets/My Photo.jpg", "i18n/français/ça.json", "fonts/Noto Sans CJK 日本語.otf",
        "a+b=c.txt", "~backup", "$HOME.txt", "100%.css", "café/menu(1).html", "weird,name;x'y\"z.txt", ".well-known/security.txt"];
    for (const p of USED) {
        it(`keeps the name Spin serves: ${p}`, () => {
            const dest = spinAppJob(withPath(p)).TaskGroups[0].Tasks[0].Artifacts!.map((a) => a.RelativeDest);
            assert.ok(dest.includes(`local/app/${p}`), dest.join(", "));
        });
    }
    const UNSAFE: [string, RegExp][] = [
        ["../escape.txt", /without empty, \. or \.\. segments/], ["static/../../x", /\.\. segments/], ["/etc/passwd", /empty/],
        ["static//double", /empty/], ["static/./x", /\. or/], ["${NOMAD_SECRETS_DIR}/x", /Nomad interpolates/],
        ["a${node.unique.id}", /Nomad interpolates/], ["line\nbreak", /control characters/], ["nul\u0000byte", /control characters/],
    ];
    for (const [p, why] of UNSAFE) {
        it(`refuses ${JSON.stringify(p)}`, () => {
            assert.throws(() => spinAppJob(withPath(p)), (e: Error) => e.message.includes("bindle.parcels[") && why.test(e.message));
        });
    }
});

describe("spin app job: readiness and secret rotation", () => {
    for (const [path, why] of [["health", /absolute URL path/], ["/a b", /absolute URL path/], ["/${NOMAD_ALLOC_ID}", /absolute URL path/],
        ["/.well-known/spin/health", /Spin answers \/\.well-known\/spin\/ itself/]] as const) {
        it(`refuses readiness path ${JSON.stringify(path)}`, () => {
            assert.throws(() => spinAppJob({ ...HOSTS, readiness: { path } }), (e: Error) => e.message.startsWith("spin app job: readiness.path is") && why.test(e.message));
        });
    }

    it("puts the secrets' digest in the meta (a changed secret is a new job version) and never restarts on a Variable change", () => {
        const digest = "d".repeat(64);
        const job = spinAppJob({ ...HOSTS, variables: { ...HOSTS.variables, secretsDigest: digest } });
        assert.equal(job.Meta!.spin_cloud_secrets, digest);
        assert.equal(spinAppJob(HOSTS).Meta!.spin_cloud_secrets, undefined);
        assert.ok(job.TaskGroups[0].Tasks[0].Templates!.every((t) => t.ChangeMode !== "restart" || !t.Envvars), "the secrets template does not restart");
        assert.throws(() => spinAppJob({ ...HOSTS, variables: { ...HOSTS.variables, secretsDigest: "s3cret" } }), /secretsDigest is "s3cret"; must be 64 lowercase hex/);
    });
});
