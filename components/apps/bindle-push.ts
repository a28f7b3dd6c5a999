/**
 * `BindlePush`: a Pulumi dynamic resource that pushes one Spin app's bindles (invoice + parcels)
 * to a Bindle server and keeps its revisions. create/update = POST the invoice, upload the parcels
 * the server lacks, each re-hashed right before upload, then confirm with GET /_r/missing and
 * upload again what is still missing (components/bindle/push.ts): a push never counts a parcel
 * that is not there. Existing content is reused (an invoice is immutable and its id is a content
 * hash); a yanked one is a clear error with the way out.
 *
 * Revisions: a content change is an update in place, never a replacement. The output `revisions`
 * lists the retained bindle ids, newest first (`keepRevisions`, default 5); nothing the window
 * retains is ever yanked, and what falls out of it is yanked only with `yankExpired`. `pinnedBindleId`
 * pins the running revision (rollback); the outputs `currentBindleId`/`currentParcels` say what
 * runs. Delete yanks nothing unless `yankExpired` (bindle has no deletion, docs/protocol-spec.md
 * "Deleting Bindles", and a yanked id can never be pushed again). A new server URL pushes to the
 * new server and starts its revisions there; the old server is not touched (no yank, no delete
 * that would fail on every later `up` once it is gone).
 *
 * Before its first write a push waits until the server answers through `serverUrl`: a streak of
 * successful GET /healthz (components/bindle/ready.ts, input `readiness`), bounded, so a push right
 * after Bindle's deployment does not race the operator load balancer's health checks.
 *
 * The provider object is serialized into the stack (Pulumi "Function serialization" and "Dynamic
 * providers"): its functions capture only this module's helpers, the bindle client/invoice/push/ready
 * modules and Node built-ins, never a Pulumi object or a big value.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { bindleClient, BindleClientOptions, BindleError } from "../bindle/client";
import { bindleId, Invoice, parseInvoice, renderInvoice, signInvoice } from "../bindle/invoice";
import { checkedKeep, DEFAULT_KEEP_REVISIONS, pushBindle, retainRevisions, yankedRecovery } from "../bindle/push";
import { checkedReadiness, Readiness, waitUntilServing } from "../bindle/ready";
import type { SpinAppPackage } from "./manifest";

export interface PushParcel {
    /** Path relative to the app directory (the parcel label's `name`). */
    readonly path: string;
    readonly absolutePath: string;
    readonly sha256: string;
    readonly size: number;
}

export interface BindlePushInputs {
    readonly serverUrl: string;
    readonly caPem?: string;
    readonly username?: string;
    readonly password?: string;
    /** Ed25519 key (PKCS#8 PEM or bindle keypair base64) to sign the invoice as `creator` at push time. */
    readonly signingKey?: string;
    /** The `by` of that signature. */
    readonly signerName?: string;
    readonly appDir: string;
    readonly invoiceToml: string;
    readonly parcels: PushParcel[];
    /** Revisions to keep on the server, the current one included (1–50, default 5). */
    readonly keepRevisions?: number;
    /** Yank revisions that fall out of the window (and every retained one on delete). Default false. */
    readonly yankExpired?: boolean;
    /** Run this bindle id instead of the pushed content (rollback); it must be on the server, intact and not yanked. */
    readonly pinnedBindleId?: string;
    /**
     * Before its first write, a push waits for this many successful GET /healthz in a row through
     * `serverUrl` (components/bindle/ready.ts; default 15, 1 s apart, at most 5 minutes). Not part of the diff.
     */
    readonly readiness?: Readiness;
}

export interface RevisionParcel { readonly path: string; readonly sha256: string }

export interface BindlePushOutputs {
    /** The id of the pushed content. */
    readonly bindleId: string;
    /** The revision that runs: `pinnedBindleId`, else `bindleId`. */
    readonly currentBindleId: string;
    /** Its parcels (label name as path), for the Nomad job's artifacts. */
    readonly currentParcels: RevisionParcel[];
    /** Retained bindle ids, newest first, on `serverUrl`. */
    readonly revisions: string[];
    readonly keepRevisions: number;
    readonly yankExpired: boolean;
    readonly pinnedBindleId?: string;
    /** Sorted, unique parcel sha256s of the invoice. */
    readonly parcelShas: string[];
    readonly serverUrl: string;
    readonly caPem?: string;
    readonly username?: string;
    readonly password?: string;
}

/** Pulumi's marker for a value not known during preview (@pulumi/pulumi runtime/rpc.js `unknownValue`). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function clientOptions(p: { serverUrl: string; caPem?: string; username?: string; password?: string }): BindleClientOptions {
    return { serverUrl: p.serverUrl, caPem: p.caPem, username: p.username, password: p.password };
}

/** The invoice and a parcel per invoice sha, or a list of problems naming the field. */
function plan(inputs: BindlePushInputs): { invoice: Invoice; id: string; bySha: Map<string, PushParcel>; problems: string[] } {
    const invoice = parseInvoice(inputs.invoiceToml);
    const id = bindleId(invoice);
    const bySha = new Map<string, PushParcel>();
    for (const p of inputs.parcels ?? []) if (!bySha.has(p.sha256)) bySha.set(p.sha256, p);
    const problems = (invoice.parcel ?? [])
        .filter((p) => !bySha.has(p.label.sha256))
        .map((p) => `parcels: no local file for invoice parcel "${p.label.name}" (sha256 ${p.label.sha256})`);
    return { invoice, id, bySha, problems };
}

/** Reads a parcel's file and fails, naming it, if it no longer has the planned content. */
function readVerified(id: string, p: PushParcel): Buffer {
    let data: Buffer;
    try { data = fs.readFileSync(p.absolutePath); } catch (e) {
        throw new Error(`BindlePush ${id}: cannot read ${p.path} (${p.absolutePath}): ${(e as Error).message}`);
    }
    const sha = crypto.createHash("sha256").update(data).digest("hex");
    if (sha !== p.sha256 || data.length !== p.size) {
        throw new Error(`BindlePush ${id}: ${p.path} changed since the plan (expected sha256 ${p.sha256}, ${p.size} bytes; found ${sha}, ${data.length} bytes); run pulumi up again`);
    }
    return data;
}

const parcelsOf = (invoice: Invoice): RevisionParcel[] => (invoice.parcel ?? []).map((p) => ({ path: p.label.name, sha256: p.label.sha256 }));

/** Pushes the content, resolves the pin, retains revisions (yanking the expired only on purpose). */
async function pushAndRetain(inputs: BindlePushInputs, previous: readonly string[]): Promise<BindlePushOutputs> {
    const { invoice, id, bySha, problems } = plan(inputs);
    if (problems.length) throw new Error(`BindlePush ${id}: ${problems.join("; ")}`);
    const keep = checkedKeep(inputs.keepRevisions);
    // Every file is checked before the invoice exists on the server, and again before its upload.
    for (const p of bySha.values()) readVerified(id, p);
    if (inputs.signingKey !== undefined && !inputs.signerName) throw new Error(`BindlePush ${id}: signerName is required with signingKey`);
    const body = inputs.signingKey !== undefined
        ? renderInvoice(signInvoice(invoice, { by: inputs.signerName as string, privateKey: inputs.signingKey }, "creator"))
        : inputs.invoiceToml;
    const client = bindleClient(clientOptions(inputs));
    // The server must answer through this URL before the first write (a push right after Bindle's
    // deployment races the operator load balancer's health checks; the client's own retries last ~2 s).
    await waitUntilServing(inputs, inputs.readiness);
    await pushBindle(client, inputs.serverUrl, id, body, (sha) => {
        const parcel = bySha.get(sha);
        if (!parcel) throw new Error(`BindlePush ${id}: the server reports parcel ${sha} missing, which the invoice does not list`);
        return readVerified(id, parcel);
    }, (sha) => bySha.get(sha)?.path ?? sha);

    let current = invoice;
    const pin = inputs.pinnedBindleId;
    if (pin !== undefined && pin !== id) {
        let pinned: Invoice | undefined;
        try { pinned = await client.getInvoice(pin); } catch (e) {
            if ((e as BindleError).status === 403) throw new Error(`BindlePush: pinned revision ${pin}: ${yankedRecovery(pin, inputs.serverUrl)}`);
            throw e;
        }
        if (!pinned) throw new Error(`BindlePush: pinned revision ${pin} is not on ${inputs.serverUrl}; pin one of the retained revisions (SpinApp output \`revisions\`)`);
        const missing = await client.getMissingParcels(pin);
        if (missing.length) throw new Error(`BindlePush: pinned revision ${pin} lacks ${missing.map((l) => l.name).join(", ")} on ${inputs.serverUrl}; unpin it or push its content again`);
        current = pinned;
    }
    const { retained, expired } = retainRevisions(id, previous, keep, pin);
    if (inputs.yankExpired) for (const old of expired) await client.yankInvoice(old);
    const shas = [...new Set((invoice.parcel ?? []).map((p) => p.label.sha256))].sort();
    return {
        bindleId: id, currentBindleId: bindleId(current), currentParcels: parcelsOf(current), revisions: retained,
        keepRevisions: keep, yankExpired: inputs.yankExpired ?? false,
        ...(pin !== undefined ? { pinnedBindleId: pin } : {}),
        parcelShas: shas, serverUrl: inputs.serverUrl,
        ...(inputs.caPem !== undefined ? { caPem: inputs.caPem } : {}),
        ...(inputs.username !== undefined ? { username: inputs.username } : {}),
        ...(inputs.password !== undefined ? { password: inputs.password } : {}),
    };
}

const known = (v: unknown): v is string => typeof v === "string" && v !== UNKNOWN;

export const bindlePushProvider: pulumi.dynamic.ResourceProvider<BindlePushInputs, BindlePushOutputs> = {
    async check(_olds: BindlePushInputs, news: BindlePushInputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (known(news.serverUrl) && !/^https?:\/\/[^/]/.test(news.serverUrl)) failures.push({ property: "serverUrl", reason: `must be an http(s) URL (got "${news.serverUrl}")` });
        if (news.signingKey !== undefined && news.signerName === undefined) failures.push({ property: "signerName", reason: "required with signingKey" });
        try { checkedKeep(news.keepRevisions); } catch (e) { failures.push({ property: "keepRevisions", reason: (e as Error).message }); }
        try { checkedReadiness(news.readiness); } catch (e) { failures.push({ property: "readiness", reason: (e as Error).message }); }
        if (known(news.pinnedBindleId) && !/^[A-Za-z0-9_.+-]+(\/[A-Za-z0-9_.+-]+)+$/.test(news.pinnedBindleId)) {
            failures.push({ property: "pinnedBindleId", reason: `must be a bindle id <name>/<version> (got "${news.pinnedBindleId}")` });
        }
        if (known(news.invoiceToml) && Array.isArray(news.parcels)) {
            try {
                for (const problem of plan(news).problems) failures.push({ property: "parcels", reason: problem });
            } catch (e) {
                failures.push({ property: "invoiceToml", reason: (e as Error).message });
            }
        }
        return { inputs: news, failures };
    },

    async diff(_id: pulumi.ID, olds: BindlePushOutputs, news: BindlePushInputs) {
        // Never a replacement: a replacement's delete would run against the old server (and fail
        // for ever once it is gone); every change is an update that keeps the revision history.
        const changed: string[] = [];
        if (!known(news.invoiceToml) || bindleId(parseInvoice(news.invoiceToml)) !== olds.bindleId) changed.push("invoiceToml");
        if (news.serverUrl !== olds.serverUrl) changed.push("serverUrl");
        if ((news.keepRevisions ?? DEFAULT_KEEP_REVISIONS) !== (olds.keepRevisions ?? DEFAULT_KEEP_REVISIONS)) changed.push("keepRevisions");
        if ((news.yankExpired ?? false) !== (olds.yankExpired ?? false)) changed.push("yankExpired");
        if (news.pinnedBindleId !== olds.pinnedBindleId) changed.push("pinnedBindleId");
        // appDir, absolute paths, the signing key and readiness do not change what is on the server.
        const changes = changed.length > 0 || news.caPem !== olds.caPem || news.username !== olds.username || news.password !== olds.password;
        return { changes, replaces: [], deleteBeforeReplace: false };
    },

    async create(inputs: BindlePushInputs) {
        const outs = await pushAndRetain(inputs, []);
        // The id names the app's bindle (not one version): it stays while revisions change.
        return { id: parseInvoice(inputs.invoiceToml).bindle.name, outs };
    },

    async update(_id: pulumi.ID, olds: BindlePushOutputs, news: BindlePushInputs) {
        // Revisions are per server: on a new URL the history starts again and the old server is left alone.
        const previous = news.serverUrl === olds.serverUrl ? (olds.revisions ?? [olds.bindleId]) : [];
        return { outs: await pushAndRetain(news, previous) };
    },

    async delete(_id: pulumi.ID, props: BindlePushOutputs) {
        // Removing an app leaves its bindles on the server (re-adding it reuses them); yanking is on purpose only.
        if (!props.yankExpired) return;
        const client = bindleClient(clientOptions(props));
        for (const id of props.revisions ?? [props.bindleId]) {
            try { await client.yankInvoice(id); } catch (e) {
                // An unreachable server (no HTTP status) is not retried for ever: nothing to clean up through it.
                if ((e as BindleError).status === undefined) return;
                throw e;
            }
        }
    },
};

/** The `appDir`, `invoiceToml` and `parcels` inputs for a read Spin app and its invoice. */
export function pushContent(pkg: Pick<SpinAppPackage, "appDir" | "entries">, invoice: Invoice): Pick<BindlePushInputs, "appDir" | "invoiceToml" | "parcels"> {
    return {
        appDir: pkg.appDir,
        invoiceToml: renderInvoice(invoice),
        parcels: pkg.entries.map((e) => ({ path: e.path, absolutePath: e.absolutePath, sha256: e.sha256, size: e.size })),
    };
}

export type BindlePushArgs = { [K in keyof BindlePushInputs]: pulumi.Input<BindlePushInputs[K]> };

export class BindlePush extends pulumi.dynamic.Resource {
    declare readonly bindleId: pulumi.Output<string>;
    declare readonly currentBindleId: pulumi.Output<string>;
    declare readonly currentParcels: pulumi.Output<RevisionParcel[]>;
    declare readonly revisions: pulumi.Output<string[]>;
    declare readonly parcelShas: pulumi.Output<string[]>;
    declare readonly serverUrl: pulumi.Output<string>;

    constructor(name: string, args: BindlePushArgs, opts?: pulumi.CustomResourceOptions) {
        const secretOutputs = [...(opts?.additionalSecretOutputs ?? []), "password"];
        const props = {
            ...args,
            ...(args.password !== undefined ? { password: pulumi.secret(args.password) } : {}),
            ...(args.signingKey !== undefined ? { signingKey: pulumi.secret(args.signingKey) } : {}),
            bindleId: undefined, currentBindleId: undefined, currentParcels: undefined, revisions: undefined, parcelShas: undefined,
        };
        super(bindlePushProvider, name, props, { ...opts, additionalSecretOutputs: secretOutputs }, "spin-cloud", "BindlePush");
    }
}
