/**
 * The checks spinAppJob (spin-app-job.ts) runs on its input before building the job: each either
 * returns the checked (sorted, copied) value or throws `spin app job: <field> is <value>; <rule>`.
 * Routing has its own checks in spin-app-routing.ts.
 */
import { isSafeAbsolutePath } from "../loopback";
import {
    SPIN_APP_DEFAULT_UPDATE, SPIN_APP_LIMITS, SPIN_APP_MANIFEST, SPIN_APP_NAME_PATTERN, SPIN_APP_RESERVED_NAMES,
    SpinAppJobInput, SpinAppParcel, SpinAppReadiness, SpinAppUpdate, spinVariableEnvName,
} from "./spin-app-job-input";

const SPIN_VARIABLE_NAME = /^[a-z](_?[a-z0-9])*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SHA256 = /^[0-9a-f]{64}$/;
/**
 * What a parcel path may not hold, where it goes: the artifact's `RelativeDest` under
 * `local/app/`, which Nomad interpolates (`${…}`: client/taskenv ReplaceEnv) and keeps inside the
 * task directory (`..`, an absolute path); control characters and NUL no file system or log takes
 * as a name. Everything else Spin serves (`static/logo@2x.png`, `docs/[slug].html`, spaces,
 * non-ASCII letters) is allowed.
 */
export function parcelPathProblem(path: string): string | undefined {
    if (path.includes("${")) return "must not contain ${ (Nomad interpolates it in the artifact destination)";
    if (/[\u0000-\u001f\u007f]/.test(path)) return "must not contain control characters";
    const segments = path.split("/");
    if (segments.some((s) => s === "" || s === "." || s === "..")) return "must be a relative posix path without empty, . or .. segments";
    return undefined;
}
const BINDLE_ID = /^[A-Za-z0-9_.+-]+(\/[A-Za-z0-9_.+-]+)+$/;
const BASE_URL = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~-]+)*$/;
const DATACENTER = /^[A-Za-z0-9._*-]+$/;

export function fail(field: string, value: unknown, allowed: string): never {
    throw new Error(`spin app job: ${field} is ${JSON.stringify(value)}; ${allowed}`);
}

export function integerIn(field: string, value: number, min: number, max: number): number {
    if (!Number.isInteger(value) || value < min || value > max) fail(field, value, `must be an integer from ${min} to ${max}`);
    return value;
}

function spinVariableName(field: string, name: string): string {
    if (!SPIN_VARIABLE_NAME.test(name)) fail(field, name, "Spin variable names are lowercase letters, digits and single inner underscores, starting with a letter");
    return name;
}

export function checkedName(name: string): string {
    if (!SPIN_APP_NAME_PATTERN.test(name)) fail("name", name, `must be a DNS label of at most ${SPIN_APP_LIMITS.nameMaxLength} lowercase letters, digits and inner hyphens, starting with a letter`);
    if (SPIN_APP_RESERVED_NAMES.includes(name)) fail("name", name, `is reserved (${SPIN_APP_RESERVED_NAMES.join(", ")})`);
    return name;
}

export function checkedDatacenters(datacenters: readonly string[]): string[] {
    if (datacenters.length === 0) fail("datacenters", datacenters, "give at least one datacenter");
    datacenters.forEach((dc, i) => DATACENTER.test(dc) || fail(`datacenters[${i}]`, dc, `must match ${DATACENTER}`));
    return [...datacenters];
}

/** The `raw_exec` runtime's Spin binary. */
export function checkedSpinBinary(spinBinary: string): string {
    if (!isSafeAbsolutePath(spinBinary)) fail("runtime.spinBinary", spinBinary, "must be an absolute path without spaces");
    return spinBinary;
}

export function checkedParcels(bindle: SpinAppJobInput["bindle"]): SpinAppParcel[] {
    if (!BASE_URL.test(bindle.baseUrl.replace(/\/+$/, ""))) fail("bindle.baseUrl", bindle.baseUrl, "must be an http(s) URL without credentials, query or fragment");
    if (!BINDLE_ID.test(bindle.bindleId)) fail("bindle.bindleId", bindle.bindleId, "must be <name>/<version> (invoice.ts bindleId)");
    if (bindle.parcels.length === 0) fail("bindle.parcels", bindle.parcels, "give at least one parcel");
    bindle.parcels.forEach((parcel, i) => {
        const problem = parcelPathProblem(parcel.path);
        if (problem !== undefined) fail(`bindle.parcels[${i}].path`, parcel.path, problem);
        if (!SHA256.test(parcel.sha256)) fail(`bindle.parcels[${i}].sha256`, parcel.sha256, "must be 64 lowercase hex digits");
    });
    const paths = bindle.parcels.map((p) => p.path);
    if (new Set(paths).size !== paths.length) fail("bindle.parcels", paths, "parcel paths must be unique");
    if (!paths.includes(SPIN_APP_MANIFEST)) fail("bindle.parcels", paths, `exactly one parcel must be ${SPIN_APP_MANIFEST} at the app root`);
    return [...bindle.parcels].sort((a, b) => (a.path < b.path ? -1 : 1));
}

export function checkedUpdate(given: Partial<SpinAppUpdate> | undefined, instances: number): SpinAppUpdate {
    const u = { ...SPIN_APP_DEFAULT_UPDATE, ...given };
    integerIn("update.maxParallel", u.maxParallel, 1, SPIN_APP_LIMITS.instances.max);
    integerIn("update.canary", u.canary, 0, instances);
    integerIn("update.minHealthySeconds", u.minHealthySeconds, 0, 3600);
    integerIn("update.healthyDeadlineSeconds", u.healthyDeadlineSeconds, u.minHealthySeconds + 1, 3600);
    integerIn("update.progressDeadlineSeconds", u.progressDeadlineSeconds, u.healthyDeadlineSeconds + 1, 7200);
    return u;
}

/** Task env: the caller's, non-secret Spin variables, and HOME in the task dir (nobody's HOME does not exist in the chroot). */
export function taskEnv(input: SpinAppJobInput): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(input.env ?? {})) {
        if (!ENV_NAME.test(key)) fail(`env.${key}`, key, `names must match ${ENV_NAME}`);
        if (/^(SPIN_VARIABLE_|NOMAD_)/.test(key) || key === "HOME") fail(`env.${key}`, key, "SPIN_VARIABLE_*, NOMAD_* and HOME are set by the job; pass Spin variables through variables");
        env[key] = value;
    }
    for (const [name, value] of Object.entries(input.variables?.values ?? {})) {
        spinVariableName(`variables.values.${name}`, name);
        if (value.includes("${")) fail(`variables.values.${name}`, value, "must not contain ${ (Nomad would interpolate it)");
        env[spinVariableEnvName(name)] = value;
    }
    env.HOME = "${NOMAD_TASK_DIR}";
    return Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function checkedSecrets(input: SpinAppJobInput): string[] {
    const secrets = [...(input.variables?.secrets ?? [])];
    secrets.forEach((s, i) => spinVariableName(`variables.secrets[${i}]`, s));
    if (new Set(secrets).size !== secrets.length) fail("variables.secrets", secrets, "names must be unique");
    const both = secrets.filter((s) => Object.prototype.hasOwnProperty.call(input.variables?.values ?? {}, s));
    if (both.length > 0) fail("variables.secrets", both, "a variable is either a value or a secret, not both");
    return secrets.sort();
}

/** Default readiness: `GET /`, which every HTTP app with a catch-all route answers (README "Declaring apps"). */
export const SPIN_APP_DEFAULT_READINESS: SpinAppReadiness = { path: "/" };

export function checkedReadiness(given: SpinAppReadiness | undefined): SpinAppReadiness {
    const readiness = given ?? SPIN_APP_DEFAULT_READINESS;
    const p = readiness.path;
    if (typeof p !== "string" || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%\/-]*(\?[A-Za-z0-9._~!$&'()*+,;=:@%\/?-]*)?$/.test(p) || p.includes("${")) {
        fail("readiness.path", p, "must be an absolute URL path (and query) of URL characters, e.g. / or /api/health");
    }
    if (p.startsWith("/.well-known/spin/")) fail("readiness.path", p, "must be a path of the app: Spin answers /.well-known/spin/ itself, before any component runs");
    return { path: p };
}
