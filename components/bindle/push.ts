/**
 * Pushing one bindle so that it cannot half-succeed, and the revisions a push retains.
 * Server behaviour (deislabs/bindle, the same at v0.8.2 and v0.9.1):
 * - POST /_i counts a parcel present when its *directory* exists (src/provider/file/mod.rs
 *   `create_invoice`: `Ok(stat) if !stat.is_dir()`), while GET /_r/missing counts it present only
 *   when `parcel.dat` is a file (`parcel_exists`: `m.is_file()`). Only the latter is the truth.
 * - POST /_i/{id}@{sha} answers 409 when the parcel directory exists (`create_parcel`:
 *   ProviderError::Exists) or a `.part` file is being written (`PartFile::new`: WriteInProgress,
 *   also 409, src/server/reply.rs). An interrupted upload removes its `.part` file (`Drop for
 *   PartFile`) but leaves the empty directory, so every later upload of that sha is refused
 *   until the bindle job's prestart repair (provisioning/jobs/bindle-repair.ts) removes it.
 * - An existing invoice is 409 on POST /_i, yanked or not; GET of a yanked invoice, of its parcels
 *   and of /_r/missing for it is 403 (`parcel_in_bindle` and `get_missing` use `get_invoice`).
 */
import { BINDLE_REPAIR_COMMAND, BINDLE_REPAIR_TASK } from "../../provisioning/jobs/bindle-repair";
import { BindleClient, BindleError, bindleError } from "./client";

/** Rounds of upload-then-confirm before a push gives up on a parcel the server will not take. */
export const PUSH_CONFIRM_ROUNDS = 4;
/** Revisions a SpinApp keeps on the server by default (the current one included). */
export const DEFAULT_KEEP_REVISIONS = 5;
export const MAX_KEEP_REVISIONS = 50;

export interface PushOptions {
    /** First wait between confirm rounds, doubled per round (another writer may be finishing). */
    readonly confirmBackoffMs?: number;
    readonly rounds?: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The recovery text for content whose bindle id exists on the server and is yanked. */
export function yankedRecovery(id: string, serverUrl: string): string {
    return `bindle ${id} already exists on ${serverUrl} and is yanked; bindle-server never un-yanks and refuses to re-create it ` +
        `(POST /_i answers 409, its parcels 403). To run this content again give it a new id: change application.version in spin.toml ` +
        `(the bindle version is <application.version>-sha-<content hash>), or pin a retained revision with the SpinApp \`revision\` argument`;
}

/**
 * Posts the invoice, uploads what the server lacks, then confirms with GET /_r/missing and
 * uploads again what is still missing, for a bounded number of rounds. Resolves only when the
 * server reports every parcel present; otherwise fails naming each parcel and the way out.
 */
export async function pushBindle(client: BindleClient, serverUrl: string, id: string, invoiceBody: string,
    readParcel: (sha: string) => Buffer, nameOf: (sha: string) => string, opts: PushOptions = {}): Promise<{ status: string; uploaded: number }> {
    let created;
    try { created = await client.createInvoice(invoiceBody); } catch (e) {
        if ((e as BindleError).reason === "yanked") throw bindleError(`BindlePush: ${yankedRecovery(id, serverUrl)}`, 409, undefined, "yanked");
        throw e;
    }
    const rounds = Math.max(1, opts.rounds ?? PUSH_CONFIRM_ROUNDS);
    let toUpload = [...new Set(created.missing.map((l) => l.sha256))].sort();
    let uploaded = 0;
    let refused = new Set<string>();
    for (let round = 1; ; round++) {
        refused = new Set<string>();
        for (const sha of toUpload) {
            const data = readParcel(sha);
            let answer: string;
            try { answer = await client.uploadParcel(id, sha, data); } catch (e) {
                // A connection error gives no answer about the parcel: the confirm below decides.
                if ((e as BindleError).status !== undefined) throw e;
                answer = "no answer";
            }
            if (answer === "created") uploaded++;
            else refused.add(sha);
        }
        // The truth is the parcel file, not the answer to the upload or to POST /_i.
        const still = [...new Set((await client.getMissingParcels(id)).map((l) => l.sha256))].sort();
        if (still.length === 0) return { status: created.status, uploaded };
        if (round >= rounds) {
            const list = still.map((sha) => `${nameOf(sha)} (sha256 ${sha}${refused.has(sha) ? ", upload answered 409" : ""})`).join(", ");
            throw bindleError(`BindlePush ${id}: after ${rounds} rounds of upload and GET /_r/missing the server still lacks ${list}. ` +
                `A 409 for a missing parcel means another upload of it is in progress, or an earlier one was interrupted: bindle-server then keeps ` +
                `an empty directory parcels/<sha256>/ in its store (--directory) and refuses that parcel until the directory is removed. ` +
                `Wait and run pulumi up again; if it persists, run \`${BINDLE_REPAIR_COMMAND}\` against the platform's Nomad: the job's ` +
                `${BINDLE_REPAIR_TASK} task removes, before the server starts again, every parcel directory without parcel.dat ` +
                `(here ${still.map((sha) => `parcels/${sha}/`).join(", ")}), complete parcels untouched; then run pulumi up again`,
                409);
        }
        await pause((opts.confirmBackoffMs ?? 500) * 2 ** (round - 1));
        toUpload = still;
    }
}

/**
 * The revisions to keep: the newest first, `current` at the head, at most `keep` (the `pinned`
 * one always kept), each once; `expired` is what falls out of the window.
 */
export function retainRevisions(current: string, previous: readonly string[], keep: number, pinned?: string): { retained: string[]; expired: string[] } {
    const ordered = [...new Set([current, ...previous])];
    const retained = ordered.slice(0, keep);
    if (pinned !== undefined && !retained.includes(pinned)) retained.push(pinned);
    return { retained, expired: ordered.filter((id) => !retained.includes(id)) };
}

/** `keep` checked: an integer from 1 to MAX_KEEP_REVISIONS. */
export function checkedKeep(keep: unknown, field = "keepRevisions"): number {
    if (keep === undefined) return DEFAULT_KEEP_REVISIONS;
    if (typeof keep !== "number" || !Number.isInteger(keep) || keep < 1 || keep > MAX_KEEP_REVISIONS) {
        throw new Error(`${field} = ${JSON.stringify(keep)} is not allowed: an integer from 1 to ${MAX_KEEP_REVISIONS}`);
    }
    return keep;
}
