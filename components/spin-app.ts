import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { bindleApiUrl } from "../provisioning/jobs/bindle-job";
import { SpinAppRouting, SpinAppUpdate, spinAppJob, spinAppJobId } from "../provisioning/jobs/spin-app-job";
import { buildInvoice, bindleId as bindleIdOf } from "./apps/invoice";
import { BindlePush, pushContent } from "./apps/bindle-push";
import { SpinVariable, readSpinApp } from "./apps/manifest";
import { jobSecrets, registerJob } from "./nomad-access";
import { SpinCloud } from "./spin-cloud";

export interface SpinAppArgs {
    /** The cloud to deploy to. */
    cloud: SpinCloud;
    /** A Spin application directory (with `spin.toml` and its built files), relative to the program. */
    source: string;
    /**
     * DNS names the app answers on. Default with a domain: `<name>.<appsDomain>`. Without a
     * domain and without hosts, the app is served under `/<name>/` on the load balancer's name.
     */
    hosts?: string[];
    /** Instances, spread over availability zones. Default 2. */
    instances?: number;
    /** Per instance. Defaults: 100 MHz, 128 MB. */
    resources?: { cpuMhz?: number; memoryMb?: number };
    /** Environment of the Spin runtime process (not of the components). */
    environment?: Record<string, string>;
    /** Spin application variables, visible in the Nomad job. */
    variables?: Record<string, string>;
    /** Secret Spin application variables: kept as Pulumi secrets, handed over as a Nomad Variable. */
    secretVariables?: Record<string, pulumi.Input<string>>;
    /** Rolling update; defaults: one canary, auto-promote, auto-revert. */
    update?: Partial<SpinAppUpdate>;
}

export const SPIN_APP_DEFAULTS = { instances: 2, cpuMhz: 100, memoryMb: 128 } as const;

/** Paths Traefik or the platform answer themselves: an app must not take them. */
export const RESERVED_PATH_PREFIXES: readonly string[] = ["/api", "/dashboard", "/ping", "/metrics"];

/** An argument of a SpinApp that is not allowed; names the app, the field, the value and what is allowed. */
export class SpinAppArgumentError extends Error {
    constructor(app: string, field: string, value: unknown, allowed: string) {
        super(`SpinApp ${app}: ${field} = ${JSON.stringify(value)} is not allowed: ${allowed}`);
        this.name = "SpinAppArgumentError";
    }
}

/** Hosts and path prefixes taken so far, per cloud: two apps must never claim the same route. */
const claimedRoutes = new WeakMap<SpinCloud, Map<string, string>>();

function claim(cloud: SpinCloud, app: string, field: string, kind: "host" | "path", route: string): void {
    const routes = claimedRoutes.get(cloud) ?? new Map<string, string>();
    claimedRoutes.set(cloud, routes);
    const key = `${kind}:${route}`;
    const owner = routes.get(key);
    if (owner !== undefined && owner !== app) {
        throw new SpinAppArgumentError(app, field, route, `a route no other app has; SpinApp ${owner} already answers on it`);
    }
    routes.set(key, app);
}

function routingFor(name: string, args: SpinAppArgs): SpinAppRouting {
    const domain = args.cloud.settings.appsDomain;
    const hosts = args.hosts ?? (domain ? [`${name}.${domain}`] : []);
    if (hosts.length === 0) {
        const prefix = `/${name}`;
        if (RESERVED_PATH_PREFIXES.includes(prefix)) {
            throw new SpinAppArgumentError(name, "name", name, `a name whose path ${prefix} is not a platform path (${RESERVED_PATH_PREFIXES.join(", ")})`);
        }
        return { kind: "pathPrefix", prefix };
    }
    const seen = new Set<string>();
    hosts.forEach((host, i) => {
        if (seen.has(host)) {
            throw new SpinAppArgumentError(name, `hosts[${i}]`, host, "each host once");
        }
        seen.add(host);
    });
    return { kind: "hosts", hosts };
}

/** Every variable the manifest requires is given, and secret ones only as secrets. */
function checkVariables(app: string, declared: readonly SpinVariable[], args: SpinAppArgs): void {
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

/**
 * A Spin application on the cloud: its files are pushed to Bindle as a content-addressed,
 * signed bindle (an unchanged app is no change at all; any changed byte is a new version and a
 * rolling update), and a Nomad service job runs it with Spin on the clients, fetching every
 * file from Bindle with its sha256 checked, routed by Traefik through Consul tags.
 * Every argument is checked, and the manifest read, before anything is registered.
 */
export class SpinApp extends pulumi.ComponentResource {
    /** Where the app answers. */
    readonly url: pulumi.Output<string>;
    /** `<name>/<version>` of the pushed bindle. */
    readonly bindleId: string;
    readonly jobId: string;

    constructor(name: string, args: SpinAppArgs, opts?: pulumi.ComponentResourceOptions) {
        const cloud = args.cloud;
        const pkg = readSpinApp(path.resolve(args.source));
        const invoice = buildInvoice(pkg, { name: `spin-cloud/${cloud.cluster.clusterName}/${name}` });
        const id = bindleIdOf(invoice);
        const routing = routingFor(name, args);
        checkVariables(name, pkg.variables, args);
        const job = spinAppJob({
            name,
            datacenters: [cloud.settings.datacenter],
            architecture: cloud.settings.architecture,
            instances: args.instances ?? SPIN_APP_DEFAULTS.instances,
            resources: {
                cpuMhz: args.resources?.cpuMhz ?? SPIN_APP_DEFAULTS.cpuMhz,
                memoryMb: args.resources?.memoryMb ?? SPIN_APP_DEFAULTS.memoryMb,
            },
            env: args.environment,
            variables: { values: args.variables, secrets: Object.keys(args.secretVariables ?? {}) },
            bindle: { baseUrl: bindleApiUrl(), bindleId: id, parcels: pkg.entries.map((e) => ({ path: e.path, sha256: e.sha256 })) },
            routing,
            update: args.update,
        });
        if (routing.kind === "hosts") {
            routing.hosts.forEach((host, i) => claim(cloud, name, `hosts[${i}]`, "host", host));
        } else {
            claim(cloud, name, "name", "path", routing.prefix);
        }
        super("spin-cloud:apps:SpinApp", name, {}, opts);

        const bindle = cloud.bindle;
        const push = new BindlePush(`${name}-bindle`, {
            serverUrl: bindle.url.apply((url) => url.replace(/\/$/, "")),
            caPem: cloud.caCertPem,
            username: bindle.username,
            password: bindle.password,
            signingKey: bindle.creatorKeypair,
            signerName: "spin-cloud pulumi",
            ...pushContent(pkg, invoice),
        }, { parent: this });
        const secretDeps = args.secretVariables && Object.keys(args.secretVariables).length > 0
            ? [jobSecrets(`${name}-variables`, spinAppJobId(name), args.secretVariables, cloud.nomad, this)]
            : [];
        registerJob(name, job, cloud.nomad, this, [push, ...secretDeps]);

        this.bindleId = id;
        this.jobId = spinAppJobId(name);
        this.url = routing.kind === "hosts"
            ? pulumi.output(`${cloud.settings.appsDomain ? "https" : "http"}://${routing.hosts[0]}/`)
            : pulumi.interpolate`http://${cloud.publicLoadBalancerDnsName}${routing.prefix}/`;
        this.registerOutputs({ url: this.url, bindleId: this.bindleId, jobId: this.jobId });
    }
}
