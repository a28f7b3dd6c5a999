/**
 * The servers' rolling-update gate: a Pulumi dynamic resource per server whose update (when its
 * server was replaced or restarted) polls `GET /v1/operator/autopilot/health` of Nomad and of
 * Consul until that server is a healthy voter in both Raft clusters and every other member is
 * healthy too. NomadCluster makes server i+1 `dependsOn` the gate of server i, so `pulumi up`
 * replaces one server, waits until the cluster is whole again, then touches the next one.
 *
 * Create does not poll: on the first `up` the servers are created one after the other and a
 * lone server has no Raft quorum to be healthy in (every server has `bootstrap_expect` = count).
 *
 * What "healthy" reads, from the sources:
 * - Nomad (command/agent/operator_endpoint.go `OperatorServerHealth`, nomad/autopilot.go
 *   `GetClusterHealth`, v1.6.3): the leader's autopilot state, forwarded to the leader by any
 *   server; HTTP 429 when `Healthy` is false, with the same body. Each server has `Address`
 *   (`ip:4647`), `SerfStatus` (`alive`, `failed`, `left`, `none`), `Healthy`, `Voter`. The call
 *   needs `operator:read`: the management token, in the `X-Nomad-Token` header.
 * - Consul (Operator HTTP API, "Read Health"): the same shape (`Address` is `ip:8300`), 429 when
 *   unhealthy; the token goes in `X-Consul-Token`.
 * A replaced server is gone from both lists only once autopilot's `cleanup_dead_servers` (on by
 * default in both) has removed it; until then it is listed `failed`, so "every member alive,
 * healthy and a voter" also means the old server is gone and the next one may go.
 *
 * Tokens are sent only in headers, never in a URL, an argument or a message.
 *
 * Pulumi serializes the provider's functions (see components/nomad/leader.ts): the functions the
 * provider calls are plain function declarations of this module that reference nothing but each
 * other, their arguments and Node built-ins they `require` themselves.
 */
import * as pulumi from "@pulumi/pulumi";
import { httpsGet } from "../nomad/leader";

/** Defaults: 90 attempts 10 s apart (15 minutes: boot, install, join, promotion), 10 s per request. */
export const ROLL_WAIT_DEFAULTS = { attempts: 90, delayMs: 10_000, requestTimeoutMs: 10_000 } as const;

export const AUTOPILOT_HEALTH_PATH = "/v1/operator/autopilot/health";

/** What one HTTP GET returned. */
export interface HealthResponse {
    status: number;
    body: string;
}

/** One Raft cluster to check: Nomad's or Consul's API root on the operator endpoint. */
export interface RaftSystem {
    name: "Nomad" | "Consul";
    address: string;
}

/** Fetches the autopilot health of one system. Rejects on network/TLS failure (`permanent` ends the wait). */
export type FetchHealth = (system: RaftSystem) => Promise<HealthResponse>;

/** The host part of `ip:port` or `[v6]:port`. */
export function hostOf(address: string): string {
    const text = String(address);
    const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
    if (v6) {
        return v6[1];
    }
    const colon = text.lastIndexOf(":");
    return colon > 0 && text.indexOf(":") === colon ? text.slice(0, colon) : text;
}

/** Whether one autopilot health answer shows `serverIp` as a healthy voter in a wholly healthy cluster. */
export function readAutopilotHealth(system: string, response: HealthResponse, serverIp: string): { ok: boolean; problem: string } {
    const body = response.body.trim();
    const what = `${system} (GET /v1/operator/autopilot/health)`;
    if (response.status !== 200 && response.status !== 429) {
        return { ok: false, problem: `${what}: HTTP ${response.status}${body ? `: ${body.slice(0, 200)}` : ""}` };
    }
    let value: { Healthy?: unknown; FailureTolerance?: unknown; Servers?: unknown } | null;
    try {
        value = JSON.parse(body);
    } catch {
        return { ok: false, problem: `${what}: HTTP ${response.status}, unexpected body (not JSON)` };
    }
    if (value === null || typeof value !== "object" || !Array.isArray(value.Servers)) {
        return { ok: false, problem: `${what}: HTTP ${response.status}, no Servers list in the answer` };
    }
    const servers = value.Servers as { Address?: unknown; SerfStatus?: unknown; Healthy?: unknown; Voter?: unknown }[];
    const describe = (s: (typeof servers)[number]) =>
        `${String(s.Address)} ${String(s.SerfStatus)}${s.Healthy === true ? "" : " unhealthy"}${s.Voter === true ? "" : " non-voter"}`;
    const members = servers.map(describe).join(", ") || "none";
    const mine = servers.find((s) => hostOf(String(s.Address)) === serverIp);
    if (mine === undefined) {
        return { ok: false, problem: `${what}: server ${serverIp} is not in the Raft configuration yet (members: ${members})` };
    }
    const bad = servers.filter((s) => !(s.SerfStatus === "alive" && s.Healthy === true && s.Voter === true));
    if (value.Healthy !== true || bad.length > 0) {
        return { ok: false, problem: `${what}: autopilot reports the cluster unhealthy (members: ${members}; failure tolerance ${String(value.FailureTolerance)})` };
    }
    return { ok: true, problem: "" };
}

/** How long and how often to poll, and for which server. */
export interface RollWait {
    /** The (new or restarted) server's private IP, as it appears in `Address`. */
    serverIp: string;
    systems: RaftSystem[];
    /** Rounds to make at most (>= 1); each round asks every system once. */
    attempts: number;
    /** Pause between two rounds, in milliseconds. */
    delayMs: number;
}

function pause(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls until one round finds `serverIp` a healthy voter in every system's healthy cluster.
 * Fails after `attempts` rounds with an error naming the server, the systems still waited for,
 * the attempts and the last problem, or at once on a permanent error (an untrusted certificate).
 */
export async function waitForServerInRaft(wait: RollWait, fetch: FetchHealth, sleep: (ms: number) => Promise<void> = pause): Promise<void> {
    if (!Number.isInteger(wait.attempts) || wait.attempts < 1) {
        throw new Error(`ServerRollGate: attempts must be a whole number >= 1, got ${wait.attempts}`);
    }
    if (wait.systems.length === 0) {
        throw new Error("ServerRollGate: no Raft system to check");
    }
    let problems: string[] = ["no request made"];
    for (let attempt = 1; attempt <= wait.attempts; attempt++) {
        problems = [];
        for (const system of wait.systems) {
            try {
                const verdict = readAutopilotHealth(system.name, await fetch(system), wait.serverIp);
                if (!verdict.ok) {
                    problems.push(verdict.problem);
                }
            } catch (err) {
                const message = `${system.name} at ${system.address}: ${err instanceof Error ? err.message : String(err)}`;
                if ((err as { permanent?: boolean } | null)?.permanent) {
                    throw new Error(`ServerRollGate: refusing ${message} (server ${wait.serverIp}, attempt ${attempt})`);
                }
                problems.push(message);
            }
        }
        if (problems.length === 0) {
            return;
        }
        if (attempt < wait.attempts) {
            await sleep(wait.delayMs);
        }
    }
    throw new Error(`ServerRollGate: server ${wait.serverIp} is not a healthy voter in a healthy ${wait.systems.map((s) => s.name).join(" and ")} ` +
        `cluster after ${wait.attempts} attempts ${wait.delayMs} ms apart; the next server is left alone. Last: ${problems.join("; ")}`);
}


/** The gate's wait with the props the resource stores: Nomad, and Consul when it has an address. */
export function waitWithProps(props: Record<string, any>): Promise<void> {
    const systems: RaftSystem[] = [{ name: "Nomad", address: props.nomadAddress }];
    if (props.consulAddress) {
        systems.push({ name: "Consul", address: props.consulAddress });
    }
    return waitForServerInRaft({ serverIp: props.serverIp, systems, attempts: props.attempts, delayMs: props.delayMs }, (system) =>
        system.name === "Nomad"
            ? httpsGet(system.address, "/v1/operator/autopilot/health", props.caPem, props.requestTimeoutMs, props.nomadToken, "X-Nomad-Token")
            : httpsGet(system.address, "/v1/operator/autopilot/health", props.caPem, props.requestTimeoutMs, props.consulToken, "X-Consul-Token"));
}

/** The gate's dynamic provider: self-contained, see the module comment. */
const rollGateProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Record<string, any>): Promise<pulumi.dynamic.CreateResult> {
        const { __provider: _code, ...props } = inputs;
        return { id: String(props.serverName), outs: props };
    },
    async diff(_id: string, olds: Record<string, any>, news: Record<string, any>): Promise<pulumi.dynamic.DiffResult> {
        const keys = ["serverName", "serverId", "serverIp", "instanceType", "nomadAddress", "consulAddress", "caPem", "nomadToken", "consulToken",
            "attempts", "delayMs", "requestTimeoutMs"];
        return { changes: keys.some((key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key])), replaces: [], deleteBeforeReplace: false };
    },
    async update(_id: string, _olds: Record<string, any>, news: Record<string, any>): Promise<pulumi.dynamic.UpdateResult> {
        const { __provider: _code, ...props } = news;
        await waitWithProps(props);
        return { outs: props };
    },
};

/** What a server's gate needs to ask Nomad and Consul whether it has joined (the cluster's part). */
export interface ServerRollAccess {
    /** Nomad and Consul HTTPS API roots on the operator endpoint. */
    nomadAddress: pulumi.Input<string>;
    consulAddress: pulumi.Input<string>;
    /** PEM of the cluster CA: the only CA trusted. */
    caPem: pulumi.Input<string>;
    /** Management tokens (`operator:read`), kept secret; sent only as headers. */
    nomadToken: pulumi.Input<string>;
    consulToken: pulumi.Input<string>;
    /** Polling bounds; defaults in ROLL_WAIT_DEFAULTS. */
    attempts?: number;
    delayMs?: number;
}

/** Inputs of `ServerRollGate`: the access, and the server it waits for. */
export interface ServerRollGateArgs extends ServerRollAccess {
    /** The server's Name tag; the gate's ID. */
    serverName: string;
    /** The server's instance ID and private IP: a new one (replacement) makes the next `up` wait. */
    serverId: pulumi.Input<string>;
    serverIp: pulumi.Input<string>;
    /** A changed instance type restarts the server in place: the gate waits then too. */
    instanceType: pulumi.Input<string>;
    requestTimeoutMs?: number;
}

/**
 * Opens once its server is a healthy voter in healthy Nomad and Consul clusters (on update; see
 * the module comment). Make the next server `dependsOn` it.
 */
export class ServerRollGate extends pulumi.dynamic.Resource {
    declare readonly serverId: pulumi.Output<string>;

    constructor(name: string, args: ServerRollGateArgs, opts?: pulumi.CustomResourceOptions) {
        const attempts = args.attempts ?? ROLL_WAIT_DEFAULTS.attempts;
        const delayMs = args.delayMs ?? ROLL_WAIT_DEFAULTS.delayMs;
        const requestTimeoutMs = args.requestTimeoutMs ?? ROLL_WAIT_DEFAULTS.requestTimeoutMs;
        if (!Number.isInteger(attempts) || attempts < 1) {
            throw new Error(`ServerRollGate ${name}: attempts must be a whole number >= 1, got ${attempts}`);
        }
        for (const [key, value] of Object.entries({ delayMs, requestTimeoutMs })) {
            if (!Number.isFinite(value) || value < 0) {
                throw new Error(`ServerRollGate ${name}: ${key} must be a number >= 0, got ${value}`);
            }
        }
        super(rollGateProvider, name, {
            serverName: args.serverName,
            serverId: args.serverId,
            serverIp: args.serverIp,
            instanceType: args.instanceType,
            nomadAddress: args.nomadAddress,
            consulAddress: args.consulAddress,
            caPem: args.caPem,
            nomadToken: pulumi.secret(args.nomadToken),
            consulToken: pulumi.secret(args.consulToken),
            attempts,
            delayMs,
            requestTimeoutMs,
        }, { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "nomadToken", "consulToken"] }, "spin-cloud", "ServerRollGate");
    }
}
