import * as pulumi from "@pulumi/pulumi";
import { SpinAppParcel, spinAppJob, spinAppJobId } from "../../provisioning/jobs/spin-app-job";
import { AppPlatform } from "../platform/app-platform";
import { buildInvoice, bindleId as bindleIdOf } from "../bindle/invoice";
import { BindlePush, pushContent } from "./bindle-push";
import { checkAppFiles } from "./app-files";
import { checkedAppStores, CheckedAppStores, hasAppStores } from "./stores";
import { ownerStoresOn, recordAppStores } from "./store-sharing";
import { readinessFor, secretsDigestOutput, storeSecretsForDigest } from "./app-health";
import type { SpinHttpRoute } from "./manifest";
import { jobSecrets, registerJob } from "../platform/nomad-access";
import { SPIN_APP_DEFAULTS, SpinAppArgs, appOrigin, checkRevisions, checkTriggers, checkVariables, claimRoutes, routingFor } from "./spin-app-args";

export { PrebuiltBindle, SPIN_APP_DEFAULTS, RESERVED_PATH_PREFIXES, SpinAppArgs, SpinAppArgumentError } from "./spin-app-args";

/** What the app runs: from a directory (read now, pushed at `up`), or a bindle already pushed. */
interface AppContent {
    readonly bindleId: string;
    readonly parcels: SpinAppParcel[];
    /** Registers the push; absent for a prebuilt bindle. */
    readonly push?: (parent: pulumi.Resource) => BindlePush;
    /** The pinned revision (`revision`), whose parcels the push reports. */
    readonly pinned?: string;
    /** Labels the app uses: its spin.toml's, or for a prebuilt bindle the `stores` keys. */
    readonly declaredStores: { readonly keyValue: readonly string[]; readonly sqlite: readonly string[] };
    /** spin.toml's HTTP routes (none known for a prebuilt bindle). */
    readonly routes?: readonly SpinHttpRoute[];
}

function appContent(name: string, args: SpinAppArgs, platform: AppPlatform): AppContent {
    const origin = appOrigin(name, args);
    const revisions = checkRevisions(name, args);
    switch (origin.kind) {
        case "bindle":
            return {
                bindleId: origin.bindle.id, parcels: origin.bindle.parcels,
                declaredStores: { keyValue: Object.keys(args.stores?.keyValue ?? {}), sqlite: Object.keys(args.stores?.sqlite ?? {}) },
            };
        case "source": {
            // The same check (and error) as the program's before its first resource (app-declarations.ts).
            const pkg = checkAppFiles(name, origin.dir);
            checkTriggers(name, pkg.triggers);
            checkVariables(name, pkg.variables, args);
            const invoice = buildInvoice(pkg, { name: `spin-cloud/${platform.clusterName}/${name}` });
            const bindle = platform.bindle;
            return {
                bindleId: bindleIdOf(invoice),
                parcels: pkg.entries.map((e) => ({ path: e.path, sha256: e.sha256 })),
                declaredStores: { keyValue: pkg.keyValueStores, sqlite: pkg.sqliteDatabases },
                routes: pkg.routes,
                ...(revisions.pinned !== undefined ? { pinned: revisions.pinned } : {}),
                push: (parent) => new BindlePush(`${name}-bindle`, {
                    serverUrl: bindle.url.apply((url) => url.replace(/\/$/, "")),
                    caPem: platform.caCertPem,
                    username: bindle.username,
                    password: bindle.password,
                    signingKey: bindle.creatorKeypair,
                    signerName: "spin-cloud pulumi",
                    keepRevisions: revisions.keep,
                    yankExpired: revisions.yankExpired,
                    ...(revisions.pinned !== undefined ? { pinnedBindleId: revisions.pinned } : {}),
                    ...pushContent(pkg, invoice),
                }, { parent }),
            };
        }
        default:
            throw new Error(`unexpected app origin ${JSON.stringify(origin)}`);
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
    /** `<name>/<version>` of the bindle its `source` (or prebuilt `bindle`) is. */
    readonly bindleId: string;
    /** The bindle id that runs: `bindleId`, or the pinned `revision`. */
    readonly revision: pulumi.Output<string>;
    /** Retained revisions on Bindle, newest first (a prebuilt bindle: itself). */
    readonly revisions: pulumi.Output<string[]>;
    readonly jobId: string;

    constructor(name: string, args: SpinAppArgs, opts?: pulumi.ComponentResourceOptions) {
        const platform = args.cloud.platform;
        const routing = routingFor(name, args, platform);
        const content = appContent(name, args, platform);
        const stores: CheckedAppStores = checkedAppStores(name, content.declaredStores, args.stores, platform.stores.target, ownerStoresOn(platform.stores));
        const backends = hasAppStores(stores) ? platform.stores.backends(name, stores) : undefined;
        const readiness = readinessFor(content.routes, args.healthCheck);
        const jobFor = (bindleId: string, parcels: SpinAppParcel[], secretsDigest?: string) => spinAppJob({
            name,
            datacenters: [platform.datacenter],
            architecture: platform.architecture,
            instances: args.instances ?? SPIN_APP_DEFAULTS.instances,
            resources: {
                cpuMhz: args.resources?.cpuMhz ?? SPIN_APP_DEFAULTS.cpuMhz,
                memoryMb: args.resources?.memoryMb ?? SPIN_APP_DEFAULTS.memoryMb,
            },
            env: args.environment,
            variables: { values: args.variables, secrets: Object.keys(args.secretVariables ?? {}), ...(secretsDigest ? { secretsDigest } : {}) },
            readiness,
            bindle: { baseUrl: platform.bindle.internalUrl, bindleId, parcels },
            routing,
            update: args.update,
            runtime: platform.runtime,
            ...(backends ? { stores: backends } : {}),
        });
        // Every argument is checked with the source's content, pinned or not.
        const job = jobFor(content.bindleId, content.parcels);
        claimRoutes(platform, name, routing);
        recordAppStores(platform.stores, { name, declared: content.declaredStores, stores: args.stores }, stores);
        super("spin-cloud:apps:SpinApp", name, {}, opts);

        const push = content.push?.(this);
        const pushed = push ? [push] : [];
        const secretDeps = args.secretVariables && Object.keys(args.secretVariables).length > 0
            ? [jobSecrets(`${name}-variables`, spinAppJobId(name), args.secretVariables, platform.nomad, this)]
            : [];
        const provisioned = hasAppStores(stores) ? platform.stores.provision(name, spinAppJobId(name), stores, platform.nomad, this) : { resources: [], secrets: {} };
        // A changed secret (a variable, a store's key or token) is a new job version (its keyed digest in the meta), rolled out like any change.
        const rollSecrets = { ...args.secretVariables, ...storeSecretsForDigest(provisioned.secrets) };
        const digest = Object.keys(rollSecrets).length > 0 ? secretsDigestOutput(platform.bindle.creatorKeypair, rollSecrets) : undefined;
        // Pinned: the job runs the revision the push found intact on the server, with its parcels.
        const pinnedJob = push && content.pinned !== undefined
            // (Outputs the provider did not report, as under test mocks, leave the source's job.)
            ? pulumi.all([push.currentBindleId, push.currentParcels, digest]).apply(([id, parcels, d]) =>
                jobFor(id && parcels ? id : content.bindleId, id && parcels ? parcels.map((p) => ({ path: p.path, sha256: p.sha256 })) : content.parcels, d))
            : digest?.apply((d) => jobFor(content.bindleId, content.parcels, d));
        registerJob(name, pinnedJob ?? job, platform.nomad, this, [...pushed, ...secretDeps, ...provisioned.resources], job);

        this.bindleId = content.bindleId;
        this.revision = push ? push.currentBindleId : pulumi.output(content.bindleId);
        this.revisions = push ? push.revisions : pulumi.output([content.bindleId]);
        this.jobId = spinAppJobId(name);
        const prefix = routing.kind === "hosts" ? "" : routing.prefix;
        this.url = routing.kind === "pathPrefix"
            ? pulumi.interpolate`${platform.sharedOrigin}${prefix}/`
            : pulumi.output(`${platform.appsDomain ? "https" : "http"}://${routing.hosts[0]}${prefix}/`);
        this.registerOutputs({ url: this.url, bindleId: this.bindleId, revision: this.revision, revisions: this.revisions, jobId: this.jobId });
    }
}
