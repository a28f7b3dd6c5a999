/**
 * `BindlePush`: a Pulumi dynamic resource that pushes one Spin app bindle (invoice + parcels) to a
 * Bindle server. create = POST the invoice, then upload only the parcels the server reports
 * missing, each re-hashed right before upload; diff = replace when the bindle id or the server
 * changes; delete = yank (bindle has no deletion, docs/protocol-spec.md "Deleting Bindles").
 *
 * The provider object is serialized into the stack (Pulumi "Function serialization" and "Dynamic
 * providers"): its functions capture only this module's helpers, the client and invoice modules
 * and Node built-ins, never a Pulumi object or a big value. Replacement is create-before-delete,
 * so the new version is complete on the server before the old one is yanked.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { bindleClient, BindleClientOptions } from "../bindle/client";
import { bindleId, Invoice, parseInvoice, renderInvoice, signInvoice } from "../bindle/invoice";
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
}

export interface BindlePushOutputs {
    readonly bindleId: string;
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

function outputs(inputs: BindlePushInputs, invoice: Invoice): BindlePushOutputs {
    const shas = [...new Set((invoice.parcel ?? []).map((p) => p.label.sha256))].sort();
    return {
        bindleId: bindleId(invoice), parcelShas: shas, serverUrl: inputs.serverUrl,
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
        const replaces: string[] = [];
        if (!known(news.invoiceToml) || bindleId(parseInvoice(news.invoiceToml)) !== olds.bindleId) replaces.push("invoiceToml");
        if (news.serverUrl !== olds.serverUrl) replaces.push("serverUrl");
        // appDir, absolute paths and the signing key do not change what is on the server.
        const changes = replaces.length > 0 || news.caPem !== olds.caPem || news.username !== olds.username || news.password !== olds.password;
        return { changes, replaces, deleteBeforeReplace: false };
    },

    async create(inputs: BindlePushInputs) {
        const { invoice, id, bySha, problems } = plan(inputs);
        if (problems.length) throw new Error(`BindlePush ${id}: ${problems.join("; ")}`);
        // Every file is checked before the invoice exists on the server, and again before its upload.
        for (const p of bySha.values()) readVerified(id, p);
        if (inputs.signingKey !== undefined && !inputs.signerName) throw new Error(`BindlePush ${id}: signerName is required with signingKey`);
        const body = inputs.signingKey !== undefined
            ? renderInvoice(signInvoice(invoice, { by: inputs.signerName as string, privateKey: inputs.signingKey }, "creator"))
            : inputs.invoiceToml;
        const client = bindleClient(clientOptions(inputs));
        const created = await client.createInvoice(body);
        for (const sha of [...new Set(created.missing.map((l) => l.sha256))].sort()) {
            const parcel = bySha.get(sha);
            if (!parcel) throw new Error(`BindlePush ${id}: the server reports parcel ${sha} missing, which the invoice does not list`);
            await client.uploadParcel(id, sha, readVerified(id, parcel));
        }
        return { id, outs: outputs(inputs, invoice) };
    },

    async update(_id: pulumi.ID, _olds: BindlePushOutputs, news: BindlePushInputs) {
        // Only connection settings changed (diff replaces on anything the server holds).
        return { outs: outputs(news, parseInvoice(news.invoiceToml)) };
    },

    async delete(id: pulumi.ID, props: BindlePushOutputs) {
        await bindleClient(clientOptions(props)).yankInvoice(props.bindleId ?? id);
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
    declare readonly parcelShas: pulumi.Output<string[]>;
    declare readonly serverUrl: pulumi.Output<string>;

    constructor(name: string, args: BindlePushArgs, opts?: pulumi.CustomResourceOptions) {
        const secretOutputs = [...(opts?.additionalSecretOutputs ?? []), "password"];
        const props = {
            ...args,
            ...(args.password !== undefined ? { password: pulumi.secret(args.password) } : {}),
            ...(args.signingKey !== undefined ? { signingKey: pulumi.secret(args.signingKey) } : {}),
            bindleId: undefined, parcelShas: undefined,
        };
        super(bindlePushProvider, name, props, { ...opts, additionalSecretOutputs: secretOutputs }, "spin-cloud", "BindlePush");
    }
}
