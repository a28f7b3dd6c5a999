/**
 * Real Nomad 1.6.3 + real Traefik (the project's local static configuration, Nomad provider
 * swapped in: harness/traefik.ts) for the routing tests, and the project's Spin app job made
 * runnable against backends the harness started. Every change to the project's job is here,
 * explicit, with its reason; the service tags, the update strategy, the shutdown delay and the
 * kill signal stay exactly as rendered.
 */
import * as http from "http";
import { spinAppJob, SpinAppJobInput, SpinAppNomadJob } from "../../../provisioning/jobs/spin-app-job";
import { Architecture } from "../../../provisioning/types";
import { NomadAgent, nomadApi, startNomadDev } from "./nomad-dev";
import { Processes, request, Started, waitFor } from "./runtime";
import { entryPointPorts, localTraefikPorts, startTraefik, withNomadProvider } from "./traefik";
import { parse } from "yaml";
import { renderTraefikStaticConfig, TraefikStaticConfig } from "../../../provisioning/jobs/traefik-config";

export interface RoutingStack {
    readonly nomad: NomadAgent;
    readonly traefik: Started;
    readonly web: number;
    readonly dashboard: number;
}

export async function startRoutingStack(processes: Processes, dir: string): Promise<RoutingStack> {
    const nomad = await startNomadDev(processes, dir);
    const config = parse(renderTraefikStaticConfig({ local: { ports: await localTraefikPorts() } })) as TraefikStaticConfig;
    const ports = entryPointPorts(config);
    const traefik = await startTraefik(processes, dir, withNomadProvider(config, nomad.http), ports.ping);
    return { nomad, traefik, web: ports.web, dashboard: ports.traefik };
}

export const HOST_ARCHITECTURE: Architecture = process.arch === "arm64" ? "arm64" : "x86_64";

/** A Spin app input as the project would give it, for `name` and `routing`. */
export function appInput(name: string, routing: SpinAppJobInput["routing"]): SpinAppJobInput {
    return {
        name, datacenters: ["dc1"], architecture: HOST_ARCHITECTURE, instances: 1,
        resources: { cpuMhz: 100, memoryMb: 128 },
        bindle: { baseUrl: "http://127.0.0.1:1/v1", bindleId: `${name}/1.0.0`, parcels: [{ path: "spin.toml", sha256: "0".repeat(64) }] },
        routing,
        runtime: { driver: "raw_exec", spinBinary: "/usr/local/bin/spin" },
    };
}

/**
 * The project's job for `input`, run against a backend already listening on 127.0.0.1:`port`:
 * - service Provider "consul" -> "nomad": this harness starts no Consul agent; Traefik's Nomad provider reads Nomad's
 *   native service registrations (same tags);
 * - service Address 127.0.0.1 and PortLabel the backend's numeric port (Nomad
 *   client/serviceregistration/address.go `GetAddress`: a custom address takes a numeric port):
 *   the backend is a warm process the harness started, because the Nomad provider does not
 *   filter by health, where the Consul catalog provider waits for a passing check;
 * - check Path `/` instead of `/.well-known/spin/health`: the host is jco serve, not Spin;
 * - task: raw_exec `sleep` instead of `spin up`, no artifacts (there is no Bindle or Spin here;
 *   the task stands for the instance's lifetime, so Nomad's shutdown_delay and kill_signal apply).
 */
export function runnableJob(input: SpinAppJobInput, port: number, version: string): SpinAppNomadJob {
    const job = spinAppJob(input);
    const [group] = job.TaskGroups;
    const [service] = group.Services!;
    const [task] = group.Tasks;
    return {
        ...job,
        Meta: { ...job.Meta, harness_version: version },
        TaskGroups: [{
            ...group,
            Services: [{
                ...service,
                Provider: "nomad",
                Address: "127.0.0.1",
                PortLabel: String(port),
                Checks: service.Checks!.map((c) => ({ ...c, Path: "/", PortLabel: String(port) })),
            } as typeof service],
            Tasks: [{ ...task, Driver: "raw_exec", Config: { command: "/bin/sleep", args: ["100000"] }, Artifacts: [], Templates: [], Env: {} }],
        }],
    };
}

interface Deployment { ID: string; Status: string; JobVersion: number }

/** Registers `job` and waits until its latest deployment is successful; returns the deployment. */
export async function deploy(nomad: NomadAgent, job: SpinAppNomadJob, timeoutMs = 180_000): Promise<Deployment> {
    const { JobModifyIndex } = await nomadApi<{ JobModifyIndex: number }>(nomad, "PUT", "/v1/jobs", { Job: job });
    return waitFor(`deployment of ${job.ID} (index ${JobModifyIndex})`, async () => {
        const d = await nomadApi<Deployment | null>(nomad, "GET", `/v1/job/${job.ID}/deployment`);
        if (!d) return undefined;
        const current = await nomadApi<{ Version: number }>(nomad, "GET", `/v1/job/${job.ID}`);
        if (d.JobVersion !== current.Version) return undefined;
        if (["failed", "cancelled"].includes(d.Status)) throw new Error(`deployment ${d.ID} ${d.Status}`);
        return d.Status === "successful" ? d : undefined;
    }, timeoutMs, 500);
}

/** Allocations of the job still running (client status). */
export async function runningAllocs(nomad: NomadAgent, jobId: string): Promise<{ ID: string; JobVersion: number }[]> {
    const allocs = await nomadApi<{ ID: string; JobVersion: number; ClientStatus: string }[]>(nomad, "GET", `/v1/job/${jobId}/allocations`);
    return allocs.filter((a) => a.ClientStatus === "running" || a.ClientStatus === "pending");
}

/** Waits until Traefik's API lists routers of the nomad provider whose names start with each of `prefixes`. */
export async function waitForRouters(stack: RoutingStack, names: readonly string[], timeoutMs = 60_000): Promise<void> {
    await waitFor(`traefik routers ${names.join(", ")}`, async () => {
        const routers = JSON.parse((await request(`http://127.0.0.1:${stack.dashboard}/api/http/routers`, {}, 2_000)).body) as { name: string; status: string }[];
        const enabled = new Set(routers.filter((r) => r.status === "enabled").map((r) => r.name));
        return names.every((n) => enabled.has(`${n}@nomad`)) ? true : undefined;
    }, timeoutMs, 500);
}

/** One GET to Traefik's web entry point with a Host header (fetch cannot set Host); no keep-alive. */
export function webGet(port: number, host: string, path: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, path, method: "GET", headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end();
    });
}

/** An in-process backend on 127.0.0.1 that answers `<app> <path>`: who got the request, and which path it saw. */
export function echoBackend(app: string): Promise<{ server: http.Server; port: number }> {
    return new Promise((resolve) => {
        const server = http.createServer((req, res) => {
            res.writeHead(200, { "content-type": "text/plain" });
            res.end(`${app} ${req.url}`);
        });
        server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port }));
    });
}
