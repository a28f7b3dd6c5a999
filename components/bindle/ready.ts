/**
 * Waiting, before a push writes anything, until the Bindle server answers through the URL the
 * push uses: `readiness.consecutive` successful `GET /healthz` in a row, `intervalMs` apart, each
 * on a new connection, with the push's CA, bounded by `timeoutMs`.
 *
 * Why a streak and not one answer: on AWS the push goes through the operator load balancer, whose
 * Bindle target group holds every client and health-checks TCP 8085 three times 30 s apart
 * (components/aws/operator-endpoint.ts). Until the Bindle node has passed those checks no target
 * is healthy and the NLB "fails open" (it spreads new connections over all targets), so for up to
 * ~90 s after Bindle starts a connection reaches Bindle with probability 1/clients. A streak of N
 * answers from M samples in that window happens with probability about M·2^-(N+1) for 2 clients:
 * with the defaults (15 in a row, 1 s apart, so M ≈ 90) about 0.14 %, and the wait costs 14 s
 * when Bindle is already reachable. Every probe opens its own connection so that each one is a
 * new routing decision (a kept-alive connection would always reach the same target).
 *
 * What a healthy answer is (deislabs/bindle src/server/routes.rs, `/healthz`, outside `/v1`):
 * - 0.8.2: `warp::path("healthz").map(|| "OK")`, the plain text body `OK`;
 * - 0.9.1: `warp::reply::json(&HealthResponse { status: "OK", version })`, e.g.
 *   `{"status":"OK","version":"0.9.1"}`.
 * Anything else (another status, another body) is not Bindle answering, and breaks the streak.
 *
 * Serialized into the BindlePush dynamic provider: plain functions and constants only.
 */
import { BindleClientOptions, probeOnce } from "./client";

export interface Readiness {
    /** Successful health checks in a row before the push starts (1–100, default 15). */
    readonly consecutive?: number;
    /** Pause between checks in ms (10–60000, default 1000). */
    readonly intervalMs?: number;
    /** Give up after this many ms (100–3600000, default 300000: 5 minutes). */
    readonly timeoutMs?: number;
}

export const DEFAULT_READINESS = { consecutive: 15, intervalMs: 1_000, timeoutMs: 300_000 } as const;

const READINESS_LIMITS: Record<keyof Readiness, readonly [number, number]> = {
    consecutive: [1, 100],
    intervalMs: [10, 60_000],
    timeoutMs: [100, 3_600_000],
};

/** Longest a single probe may take (a dropped SYN must not use the whole budget at once). */
const PROBE_TIMEOUT_MS = 10_000;

/** `readiness` with defaults, each field checked: an error names the field, the value and what is allowed. */
export function checkedReadiness(readiness: unknown, field = "readiness"): Required<Readiness> {
    if (readiness === undefined) return { ...DEFAULT_READINESS };
    if (readiness === null || typeof readiness !== "object" || Array.isArray(readiness)) {
        throw new Error(`${field} = ${JSON.stringify(readiness)} is not allowed: an object with consecutive, intervalMs and timeoutMs (each optional)`);
    }
    const out: Record<string, number> = { ...DEFAULT_READINESS };
    for (const [key, value] of Object.entries(readiness as Record<string, unknown>)) {
        const limits = READINESS_LIMITS[key as keyof Readiness];
        if (!limits) throw new Error(`${field}.${key} is not allowed: the fields are ${Object.keys(READINESS_LIMITS).join(", ")}`);
        if (value === undefined) continue;
        if (typeof value !== "number" || !Number.isInteger(value) || value < limits[0] || value > limits[1]) {
            throw new Error(`${field}.${key} = ${JSON.stringify(value)} is not allowed: an integer from ${limits[0]} to ${limits[1]}`);
        }
        out[key] = value;
    }
    return out as Required<Readiness>;
}

/** The health URL of an API root: `https://host:8085/v1` → `https://host:8085/healthz` (PR #259: outside `/v1`). */
export function healthUrl(serverUrl: string): string {
    const base = new URL(serverUrl);
    const root = base.pathname.replace(/\/+$/, "").replace(/\/v1$/, "");
    return `${base.origin}${root}/healthz`;
}

/** Undefined when the answer is Bindle's healthy `/healthz` (either version), else why not. */
export function healthProblem(status: number, body: Buffer): string | undefined {
    const text = body.toString("utf8").trim();
    if (status !== 200) return `HTTP ${status}${text ? ` (${JSON.stringify(text.slice(0, 80))})` : ""}`;
    if (text === "OK") return undefined;
    try {
        const parsed = JSON.parse(text) as { status?: unknown };
        if (parsed !== null && typeof parsed === "object" && parsed.status === "OK") return undefined;
    } catch { /* not JSON */ }
    return `HTTP 200 with body ${JSON.stringify(text.slice(0, 80))}, which is not Bindle's health answer ("OK", or JSON with "status": "OK")`;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once the streak is complete; rejects, saying what it waited for, where and how long, when the budget runs out. */
export async function waitUntilServing(opts: Pick<BindleClientOptions, "serverUrl" | "caPem">, readiness?: Readiness): Promise<{ checks: number; elapsedMs: number }> {
    const { consecutive, intervalMs, timeoutMs } = checkedReadiness(readiness);
    const url = healthUrl(opts.serverUrl);
    const start = Date.now();
    let checks = 0;
    let streak = 0;
    let longest = 0;
    let last = "";
    for (;;) {
        const left = timeoutMs - (Date.now() - start);
        checks++;
        let problem: string | undefined;
        try {
            const res = await probeOnce({ caPem: opts.caPem, timeoutMs: Math.max(100, Math.min(PROBE_TIMEOUT_MS, left)) }, url);
            problem = healthProblem(res.status, res.body);
        } catch (e) {
            const err = e as NodeJS.ErrnoException;
            problem = err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
        }
        if (problem === undefined) {
            streak++;
            longest = Math.max(longest, streak);
            if (streak >= consecutive) return { checks, elapsedMs: Date.now() - start };
        } else {
            streak = 0;
            last = problem;
        }
        const elapsed = Date.now() - start;
        if (elapsed + intervalMs >= timeoutMs) {
            throw new Error(`Bindle at ${url} is not ready: waited ${(elapsed / 1000).toFixed(1)} s (readiness.timeoutMs ${timeoutMs}) for ` +
                `${consecutive} consecutive successful GET /healthz, ${intervalMs} ms apart, each on a new connection` +
                `${opts.caPem !== undefined ? " verified with the given CA" : ""}, before writing to ${opts.serverUrl}; ` +
                `${checks} checks, longest streak ${longest}, last failure: ${last || "none"}. ` +
                `Check that the Bindle job runs (nomad job status bindle) and, on AWS, that the operator load balancer's Bindle target ` +
                `is healthy (it needs 3 health checks 30 s apart after Bindle starts), then run pulumi up again`);
        }
        await pause(intervalMs);
    }
}
