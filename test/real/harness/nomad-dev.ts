/**
 * A real Nomad 1.6.3 agent for the routing tests: server and client in one process on
 * 127.0.0.1, free ports, a temp data dir, raw_exec on, ACLs off, native service discovery.
 * It is a minimal -dev-like configuration of the harness's own, not the local target's agent
 * configuration (that one, with ACLs and the local stack's paths, is tested in the Nomad suite).
 * Keys: website/content/docs/configuration/{index,server,client}.mdx, drivers/raw_exec.mdx.
 */
import { spawnSync } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { CLIENT_NODE_CLASS } from "../../../provisioning/platform";
import { freePorts, Processes, request, sleep, Started, waitFor } from "./runtime";

export const NOMAD_BINARY = "nomad";

export interface NomadAgent { readonly started: Started; readonly http: number; readonly url: string }

export interface NomadDevOptions {
    /** Also allow the exec driver (needs root: chroot and cgroups), as the AWS clients do. */
    readonly exec?: boolean;
    /** Client host volumes, name → absolute path. */
    readonly hostVolumes?: Readonly<Record<string, string>>;
}

/** What every harness Nomad agent shares: its data dir, all addresses and the three ports on 127.0.0.1, no update check. */
export function loopbackNomadBase(dataDir: string, ports: { readonly http: number; readonly rpc: number; readonly serf: number }) {
    return {
        data_dir: dataDir,
        bind_addr: "127.0.0.1",
        advertise: { http: "127.0.0.1", rpc: "127.0.0.1", serf: "127.0.0.1" },
        ports: { http: ports.http, rpc: ports.rpc, serf: ports.serf },
        disable_update_check: true,
    };
}

export async function startNomadDev(processes: Processes, dir: string, options: NomadDevOptions = {}): Promise<NomadAgent> {
    const [http, rpc, serf] = await freePorts(3);
    const volumes = Object.entries(options.hostVolumes ?? {});
    const config = {
        ...loopbackNomadBase(path.join(dir, "nomad-data"), { http, rpc, serf }),
        log_level: "INFO",
        server: { enabled: true, bootstrap_expect: 1 },
        client: {
            enabled: true,
            // The app jobs' placement constraint (jobs/placement.ts) wants this node class.
            node_class: CLIENT_NODE_CLASS,
            // Allocation addresses (services, dynamic ports) on loopback only.
            network_interface: "lo",
            options: { "driver.allowlist": options.exec ? "raw_exec,exec" : "raw_exec" },
            ...(volumes.length > 0 ? { host_volume: Object.fromEntries(volumes.map(([name, p]) => [name, { path: p, read_only: false }])) } : {}),
        },
        plugin: { raw_exec: { config: { enabled: true } } },
    };
    const file = path.join(dir, "nomad.json");
    writeFileSync(file, JSON.stringify(config, null, 2));
    const started = processes.start("nomad", NOMAD_BINARY, ["agent", `-config=${file}`], { cwd: dir });
    const url = `http://127.0.0.1:${http}`;
    await waitFor("nomad leader and a ready client with raw_exec", async () => {
        if (started.child.exitCode !== null) throw new Error(`nomad exited ${started.child.exitCode}:\n${started.log().slice(-3000)}`);
        const leader = await request(`${url}/v1/status/leader`, {}, 2_000);
        if (leader.status !== 200 || leader.body.length < 4) return undefined;
        const nodes = JSON.parse((await request(`${url}/v1/nodes`, {}, 2_000)).body) as { Status: string; Drivers: Record<string, { Healthy: boolean }> }[];
        return nodes.some((n) => n.Status === "ready" && n.Drivers?.raw_exec?.Healthy && (!options.exec || n.Drivers?.exec?.Healthy)) ? true : undefined;
    }, 60_000, 500);
    return { started, http, url };
}

/** JSON call to the Nomad API; throws on a non-2xx answer with its body. */
export async function nomadApi<T = unknown>(agent: NomadAgent, method: string, p: string, body?: unknown): Promise<T> {
    const res = await request(`${agent.url}${p}`, {
        method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body),
    }, 15_000);
    if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${res.body}`);
    return (res.body ? JSON.parse(res.body) : undefined) as T;
}

/**
 * Stops every job (without purging: a purge drops the allocations from the state at once, while
 * the client is still stopping them) and waits until every allocation is terminal, so the client
 * has ended each task and its executor (they run in sessions of their own, outside the agent's
 * process group) and unmounted the secrets/private tmpfs (Nomad as root) before the agent stops.
 * The wait covers the jobs' shutdown_delay. Then it detaches whatever mount is left under `dir`.
 */
export async function stopNomadJobs(agent: NomadAgent, dir: string, timeoutMs = 90_000): Promise<void> {
    try {
        const jobs = await nomadApi<{ ID: string }[]>(agent, "GET", "/v1/jobs");
        await Promise.all(jobs.map((j) => nomadApi(agent, "DELETE", `/v1/job/${j.ID}`)));
        await waitFor("every allocation terminal", async () => {
            const allocs = await nomadApi<{ ClientStatus: string }[]>(agent, "GET", "/v1/allocations");
            return allocs.every((a) => ["complete", "failed", "lost"].includes(a.ClientStatus)) ? true : undefined;
        }, timeoutMs, 500);
        await sleep(1_000); // the client's executor shutdown after the status update
    } finally {
        unmountUnder(dir);
    }
}

/** Lazily unmounts every mount point under `dir` (deepest first); no-op when there is none. */
export function unmountUnder(dir: string): void {
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m) => m && m.startsWith(`${dir}/`));
    for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync("umount", ["-l", m]);
}
