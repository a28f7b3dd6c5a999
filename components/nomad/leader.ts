/**
 * The "wait for a leader" gate: a Pulumi dynamic resource whose create (and update) polls
 * `GET <address>/v1/status/leader` until the Nomad cluster has elected a leader, so no job is
 * registered while the servers, which boot in parallel with `pulumi up`, are still electing.
 *
 * Nomad's API docs (Status HTTP API, "Read Leader"): no ACL token is required, the answer is a
 * JSON string `"ip:port"`. Before an election Nomad's `Status.Leader` RPC (nomad/status_endpoint.go)
 * answers the empty string, so the body is `""`; a server that cannot forward the request
 * answers with an error status instead. Both mean "not yet".
 *
 * A leader is not enough: the servers bootstrap Nomad's ACLs after the election, in a retry
 * loop of provisioning/aws/scripts/bootstrap.sh, and a Variable or Job created in between gets
 * 403 (the Nomad provider does not retry). So with a `token` the gate also waits until
 * `GET /v1/acl/token/self` with that token answers 200 with a management token (Nomad's ACL
 * Tokens HTTP API, "Read Self Token"; before the bootstrap it answers 403 "ACL token not found").
 * The token goes in the `X-Nomad-Token` header only, never in a URL, an argument or a message.
 *
 * Pulumi serializes the dynamic provider's code (function serialization, which also captures
 * whatever the functions reference). So the functions the provider object calls are plain
 * function declarations of this module that reference nothing but each other, their arguments
 * and Node built-ins they `require` themselves; no imported module and no exported constant
 * (TypeScript compiles those to `exports.X`, which would drag the whole module in).
 */
import * as pulumi from "@pulumi/pulumi";

/** Defaults: 60 attempts 10 s apart, each request answered within 10 s. */
export const LEADER_WAIT_DEFAULTS = { attempts: 60, delayMs: 10_000, requestTimeoutMs: 10_000 } as const;

/** What one `GET /v1/status/leader` returned. */
export interface LeaderResponse {
    status: number;
    body: string;
}

/**
 * Fetches `/v1/status/leader` of `address`. Rejects on network or TLS failure; an error with
 * `permanent: true` (the server's certificate is not trusted) ends the wait at once.
 */
export type FetchLeader = (address: string) => Promise<LeaderResponse>;

/** What one `GET /v1/acl/token/self` with the management token returned. */
export type FetchTokenSelf = (address: string) => Promise<LeaderResponse>;

/** Whether a token-self answer shows the ACL system accepts the token as a management token. */
export function readTokenSelf(response: LeaderResponse): { ok: boolean; problem: string } {
    const body = response.body.trim();
    if (response.status !== 200) {
        return { ok: false, problem: `ACLs not ready for the management token (GET /v1/acl/token/self: HTTP ${response.status}${body ? `: ${body.slice(0, 200)}` : ""})` };
    }
    let value: { Type?: unknown } | undefined;
    try {
        value = JSON.parse(body);
    } catch {
        return { ok: false, problem: "GET /v1/acl/token/self: unexpected body (not JSON)" };
    }
    if (value?.Type !== "management") {
        return { ok: false, problem: `GET /v1/acl/token/self: the token is of type ${JSON.stringify(value?.Type)}, not "management"` };
    }
    return { ok: true, problem: "" };
}

/**
 * Polls like `waitForLeader`, then (when `fetchTokenSelf` is given) until the ACL system accepts
 * the management token, within the same `wait.attempts` requests budget. Returns the leader.
 */
export async function waitForNomadReady(wait: LeaderWait, fetchLeader: FetchLeader, fetchTokenSelf: FetchTokenSelf | undefined,
    sleep: (ms: number) => Promise<void> = pause): Promise<string> {
    if (!Number.isInteger(wait.attempts) || wait.attempts < 1) {
        throw new Error(`NomadLeader: attempts must be a whole number >= 1, got ${wait.attempts}`);
    }
    let last = "no request made";
    let leader: string | undefined;
    for (let attempt = 1; attempt <= wait.attempts; attempt++) {
        try {
            if (leader === undefined) {
                const verdict = readLeader(await fetchLeader(wait.address));
                leader = verdict.leader;
                last = verdict.problem;
            }
            if (leader !== undefined) {
                if (fetchTokenSelf === undefined) {
                    return leader;
                }
                const acl = readTokenSelf(await fetchTokenSelf(wait.address));
                if (acl.ok) {
                    return leader;
                }
                last = acl.problem;
            }
        } catch (err) {
            last = err instanceof Error ? err.message : String(err);
            if ((err as { permanent?: boolean } | null)?.permanent) {
                throw new Error(`NomadLeader: refusing ${wait.address} after ${attempt} attempt(s): ${last}`);
            }
        }
        if (attempt < wait.attempts) {
            await sleep(wait.delayMs);
        }
    }
    const what = leader === undefined ? "no Nomad leader" : `a Nomad leader (${leader}) but no bootstrapped ACL system accepting the management token`;
    throw new Error(`NomadLeader: ${what} at ${wait.address} after ${wait.attempts} attempts ${wait.delayMs} ms apart; last error: ${last}`);
}

/** How long and how often to poll. */
export interface LeaderWait {
    /** Nomad HTTPS API root, e.g. `https://<operator endpoint>:4646`. */
    address: string;
    /** Requests to make at most (>= 1). */
    attempts: number;
    /** Pause between two requests, in milliseconds. */
    delayMs: number;
}

/** The leader's `ip:port` from one response, or why there is none. */
export function readLeader(response: LeaderResponse): { leader?: string; problem: string } {
    const body = response.body.trim();
    if (response.status !== 200) {
        return { problem: `HTTP ${response.status}${body ? `: ${body.slice(0, 200)}` : ""}` };
    }
    let value: unknown;
    try {
        value = JSON.parse(body);
    } catch {
        return { problem: `unexpected body (not JSON): ${body.slice(0, 200)}` };
    }
    if (value === "") {
        return { problem: 'no leader elected yet (leader is "")' };
    }
    if (typeof value === "string" && /^\S+:\d+$/.test(value)) {
        return { leader: value, problem: "" };
    }
    return { problem: `unexpected leader value: ${body.slice(0, 200)}` };
}

function pause(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls until `fetchLeader` reports a leader and returns its `ip:port`. Fails after
 * `wait.attempts` requests with an error naming the address, the attempts and the last problem,
 * or at once on a permanent error (an untrusted certificate).
 */
export async function waitForLeader(wait: LeaderWait, fetchLeader: FetchLeader, sleep: (ms: number) => Promise<void> = pause): Promise<string> {
    return waitForNomadReady(wait, fetchLeader, undefined, sleep);
}

/**
 * One `GET <address>/v1/status/leader` over HTTPS, trusting `caPem` only (Node's `ca` option
 * replaces the default CA list) and checking the certificate's name against the address.
 */
export function httpsFetchLeader(address: string, caPem: string, timeoutMs: number): Promise<LeaderResponse> {
    return httpsGet(address, "/v1/status/leader", caPem, timeoutMs, undefined);
}

/** One `GET <address>/v1/acl/token/self` over HTTPS with `token` in the `X-Nomad-Token` header. */
export function httpsFetchTokenSelf(address: string, caPem: string, timeoutMs: number, token: string): Promise<LeaderResponse> {
    return httpsGet(address, "/v1/acl/token/self", caPem, timeoutMs, token);
}

/**
 * One HTTPS GET of `path` under `address`, as `httpsFetchLeader` describes; `token`, when given,
 * goes in the header `tokenHeader` only (never the URL). Shared with the server roll gate
 * (components/aws/server-roll.ts): plain code, so the engine can serialize either provider.
 */
export function httpsGet(address: string, path: string, caPem: string, timeoutMs: number, token: string | undefined, tokenHeader = "X-Nomad-Token"): Promise<LeaderResponse> {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const https: typeof import("https") = require("https");
    const untrusted = ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT",
        "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_SIGNATURE_FAILURE", "CERT_UNTRUSTED",
        "CERT_REJECTED", "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID"];
    return new Promise((resolve, reject) => {
        let url: URL;
        try {
            url = new URL(`${address.replace(/\/+$/, "")}${path}`);
        } catch {
            reject(Object.assign(new Error(`invalid address '${address}'`), { permanent: true }));
            return;
        }
        if (url.protocol !== "https:") {
            reject(Object.assign(new Error(`address must use https, got '${address}'`), { permanent: true }));
            return;
        }
        const headers: Record<string, string> = { accept: "application/json" };
        if (token !== undefined) {
            headers[tokenHeader.toLowerCase()] = token;
        }
        const request = https.get(url, { ca: caPem, agent: false, timeout: timeoutMs, headers }, (response) => {
            let body = "";
            response.setEncoding("utf8");
            response.on("data", (chunk: string) => {
                body += chunk;
                if (body.length > 262_144) {
                    response.destroy(new Error("response larger than 256 KiB"));
                }
            });
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
            response.on("error", reject);
        });
        request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        request.on("error", (err: Error & { code?: string }) => {
            if (err.code && untrusted.includes(err.code)) {
                reject(Object.assign(new Error(`TLS: certificate not trusted with the given CA (${err.code}: ${err.message})`), { permanent: true }));
            } else {
                reject(new Error(err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message));
            }
        });
    });
}

/** The gate's dynamic provider: self-contained, see the module comment. */
const leaderProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Record<string, any>): Promise<pulumi.dynamic.CreateResult> {
        const { __provider: _code, ...props } = inputs;
        const leader = await waitForNomadReady(
            { address: props.address, attempts: props.attempts, delayMs: props.delayMs },
            (address) => httpsFetchLeader(address, props.caPem, props.requestTimeoutMs),
            props.token ? (address) => httpsFetchTokenSelf(address, props.caPem, props.requestTimeoutMs, props.token) : undefined,
        );
        return { id: String(props.address), outs: { ...props, leader } };
    },
    async diff(_id: string, olds: Record<string, any>, news: Record<string, any>): Promise<pulumi.dynamic.DiffResult> {
        const keys = ["address", "caPem", "token", "attempts", "delayMs", "requestTimeoutMs", "triggers"];
        return { changes: keys.some((key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key])) };
    },
    async update(_id: string, _olds: Record<string, any>, news: Record<string, any>): Promise<pulumi.dynamic.UpdateResult> {
        const { __provider: _code, ...props } = news;
        const leader = await waitForNomadReady(
            { address: props.address, attempts: props.attempts, delayMs: props.delayMs },
            (address) => httpsFetchLeader(address, props.caPem, props.requestTimeoutMs),
            props.token ? (address) => httpsFetchTokenSelf(address, props.caPem, props.requestTimeoutMs, props.token) : undefined,
        );
        return { outs: { ...props, leader } };
    },
};

/** Inputs of `NomadLeader`. */
export interface NomadLeaderArgs {
    /** Nomad HTTPS API root, e.g. the operator endpoint's `https://<name>:4646`. */
    address: pulumi.Input<string>;
    /** PEM of the cluster CA: the only CA trusted for the server's certificate. */
    caPem: pulumi.Input<string>;
    /** Requests to make at most; default 60. */
    attempts?: number;
    /** Pause between requests in milliseconds; default 10000. */
    delayMs?: number;
    /** Time a single request may take in milliseconds; default 10000. */
    requestTimeoutMs?: number;
    /** Values whose change makes the next `pulumi up` wait again, e.g. the server instance IDs. */
    triggers?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * The Nomad management token: the gate then also waits until the ACL system accepts it.
     * Kept a secret in the state; sent only as the `X-Nomad-Token` header.
     */
    token?: pulumi.Input<string>;
}

/**
 * Exists once the Nomad cluster at `address` has a leader and, with `token`, bootstrapped ACLs.
 * Make every Nomad job (and other Nomad resource) `dependsOn` it. During `pulumi preview` nothing is polled.
 */
export class NomadLeader extends pulumi.dynamic.Resource {
    /** The leader's RPC address (`ip:port`) when the gate opened. */
    declare readonly leader: pulumi.Output<string>;
    declare readonly address: pulumi.Output<string>;

    constructor(name: string, args: NomadLeaderArgs, opts?: pulumi.CustomResourceOptions) {
        const attempts = args.attempts ?? LEADER_WAIT_DEFAULTS.attempts;
        const delayMs = args.delayMs ?? LEADER_WAIT_DEFAULTS.delayMs;
        const requestTimeoutMs = args.requestTimeoutMs ?? LEADER_WAIT_DEFAULTS.requestTimeoutMs;
        if (!Number.isInteger(attempts) || attempts < 1) {
            throw new Error(`NomadLeader ${name}: attempts must be a whole number >= 1, got ${attempts}`);
        }
        for (const [key, value] of Object.entries({ delayMs, requestTimeoutMs })) {
            if (!Number.isFinite(value) || value < 0) {
                throw new Error(`NomadLeader ${name}: ${key} must be a number >= 0, got ${value}`);
            }
        }
        super(leaderProvider, name, {
            address: args.address,
            caPem: args.caPem,
            attempts,
            delayMs,
            requestTimeoutMs,
            triggers: args.triggers ?? [],
            ...(args.token === undefined ? {} : { token: pulumi.secret(args.token) }),
            leader: undefined,
        }, { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "token"] }, "nomad", "NomadLeader");
    }
}
