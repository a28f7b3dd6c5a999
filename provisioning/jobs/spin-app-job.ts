/**
 * The Nomad job of one Spin app, a pure function of typed input: the app's Bindle parcels are
 * fetched as checksum-pinned artifacts into `local/app/`, run by the node's `spin up`, registered
 * in Consul and routed by Traefik. Secret Spin variables come from a Nomad Variable, never the spec.
 * The input types, defaults, limits and fixed names are in spin-app-job-input.ts, the input checks
 * in spin-app-input-checks.ts, routing (its checks and Traefik tags) in spin-app-routing.ts; this
 * module builds the job and re-exports their public names.
 *
 * Spin (spinframework/spin): src/commands/up.rs `-f`/`--from`, other arguments pass to the trigger,
 * working dir a fresh TempDir (the chroot's 1777 `tmp/`, nomad concepts/filesystem.mdx), SIGINT
 * (ctrlc) stops the trigger processes; crates/trigger-http/src/lib.rs `--listen`;
 * crates/trigger/src/cli.rs `--state-dir` (default `.spin/` beside spin.toml), `-L`/`--log-dir`
 * ("the empty string disables logging to disk": output goes to Nomad's rotated logs);
 * crates/variables/src/env.rs `SPIN_VARIABLE_` + uppercased name; crates/expressions `Key::validate`;
 * spin-docs content/v3/http-trigger.md `/.well-known/spin/health`. Wasmtime caches under
 * `$HOME/.cache` (crates/cache `ProjectDirs`). Bindle docs/protocol-spec.md `GET /_i/{name}@{parcel}`.
 * Nomad: client/fingerprint/env_aws.go `platform.aws.placement.availability-zone`;
 * job-specification/{spread,artifact,task,service,update}.mdx; structs UpdateStrategy.Validate
 * (min_healthy < healthy_deadline < progress_deadline, auto_promote needs a canary); exec runs as
 * `nobody`; allocdir dropDirPermissions makes `local/` 0777. Traefik v3 docs: other-providers/
 * consul-catalog.md (tags), middlewares/stripprefix.md, routing/rules-and-priority.md,
 * providers/hashicorp/consul-catalog.md (refreshInterval 15s; providersThrottleDuration 2s).
 */
import { jobVariablePath } from "../platform";
import { NODE_LAYOUT } from "../agents/node-layout";
import { minutes, NomadArtifact, NomadJob, NomadService, NomadTask, NomadTaskGroup, NomadTemplate, renderJobspec, seconds } from "./nomad-api";
import {
    checkedDatacenters, checkedName, checkedParcels, checkedReadiness, checkedSecrets, checkedSpinBinary, checkedUpdate, fail, integerIn, taskEnv,
} from "./spin-app-input-checks";
import {
    parcelUrl, SPIN_APP_DIR, SPIN_APP_HEALTH_PATH, SPIN_APP_KILL_TIMEOUT_SECONDS, SPIN_APP_KIND_META, SPIN_APP_LIMITS,
    SPIN_APP_MANIFEST, SPIN_APP_PORT_LABEL, SPIN_APP_SECRETS_ENV_FILE, SPIN_APP_SHUTDOWN_DELAY_SECONDS, spinAppJobId,
    SpinAppJobInput, SpinAppRuntime, spinVariableEnvName,
} from "./spin-app-job-input";
import { checkedRouting, spinAppTraefikTags } from "./spin-app-routing";
import { storesTaskParts, withStoresEnv } from "./spin-runtime-config";
import { clientConstraints } from "./placement";

export {
    parcelUrl, SPIN_APP_DEFAULT_UPDATE, SPIN_APP_DIR, SPIN_APP_HEALTH_PATH, SPIN_APP_KILL_TIMEOUT_SECONDS, SPIN_APP_KIND_META,
    SPIN_APP_LIMITS, SPIN_APP_MANIFEST, SPIN_APP_NAME_PATTERN, SPIN_APP_PORT_LABEL, SPIN_APP_PREFIX_PATTERN, SPIN_APP_RESERVED_NAMES,
    SPIN_APP_SECRETS_ENV_FILE, SPIN_APP_SHUTDOWN_DELAY_SECONDS, spinAppJobId, spinAppRouterName, spinVariableEnvName,
} from "./spin-app-job-input";
export type { SpinAppJobInput, SpinAppParcel, SpinAppReadiness, SpinAppRouting, SpinAppRuntime, SpinAppUpdate } from "./spin-app-job-input";
export { SPIN_APP_DEFAULT_READINESS } from "./spin-app-input-checks";
export { spinAppTraefikTags } from "./spin-app-routing";

/** `spin up`'s own flags first, then the trigger's (up.rs passes unknown arguments through). */
export function spinUpArgs(): string[] {
    return [
        "up",
        "--from", `\${NOMAD_TASK_DIR}/app/${SPIN_APP_MANIFEST}`,
        "--listen", `\${NOMAD_IP_${SPIN_APP_PORT_LABEL}}:\${NOMAD_PORT_${SPIN_APP_PORT_LABEL}}`,
        "--state-dir", "${NOMAD_TASK_DIR}/spin-state",
        "--log-dir", "",
    ];
}

/** The task's driver and config for `spin up` under the runtime. */
function spinTask(runtime: SpinAppRuntime, extraArgs: readonly string[]): Pick<NomadTask, "Driver" | "User" | "Config"> {
    const args = [...spinUpArgs(), ...extraArgs];
    switch (runtime.driver) {
        case "exec":
            return { Driver: "exec", User: "nobody", Config: { command: NODE_LAYOUT.spin.binary, args, cap_drop: ["all"] } };
        case "raw_exec":
            return { Driver: "raw_exec", Config: { command: checkedSpinBinary(runtime.spinBinary), args } };
        default:
            return fail("runtime.driver", (runtime as { driver: unknown }).driver, 'must be "exec" or "raw_exec"');
    }
}

/** One env line per secret; an unset or empty item is left out, so Spin falls back to the manifest default. */
function secretsTemplate(jobId: string, secrets: readonly string[]): NomadTemplate[] {
    if (secrets.length === 0) return [];
    const lines = secrets.map((s) => `{{ with .${s}.Value }}${spinVariableEnvName(s)}={{ . | toJSON }}\n{{ end }}`).join("");
    return [{
        EmbeddedTmpl: `{{ with nomadVar "${jobVariablePath(jobId)}" }}${lines}{{ end }}`,
        // noop: a changed secret rolls out as a new job version (meta digest), never as a restart of
        // every instance at once (template.mdx change_mode).
        DestPath: SPIN_APP_SECRETS_ENV_FILE, Envvars: true, ChangeMode: "noop", Perms: "400",
    }];
}

export interface SpinAppTaskGroup extends NomadTaskGroup {
    /** Group `shutdown_delay` (not yet in nomad-api.ts): services deregistered this long before the task stops. */
    readonly ShutdownDelay: number;
}
export interface SpinAppNomadJob extends NomadJob { readonly TaskGroups: SpinAppTaskGroup[] }

export function spinAppJob(input: SpinAppJobInput): SpinAppNomadJob {
    const name = checkedName(input.name);
    const datacenters = checkedDatacenters(input.datacenters);
    const instances = integerIn("instances", input.instances, SPIN_APP_LIMITS.instances.min, SPIN_APP_LIMITS.instances.max);
    const { cpuMhz, memoryMb } = SPIN_APP_LIMITS;
    const cpu = integerIn("resources.cpuMhz", input.resources.cpuMhz, cpuMhz.min, cpuMhz.max);
    const memory = integerIn("resources.memoryMb", input.resources.memoryMb, memoryMb.min, memoryMb.max);
    const routing = checkedRouting(input.routing);
    const parcels = checkedParcels(input.bindle);
    const update = checkedUpdate(input.update, instances);
    const jobId = spinAppJobId(name);
    const secrets = checkedSecrets(input);
    const runtime = input.runtime ?? { driver: "exec" };
    const stores = storesTaskParts(jobId, input.stores, runtime.driver);
    const env = withStoresEnv(taskEnv(input), stores.env);
    const readiness = checkedReadiness(input.readiness);
    const digest = input.variables?.secretsDigest;
    if (digest !== undefined && !/^[0-9a-f]{64}$/.test(digest)) fail("variables.secretsDigest", digest, "must be 64 lowercase hex digits (a keyed SHA-256)");

    // go-getter verifies each download against its sha256 before the task starts (artifact.mdx).
    const artifacts: NomadArtifact[] = parcels.map((p) => ({
        GetterSource: parcelUrl(input.bindle.baseUrl, input.bindle.bindleId, p.sha256),
        GetterOptions: { checksum: `sha256:${p.sha256}` },
        GetterMode: "file",
        RelativeDest: `${SPIN_APP_DIR}/${p.path}`,
    }));
    const service: NomadService = {
        Name: name,
        PortLabel: SPIN_APP_PORT_LABEL,
        Provider: "consul",
        // No CanaryTags: a canary takes its share of traffic under the same router (service.mdx canary_tags).
        Tags: spinAppTraefikTags(name, routing),
        Checks: [{
            Name: `${name}-health`, Type: "http", Protocol: "http", PortLabel: SPIN_APP_PORT_LABEL,
            Path: SPIN_APP_HEALTH_PATH, Method: "GET", Interval: seconds(10), Timeout: seconds(2),
        }, {
            // Runs the app: a component that fails every request never becomes healthy.
            Name: `${name}-ready`, Type: "http", Protocol: "http", PortLabel: SPIN_APP_PORT_LABEL,
            Path: readiness.path, Method: "GET", Interval: seconds(15), Timeout: seconds(5),
        }],
    };
    return {
        ID: jobId,
        Name: jobId,
        Type: "service",
        Datacenters: datacenters,
        Meta: {
            [SPIN_APP_KIND_META.key]: SPIN_APP_KIND_META.value, spin_cloud_app: name, bindle_id: input.bindle.bindleId,
            ...(digest !== undefined ? { spin_cloud_secrets: digest } : {}),
        },
        TaskGroups: [{
            Name: "app",
            Count: instances,
            Constraints: clientConstraints(input.architecture),
            // Soft preference: nodes without the attribute (not on EC2) still take placements.
            Spreads: [{ Attribute: "${attr.platform.aws.placement.availability-zone}", Weight: 100 }],
            Networks: [{ Mode: "host", DynamicPorts: [{ Label: SPIN_APP_PORT_LABEL }] }],
            Services: [service],
            Tasks: [{
                Name: "spin",
                ...spinTask(runtime, stores.args),
                Env: env,
                Artifacts: artifacts,
                Templates: [...secretsTemplate(jobId, secrets), ...stores.templates],
                Resources: { CPU: cpu, MemoryMB: memory },
                // SIGINT is what up.rs's ctrlc handler turns into stopping its triggers.
                KillSignal: "SIGINT",
                KillTimeout: seconds(SPIN_APP_KILL_TIMEOUT_SECONDS),
            }],
            ShutdownDelay: seconds(SPIN_APP_SHUTDOWN_DELAY_SECONDS),
            RestartPolicy: { Attempts: 2, Interval: minutes(5), Delay: seconds(15), Mode: "fail" },
            ReschedulePolicy: { Delay: seconds(30), DelayFunction: "exponential", MaxDelay: minutes(10), Unlimited: true },
            Update: {
                MaxParallel: update.maxParallel, HealthCheck: "checks", MinHealthyTime: seconds(update.minHealthySeconds),
                HealthyDeadline: seconds(update.healthyDeadlineSeconds), ProgressDeadline: seconds(update.progressDeadlineSeconds),
                AutoRevert: true, AutoPromote: update.canary > 0, Canary: update.canary,
            },
        }],
    };
}

/** The jobspec the Nomad provider registers with `json: true`. Deterministic. */
export function renderSpinAppJobspec(input: SpinAppJobInput): string {
    return renderJobspec(spinAppJob(input));
}
