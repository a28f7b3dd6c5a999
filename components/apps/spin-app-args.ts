/**
 * SpinApp arguments: their types, defaults in one place, and the checks that run before the app
 * registers anything. Every error names the app, the field, the value and what is allowed.
 */
import * as pulumi from "@pulumi/pulumi";
import { SpinAppParcel, SpinAppRouting, SpinAppUpdate } from "../../provisioning/jobs/spin-app-job";
import { AppCloud, AppPlatform } from "../platform/app-platform";
import { SpinVariable } from "./manifest";
import { DEFAULT_KEEP_REVISIONS, MAX_KEEP_REVISIONS } from "../bindle/push";
import type { AppStoresArgs } from "./stores";

/** An app already in the cloud's Bindle (pushed by another pipeline): run it, push nothing. */
export interface PrebuiltBindle {
    /** `<name>/<version>` of the bindle. */
    id: string;
    /** Every parcel of its invoice: path (label `name`) and sha256; one must be `spin.toml`. */
    parcels: SpinAppParcel[];
}

export interface SpinAppArgs {
    /** The cloud to deploy to: a SpinCloud (AWS) or a LocalCloud. */
    cloud: AppCloud;
    /**
     * A Spin application directory (with `spin.toml` and its built files), relative to where
     * `pulumi` runs. Exactly one of `source` and `bindle`.
     */
    source?: string;
    /** A bindle already on the cloud's Bindle server. Exactly one of `source` and `bindle`. */
    bindle?: PrebuiltBindle;
    /**
     * DNS names the app answers on. Default with a domain: `<name>.<appsDomain>`. Without a
     * domain and without hosts, the app is served under a path prefix on the shared endpoint.
     */
    hosts?: string[];
    /**
     * Serve the app under this path (`/shop`: `/shop` and `/shop/…`, the prefix stripped) of its
     * hosts, or of the shared endpoint when it has none. Default without hosts: `/<name>`.
     */
    pathPrefix?: string;
    /** Instances, spread over availability zones. Default 2. */
    instances?: number;
    /** Per instance. Defaults (SPIN_APP_DEFAULTS): 100 MHz, 512 MB, from the measured compile peak (README "Declaring apps"). */
    resources?: { cpuMhz?: number; memoryMb?: number };
    /** Environment of the Spin runtime process (not of the components). */
    environment?: Record<string, string>;
    /** Spin application variables, visible in the Nomad job. */
    variables?: Record<string, string>;
    /** Secret Spin application variables: kept as Pulumi secrets, handed over as a Nomad Variable. */
    secretVariables?: Record<string, pulumi.Input<string>>;
    /**
     * The readiness check: `GET <path>` on every instance must answer 2xx (Consul's HTTP check)
     * before a new version takes traffic and its canary is promoted. Default: the first public
     * route of spin.toml without parameters (`/...` → `/`, `/api/...` → `/api/`), `/` for a
     * prebuilt bindle. README "Declaring apps".
     */
    healthCheck?: { path?: string };
    /** Rolling update; defaults: one canary, auto-promote, auto-revert. */
    update?: Partial<SpinAppUpdate>;
    /**
     * Revisions of a `source` app kept on Bindle: `keep` (1–50, default 5) newest bindles, the
     * running one included, stay fetchable (rollback, `nomad job revert`); `yankExpired` yanks
     * the ones that fall out (and all on removal). A yanked bindle can never be pushed again.
     */
    revisions?: { keep?: number; yankExpired?: boolean };
    /**
     * Per-store options of the key-value stores and SQLite databases the app's spin.toml declares
     * (`key_value_stores`, `sqlite_databases`); every declared label is provisioned without any.
     * For a prebuilt `bindle`, the labels it uses. README "Data".
     */
    stores?: AppStoresArgs;
    /**
     * Rollback: run this retained revision (a bindle id from the `revisions` output) instead of
     * the current `source`, which is still pushed. Remove the line to run `source` again.
     */
    revision?: string;
}

/** What the checks that need no cloud read: the arguments of an app declared as data (app-declarations.ts). */
export type AppArgsWithoutCloud = Omit<SpinAppArgs, "cloud">;

/**
 * `memoryMb` 512: Spin compiles the component when an allocation starts, with no cache, under a
 * hard cgroup limit; the engine Spin 3.4 embeds (wasmtime 36.0.1) peaks at 371 MB compiling and
 * serving the 12 MB example JS component (bench/spin-memory.ts, README "Declaring apps").
 */
export const SPIN_APP_DEFAULTS = { instances: 2, cpuMhz: 100, memoryMb: 512, keepRevisions: DEFAULT_KEEP_REVISIONS } as const;

/** `revisions` and `revision` checked: keep within 1–50, a pin only for a `source` app, as a bindle id. */
export function checkRevisions(app: string, args: AppArgsWithoutCloud): { keep: number; yankExpired: boolean; pinned?: string } {
    const keep = args.revisions?.keep ?? DEFAULT_KEEP_REVISIONS;
    if (!Number.isInteger(keep) || keep < 1 || keep > MAX_KEEP_REVISIONS) {
        throw new SpinAppArgumentError(app, "revisions.keep", keep, `an integer from 1 to ${MAX_KEEP_REVISIONS}`);
    }
    const pinned = args.revision;
    if (pinned !== undefined) {
        if (args.source === undefined) throw new SpinAppArgumentError(app, "revision", pinned, "only with `source`; a prebuilt `bindle` already names what runs");
        if (!/^[A-Za-z0-9_.+-]+(\/[A-Za-z0-9_.+-]+)+$/.test(pinned)) throw new SpinAppArgumentError(app, "revision", pinned, "a bindle id <name>/<version> from the app's `revisions` output");
    }
    return { keep, yankExpired: args.revisions?.yankExpired ?? false, ...(pinned !== undefined ? { pinned } : {}) };
}

/** Paths Traefik or the platform answer themselves: an app must not take them. */
export const RESERVED_PATH_PREFIXES: readonly string[] = ["/api", "/dashboard", "/ping", "/metrics"];

/** An argument of a SpinApp that is not allowed; names the app, the field, the value and what is allowed. */
export class SpinAppArgumentError extends Error {
    constructor(app: string, field: string, value: unknown, allowed: string) {
        super(`SpinApp ${app}: ${field} = ${JSON.stringify(value)} is not allowed: ${allowed}`);
        this.name = "SpinAppArgumentError";
    }
}

/** Exactly one of `source` and `bindle`. */
export function appOrigin(app: string, args: AppArgsWithoutCloud): { kind: "source"; dir: string } | { kind: "bindle"; bindle: PrebuiltBindle } {
    if (args.source !== undefined && args.bindle === undefined) {
        return { kind: "source", dir: args.source };
    }
    if (args.bindle !== undefined && args.source === undefined) {
        return { kind: "bindle", bindle: args.bindle };
    }
    const given = args.source !== undefined ? "both" : "neither";
    throw new SpinAppArgumentError(app, "source/bindle", given, "exactly one of `source` (an app directory) and `bindle` (a prebuilt bindle)");
}

/** The Traefik routing of the app, from its hosts, path prefix and the cloud's domain. */
export function routingFor(name: string, args: SpinAppArgs, platform: AppPlatform): SpinAppRouting {
    const domain = platform.appsDomain;
    const hosts = args.hosts ?? (domain ? [`${name}.${domain}`] : []);
    hosts.forEach((host, i) => {
        if (hosts.indexOf(host) !== i) {
            throw new SpinAppArgumentError(name, `hosts[${i}]`, host, "each host once");
        }
    });
    const prefix = args.pathPrefix ?? (hosts.length === 0 ? `/${name}` : undefined);
    if (prefix === undefined) {
        return { kind: "hosts", hosts };
    }
    const field = args.pathPrefix === undefined ? "name" : "pathPrefix";
    const value = args.pathPrefix === undefined ? name : prefix;
    if (RESERVED_PATH_PREFIXES.includes(prefix)) {
        throw new SpinAppArgumentError(name, field, value, `a path other than the platform's (${RESERVED_PATH_PREFIXES.join(", ")})`);
    }
    return hosts.length === 0 ? { kind: "pathPrefix", prefix } : { kind: "hostsPathPrefix", hosts, prefix };
}

/** Hosts and path prefixes taken so far, per cloud: two apps must never claim the same route. */
const claimedRoutes = new WeakMap<AppPlatform, Map<string, string>>();

/** Records the app's routes on the cloud; fails if another app already has one of them. */
export function claimRoutes(platform: AppPlatform, app: string, routing: SpinAppRouting): void {
    const routes = claimedRoutes.get(platform) ?? new Map<string, string>();
    claimedRoutes.set(platform, routes);
    const claims: [string, string, string][] = routing.kind === "pathPrefix"
        ? [["pathPrefix", routing.prefix, `*${routing.prefix}`]]
        : routing.hosts.map((host, i) => [`hosts[${i}]`, host, `${host}${routing.kind === "hostsPathPrefix" ? routing.prefix : ""}`]);
    for (const [field, value, key] of claims) {
        const owner = routes.get(key);
        if (owner !== undefined && owner !== app) {
            throw new SpinAppArgumentError(app, field, value, `a route no other app has; SpinApp ${owner} already answers on it`);
        }
    }
    claims.forEach(([, , key]) => routes.set(key, app));
}

/**
 * The app has an HTTP trigger: the job serves it behind Traefik, passes `--listen` (which only
 * the HTTP trigger takes: spinframework/spin v3.4.0 src/commands/up.rs matches each trigger's
 * options, and a lone non-HTTP trigger rejects it) and health-checks it over HTTP. Other triggers
 * beside an HTTP one run in the same `spin up`.
 */
export function checkTriggers(app: string, triggers: readonly { readonly type: string }[]): void {
    if (!triggers.some((t) => t.type === "http")) {
        const types = [...new Set(triggers.map((t) => t.type))].sort();
        throw new SpinAppArgumentError(app, "source", `spin.toml with ${types.length ? types.map((t) => `[[trigger.${t}]]`).join(", ") : "no trigger"}`,
            "an app with at least one [[trigger.http]]: spin-cloud routes, health-checks and serves HTTP apps (README \"Declaring apps\")");
    }
}

/** Every variable the manifest requires is given, and secret ones only as secrets. */
export function checkVariables(app: string, declared: readonly SpinVariable[], args: AppArgsWithoutCloud): void {
    const plain = args.variables ?? {};
    const secret = args.secretVariables ?? {};
    for (const variable of declared) {
        if (variable.secret && variable.name in plain) {
            throw new SpinAppArgumentError(app, `variables.${variable.name}`, "(set)",
                "nothing: spin.toml declares it secret; pass it in secretVariables so it stays a secret");
        }
        if (variable.required && !(variable.name in plain) && !(variable.name in secret)) {
            throw new SpinAppArgumentError(app, `${variable.secret ? "secretVariables" : "variables"}.${variable.name}`, undefined,
                "a value: spin.toml declares it required and without a default");
        }
    }
    for (const name of [...Object.keys(plain), ...Object.keys(secret)]) {
        if (!declared.some((v) => v.name === name)) {
            throw new SpinAppArgumentError(app, `variables.${name}`, "(set)", `a variable spin.toml declares (${declared.map((v) => v.name).join(", ") || "none"})`);
        }
    }
}
