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
    BINDLE_VARIABLE_ITEMS,
    BINDLE_VERIFICATION_STRATEGY,
    bindleApiUrl,
    bindleJob,
    checkedBindleImage,
    BindleJobInput,
    bindleServerArgs,
    containerPathOf,
    renderBindleJobspec,
} from "../../provisioning/jobs/bindle-job";
import { NomadJob, NomadTemplate, SECOND_NS } from "../../provisioning/jobs/nomad-api";
import { BINDLE_HOST_VOLUME, BINDLE_PORT, CLIENT_NODE_CLASS, JOB_IDS, jobVariablePath, SERVICE_NAMES } from "../../provisioning/platform";
import { Architecture } from "../../provisioning/types";
import { BINDLE, checkedImageArchitecture, ContainerImage, containerImageReference, imagePlatform } from "../../provisioning/versions";
import { assertValidNomadJob } from "../harness/nomad-job-schema";
import { runResourcePolicies } from "../fixtures/policy/harness";
import { JOB_CONFIG, jobResource } from "../fixtures/policy/jobs";

// x86_64: the only architecture the pinned image is verified for (versions.ts BINDLE.image).
const INPUT: BindleJobInput = { datacenters: ["dc-test"], architecture: "x86_64" };
/** A stand-in for an image verified for both platforms, to test what does not depend on the image. */
const MULTI_ARCH: ContainerImage = {
    ...BINDLE.image, digest: "sha256:" + "cd".repeat(32),
    verifiedPlatforms: { "linux/amd64": "test", "linux/arm64": "test" },
};
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
    assert.equal(group.Tasks.length, 1);
    const task = group.Tasks[0];
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
            assertValidNomadJob(bindleJob({ ...INPUT, architecture, image: MULTI_ARCH }), `bindle ${architecture}`);
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
            assert.deepEqual(bindleJob({ ...INPUT, architecture, image: MULTI_ARCH }).Constraints, [
                { LTarget: "${node.class}", RTarget: CLIENT_NODE_CLASS, Operand: "=" },
                { LTarget: "${attr.cpu.arch}", RTarget: goarch, Operand: "=" },
            ]);
        }
    });

    it("runs the pinned image under docker, replacing the image's --unauthenticated CMD", () => {
        assert.equal(task.Driver, "docker");
        assert.equal(config.image, containerImageReference(BINDLE.image));
        assert.match(config.image, /^ghcr\.io\/fermyon\/bindle(:v0\.8\.2|@sha256:[0-9a-f]{64})$/);
        assert.equal(config.command, BINDLE_CONTAINER_PATHS.binary);
        assert.deepEqual(config.args, bindleServerArgs());
        assert.deepEqual(config.cap_drop, ["all"]);
        assert.equal(config.privileged, undefined);
        assert.equal(job.Meta?.bindle_version, BINDLE.version);
        const digest = "sha256:" + "ab".repeat(32);
        const pinned = bindleJob({ ...INPUT, image: { ...BINDLE.image, digest } });
        assert.equal(parts(pinned).config.image, `ghcr.io/fermyon/bindle@${digest}`);
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
        assert.equal(task.User, `${BINDLE_UID}:${BINDLE_GID}`);
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
        assert.equal(config.network_mode, "host");
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
        assert.notEqual(text, renderBindleJobspec({ ...INPUT, architecture: "arm64", image: MULTI_ARCH }));
    });

    it("passes the spin-cloud-guard policy pack", async () => {
        const run = await runResourcePolicies(POLICIES, [jobResource("bindle", { Job: job })], "test", JOB_CONFIG);
        assert.deepEqual(run.violations, []);
        assert.ok(run.applied.has("nomad-jobspec-json"));
    });
});

describe("bindle client requirements and image pinning", () => {
    it("asks clients for Ubuntu's docker.io and a locked-down docker plugin", () => {
        assert.deepEqual(BINDLE_CLIENT_REQUIREMENTS.aptPackages, ["docker.io"]);
        assert.deepEqual(BINDLE_CLIENT_REQUIREMENTS.nomadPlugins, { docker: { allow_privileged: false, volumes: { enabled: false } } });
    });

    it("asks for the host volume owned by the container user", () => {
        const volume = BINDLE_CLIENT_REQUIREMENTS.hostVolume;
        assert.equal(volume.name, BINDLE_HOST_VOLUME.name);
        assert.equal(volume.path, BINDLE_HOST_VOLUME.path);
        assert.equal(`${volume.uid}:${volume.gid}`, parts(bindleJob(INPUT)).task.User);
    });

    it("pins the image by digest when one is recorded, else by exact tag", () => {
        assert.equal(containerImageReference({ repository: "r/x", tag: "v1", digest: null }), "r/x:v1");
        const digest = "sha256:" + "0f".repeat(32);
        assert.equal(containerImageReference({ repository: "r/x", tag: "v1", digest }), `r/x@${digest}`);
        assert.throws(() => containerImageReference({ repository: "r/x", tag: "v1", digest: "sha256:ABC" }), /64 lowercase hex/);
        assert.equal(BINDLE.image.tag, `v${BINDLE.version}`);
        assert.notEqual(BINDLE.image.tag, "latest");
    });

    it("checkedBindleImage refuses arm64 clients with the pinned image (verified for linux/amd64 only), naming architecture and the way out", () => {
        assert.deepEqual(Object.keys(BINDLE.image.verifiedPlatforms), ["linux/amd64"], "no arm64 variant or digest is verified anywhere (versions.ts)");
        assert.deepEqual([imagePlatform("arm64"), imagePlatform("x86_64")], ["linux/arm64", "linux/amd64"]);
        for (const attempt of [() => checkedBindleImage("arm64"), () => checkedImageArchitecture(BINDLE.image, "arm64", "the Bindle image")]) {
            assert.throws(attempt, (e: Error) => {
                for (const part of ['architecture = "arm64" is not allowed with the Bindle image ghcr.io/fermyon/bindle:v0.8.2',
                    "verified only for linux/amd64, not linux/arm64", "spin-cloud:architecture to x86_64", "serverInstanceType", "clientInstanceType",
                    "provisioning/versions.ts", "Before the first deploy"]) {
                    assert.ok(e.message.includes(part), `"${e.message}" lacks "${part}"`);
                }
                return true;
            });
        }
        assert.equal(checkedBindleImage("x86_64"), BINDLE.image);
        // An image recorded as verified for arm64 is accepted there; one verified for nothing is refused everywhere.
        assert.equal(checkedBindleImage("arm64", MULTI_ARCH), MULTI_ARCH);
        assert.throws(() => checkedImageArchitecture({ ...BINDLE.image, verifiedPlatforms: {} }, "x86_64", "the Bindle image"), /verified only for no platform, not linux\/amd64/);
    });
});
