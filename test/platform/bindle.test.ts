import { strict as assert } from "assert";
import { parse as parseToml } from "smol-toml";
import { POLICIES } from "../../policy/policies";
import {
    BINDLE_CLIENT_REQUIREMENTS,
    BINDLE_CONTAINER_PATHS,
    BINDLE_DEFAULT_RESOURCES,
    BINDLE_EMPTY_KEYRING,
    BINDLE_GID,
    BINDLE_HTTP_PATHS,
    BINDLE_KILL_TIMEOUT_SECONDS,
    BINDLE_PORT_LABEL,
    BINDLE_TEMPLATE_PATHS,
    BINDLE_UID,
    BINDLE_USER,
    BINDLE_VARIABLE_ITEMS,
    BINDLE_VERIFICATION_STRATEGY,
    bindleApiUrl,
    bindleJob,
    BindleJobInput,
    bindleServerArgs,
    containerPathOf,
    renderBindleJobspec,
} from "../../provisioning/jobs/bindle-job";
import { BINDLE_REPAIR_TASK } from "../../provisioning/jobs/bindle-repair";
import { NomadJob, NomadTemplate, SECOND_NS } from "../../provisioning/jobs/nomad-api";
import { BINDLE_HOST_VOLUME, BINDLE_PORT, CLIENT_NODE_CLASS, JOB_IDS, jobVariablePath, SERVICE_NAMES } from "../../provisioning/platform";
import { Architecture } from "../../provisioning/types";
import { artifactChecksum, BINDLE, bindleArtifact, bindleTarballUrl } from "../../provisioning/versions";
import { assertValidNomadJob } from "../harness/nomad-job-schema";
import { runResourcePolicies } from "../fixtures/policy/harness";
import { JOB_CONFIG, jobResource } from "../fixtures/policy/jobs";

const INPUT: BindleJobInput = { datacenters: ["dc-test"], architecture: "x86_64" };
const ARCHITECTURES: readonly Architecture[] = ["arm64", "x86_64"];
const VARIABLE = jobVariablePath(JOB_IDS.bindle);

/** `--flag value` pairs → map; fails on a bare flag, a stray value or a repeated flag. */
function flagsOf(args: readonly string[]): Map<string, string> {
    assert.equal(args.length % 2, 0, `args come in --flag value pairs: ${args.join(" ")}`);
    const flags = new Map<string, string>();
    for (let i = 0; i < args.length; i += 2) {
        assert.match(args[i], /^--[a-z-]+$/);
        assert.doesNotMatch(args[i + 1], /^--/);
        assert.ok(!flags.has(args[i]), `${args[i]} given twice`);
        flags.set(args[i], args[i + 1]);
    }
    return flags;
}

function parts(job: NomadJob) {
    assert.equal(job.TaskGroups.length, 1);
    const group = job.TaskGroups[0];
    // The repair prestart (bindle-repair.ts, tested in test/jobs/bindle-repair.test.ts), then the server.
    assert.deepEqual(group.Tasks.map((t) => t.Name), [BINDLE_REPAIR_TASK, "bindle"]);
    const task = group.Tasks[1];
    return { group, task, config: task.Config as Record<string, any>, flags: flagsOf(task.Config.args as string[]) };
}

const templateAt = (templates: readonly NomadTemplate[] | undefined, dest: string): NomadTemplate => {
    const found = (templates ?? []).filter((t) => t.DestPath === dest);
    assert.equal(found.length, 1, `one template renders ${dest}`);
    return found[0];
};

describe("bindle job", () => {
    const job = bindleJob(INPUT);
    const { group, task, config, flags } = parts(job);

    it("is a valid Nomad job for both architectures", () => {
        for (const architecture of ARCHITECTURES) {
            assertValidNomadJob(bindleJob({ ...INPUT, architecture }), `bindle ${architecture}`);
        }
    });

    it("is one service instance named after the platform ids", () => {
        assert.equal(job.ID, JOB_IDS.bindle);
        assert.equal(job.Name, JOB_IDS.bindle);
        assert.equal(job.Type, "service");
        assert.deepEqual(job.Datacenters, ["dc-test"]);
        assert.equal(group.Count, 1);
        assert.throws(() => bindleJob({ ...INPUT, datacenters: [] }), /datacenter/);
    });

    it("runs only on spin clients of the stack's architecture", () => {
        for (const [architecture, goarch] of [["arm64", "arm64"], ["x86_64", "amd64"]] as const) {
            assert.deepEqual(bindleJob({ ...INPUT, architecture }).Constraints, [
                { LTarget: "${node.class}", RTarget: CLIENT_NODE_CLASS, Operand: "=" },
                { LTarget: "${attr.cpu.arch}", RTarget: goarch, Operand: "=" },
            ]);
        }
    });

    it("runs the 0.9.1 release tarball of the job's architecture under exec, checked against the release's sums file", () => {
        assert.equal(task.Driver, "exec");
        assert.equal(BINDLE.version, "0.9.1", "0.9.x refuses unsigned invoices; the rustls builds need no libssl");
        for (const [architecture, asset] of [["x86_64", "linux-amd64"], ["arm64", "linux-aarch64"]] as const) {
            const t = parts(bindleJob({ ...INPUT, architecture })).task;
            // In the source, not in options: Nomad refuses `file:` there (structs.go validateChecksum).
            assert.deepEqual(t.Artifacts, [{
                GetterSource: `https://bindle.blob.core.windows.net/releases/bindle-v0.9.1-${asset}.tar.gz` +
                    "?checksum=file:https://bindle.blob.core.windows.net/releases/checksums-v0.9.1.txt",
                GetterOptions: {},
                RelativeDest: "local/",
            }]);
        }
        assert.equal(config.command, "local/bindle-server", "exec looks in local/ first, where the tarball is unpacked");
        assert.equal(config.command, BINDLE_CONTAINER_PATHS.binary);
        assert.deepEqual(config.args, bindleServerArgs());
        assert.deepEqual(Object.keys(config).sort(), ["args", "command"]);
        assert.equal(job.Meta?.bindle_version, BINDLE.version);
        assert.throws(() => bindleJob({ ...INPUT, runtime: { driver: "exec", architecture: "arm64" } }), /runtime\.architecture arm64 differs from the job's architecture x86_64/);
    });

    it("uses a recorded tarball digest instead of the sums file, and refuses a malformed one", () => {
        const url = bindleTarballUrl("linux", "amd64");
        assert.equal(artifactChecksum({ url, sha256: "ab".repeat(32) }), `sha256:${"ab".repeat(32)}`);
        assert.equal(artifactChecksum({ url, sha256: null }), `file:${BINDLE.sumsUrl}`);
        assert.throws(() => artifactChecksum({ url, sha256: "AB" }), /bindle-v0\.9\.1-linux-amd64\.tar\.gz: sha256 must be 64 lowercase hex digits, got AB/);
        assert.equal(bindleArtifact("x86_64"), BINDLE.artifacts.x86_64);
        assert.equal(bindleArtifact("arm64"), BINDLE.artifacts.arm64);
    });

    it("passes every server flag once, with htpasswd as the only auth mode", () => {
        assert.deepEqual([...flags.keys()].sort(), ["--address", "--directory", "--htpasswd-file", "--keyring", "--signing-keys", "--strategy"]);
        for (const other of ["--unauthenticated", "--oidc-client-id", "--oidc-device-url", "--oidc-issuer-url", "--use-embedded-db"]) {
            assert.ok(!flags.has(other), `${other} must not be set`);
        }
        assert.equal(flags.get("--strategy"), BINDLE_VERIFICATION_STRATEGY);
        assert.equal(BINDLE_VERIFICATION_STRATEGY, "GreedyVerification");
    });

    it("reads the htpasswd and signing keys from secrets/, the keyring from local/", () => {
        assert.equal(flags.get("--htpasswd-file"), "${NOMAD_SECRETS_DIR}/htpasswd");
        assert.equal(flags.get("--signing-keys"), "${NOMAD_SECRETS_DIR}/signing-keys.toml");
        assert.equal(flags.get("--keyring"), "${NOMAD_TASK_DIR}/keyring.toml");
        for (const [flag, dest] of [["--htpasswd-file", BINDLE_TEMPLATE_PATHS.htpasswd], ["--signing-keys", BINDLE_TEMPLATE_PATHS.signingKeys], ["--keyring", BINDLE_TEMPLATE_PATHS.keyring]]) {
            templateAt(task.Templates, dest);
            assert.equal(flags.get(flag), containerPathOf(dest));
        }
        assert.ok(BINDLE_TEMPLATE_PATHS.htpasswd.startsWith("secrets/") && BINDLE_TEMPLATE_PATHS.signingKeys.startsWith("secrets/"));
        assert.throws(() => containerPathOf("/etc/bindle/htpasswd"), /secrets\/ or local\//);
        assert.throws(() => containerPathOf("secrets/a/b"), /secrets\/ or local\//);
    });

    it("renders each secret from the job's Nomad Variable, readable by the container user only", () => {
        for (const [item, dest] of [[BINDLE_VARIABLE_ITEMS.htpasswd, BINDLE_TEMPLATE_PATHS.htpasswd], [BINDLE_VARIABLE_ITEMS.signingKeys, BINDLE_TEMPLATE_PATHS.signingKeys]]) {
            const t = templateAt(task.Templates, dest);
            assert.equal(t.EmbeddedTmpl, `{{ with nomadVar "${VARIABLE}" }}{{ .${item}.Value }}{{ end }}`);
            assert.equal(t.Perms, "0400");
            assert.equal(t.Uid, BINDLE_UID);
            assert.equal(t.Gid, BINDLE_GID);
            assert.equal(t.ChangeMode, "restart");
            assert.ok(!t.Envvars, "a file, not environment variables");
        }
        assert.equal(VARIABLE, "nomad/jobs/bindle");
        assert.deepEqual(BINDLE_VARIABLE_ITEMS, { htpasswd: "htpasswd", signingKeys: "signing_keys", keyring: "keyring" });
        assert.equal(task.User, "bindle");
        assert.deepEqual([BINDLE_UID, BINDLE_GID], [BINDLE_USER.uid, BINDLE_USER.gid]);
    });

    it("falls back to Bindle's empty keyring when the keyring item is unset", () => {
        const t = templateAt(task.Templates, BINDLE_TEMPLATE_PATHS.keyring);
        assert.equal(t.EmbeddedTmpl, `{{ with nomadVar "${VARIABLE}" }}{{ with .keyring.Value }}{{ . }}{{ else }}${BINDLE_EMPTY_KEYRING}{{ end }}{{ end }}`);
        assert.deepEqual({ ...parseToml(BINDLE_EMPTY_KEYRING) }, { version: "1.0", key: [] });
        assert.equal(t.ChangeMode, "restart");
        assert.equal(t.Perms, "0444");
    });

    it("puts no secret value in the jobspec", () => {
        const text = renderBindleJobspec(INPUT);
        assert.doesNotMatch(text, /\$2[aby]\$\d\d\$/, "no bcrypt hash");
        assert.doesNotMatch(text, /keypair|PRIVATE KEY|password/i);
        for (const t of task.Templates ?? []) {
            // Outside the action delimiters a template holds nothing but the public empty keyring.
            assert.equal(t.EmbeddedTmpl.replace(/\{\{[^}]*\}\}/g, "").replace(BINDLE_EMPTY_KEYRING, ""), "", t.DestPath);
        }
        assert.deepEqual(Object.keys(task.Env ?? {}), ["RUST_LOG"]);
    });

    it("listens on the static Bindle port of the node's address", () => {
        assert.deepEqual(group.Networks, [{ Mode: "host", ReservedPorts: [{ Label: BINDLE_PORT_LABEL, Value: BINDLE_PORT }] }]);
        assert.equal(flags.get("--address"), `\${NOMAD_ADDR_${BINDLE_PORT_LABEL}}`);
        assert.equal(bindleApiUrl(), `http://bindle.service.consul:${BINDLE_PORT}/v1`);
    });

    it("registers the Consul service bindle with an HTTP check on /healthz", () => {
        assert.equal(group.Services?.length, 1);
        const svc = group.Services![0];
        assert.equal(svc.Name, SERVICE_NAMES.bindle);
        assert.equal(svc.PortLabel, BINDLE_PORT_LABEL);
        assert.equal(svc.Provider, "consul");
        assert.equal(svc.Checks?.length, 1);
        const check = svc.Checks![0];
        assert.equal(check.Type, "http");
        assert.equal(check.Path, BINDLE_HTTP_PATHS.health);
        assert.equal(check.Path, "/healthz");
        assert.equal(check.PortLabel, BINDLE_PORT_LABEL);
        assert.equal(check.Method, "GET");
        assert.ok(check.Timeout < check.Interval && check.Timeout > 0);
    });

    it("keeps its data on the EFS host volume, mounted read-write", () => {
        assert.deepEqual(group.Volumes, {
            [BINDLE_HOST_VOLUME.name]: { Name: BINDLE_HOST_VOLUME.name, Type: "host", Source: "bindle-data", ReadOnly: false },
        });
        assert.deepEqual(task.VolumeMounts, [{ Volume: BINDLE_HOST_VOLUME.name, Destination: BINDLE_CONTAINER_PATHS.data, ReadOnly: false }]);
        const dir = flags.get("--directory")!;
        assert.ok(dir.startsWith(`${BINDLE_CONTAINER_PATHS.data}/`), `${dir} is on the volume`);
    });

    it("updates one at a time on health checks, auto-reverting, never with a canary", () => {
        const u = group.Update!;
        assert.equal(u.HealthCheck, "checks");
        assert.equal(u.AutoRevert, true);
        assert.equal(u.MaxParallel, 1);
        assert.ok(!u.Canary, "no second writer during a deployment");
        assert.ok(u.MinHealthyTime < u.HealthyDeadline && u.HealthyDeadline < u.ProgressDeadline);
    });

    it("restarts in place a few times, then is rescheduled elsewhere without limit", () => {
        assert.equal(group.RestartPolicy?.Mode, "fail");
        assert.ok(group.RestartPolicy!.Attempts > 0);
        assert.equal(group.ReschedulePolicy?.Unlimited, true);
        assert.ok(group.ReschedulePolicy!.Delay > 0 && group.ReschedulePolicy!.MaxDelay >= group.ReschedulePolicy!.Delay);
        assert.equal(task.KillSignal, "SIGINT");
        assert.equal(task.KillTimeout, BINDLE_KILL_TIMEOUT_SECONDS * SECOND_NS);
        assert.ok(BINDLE_KILL_TIMEOUT_SECONDS <= 30);
    });

    it("sizes the task from defaults or input, refusing nonsense", () => {
        assert.deepEqual(task.Resources, { CPU: BINDLE_DEFAULT_RESOURCES.cpuMhz, MemoryMB: BINDLE_DEFAULT_RESOURCES.memoryMb });
        const sized = parts(bindleJob({ ...INPUT, resources: { memoryMb: 512 } })).task.Resources;
        assert.deepEqual(sized, { CPU: BINDLE_DEFAULT_RESOURCES.cpuMhz, MemoryMB: 512 });
        assert.throws(() => bindleJob({ ...INPUT, resources: { cpuMhz: 0 } }), /cpuMhz/);
        assert.throws(() => bindleJob({ ...INPUT, resources: { memoryMb: 1.5 } }), /memoryMb/);
    });

    it("renders the jobspec deterministically as { Job }", () => {
        const text = renderBindleJobspec(INPUT);
        assert.equal(text, renderBindleJobspec({ ...INPUT, datacenters: [...INPUT.datacenters] }));
        assert.deepEqual(JSON.parse(text), { Job: bindleJob(INPUT) });
        assert.notEqual(text, renderBindleJobspec({ ...INPUT, architecture: "arm64" }));
    });

    it("passes the spin-cloud-guard policy pack", async () => {
        const run = await runResourcePolicies(POLICIES, [jobResource("bindle", { Job: job })], "test", JOB_CONFIG);
        // Advisory only, until the tarball's sha256 is recorded (versions.ts BINDLE).
        assert.deepEqual(run.violations.map((v) => [v.policy, v.level]), [["artifacts-pinned-by-digest", "advisory"]]);
        assert.ok(run.applied.has("nomad-jobspec-json"));
    });
});

describe("bindle client requirements", () => {
    it("asks clients for the bindle system user with fixed ids, not docker", () => {
        assert.deepEqual(BINDLE_CLIENT_REQUIREMENTS.systemUser, { name: "bindle", uid: 8085, gid: 8085 });
        assert.deepEqual(Object.keys(BINDLE_CLIENT_REQUIREMENTS).sort(), ["hostVolume", "systemUser"]);
        assert.notEqual(BINDLE_USER.uid, 1000, "uid 1000 is Ubuntu's login user on the cloud images");
        assert.ok(BINDLE_USER.uid >= 1000 && BINDLE_USER.uid < 60000, "outside the range packages allocate system users from");
    });

    it("asks for the host volume owned by the task user", () => {
        const volume = BINDLE_CLIENT_REQUIREMENTS.hostVolume;
        assert.equal(volume.name, BINDLE_HOST_VOLUME.name);
        assert.equal(volume.path, BINDLE_HOST_VOLUME.path);
        assert.equal(parts(bindleJob(INPUT)).task.User, BINDLE_CLIENT_REQUIREMENTS.systemUser.name);
        assert.deepEqual([volume.uid, volume.gid], [BINDLE_USER.uid, BINDLE_USER.gid]);
    });
});
