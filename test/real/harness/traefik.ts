/**
 * Real Traefik for `npm run test:real`: the static configuration the project renders
 * (provisioning/jobs/traefik-config.ts), written to a temp dir and started on 127.0.0.1.
 * What the harness changes in it is explicit here, each with its reason.
 */
import { writeFileSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { LocalPorts } from "../../../provisioning/loopback";
import { TraefikStaticConfig } from "../../../provisioning/jobs/traefik-config";
import { freePorts, Processes, request, Started, waitFor } from "./runtime";

export const TRAEFIK_BINARY = "traefik";

/** Ports of the local target's Traefik and Consul, all free on 127.0.0.1 now (nothing listens on consulHttp). */
export async function localTraefikPorts(): Promise<LocalPorts> {
    const [traefikWeb, traefikDashboard, traefikPing, consulHttp, ...rest] = await freePorts(13);
    const [consulDns, consulGrpc, consulServer, consulSerfLan, consulSerfWan, nomadHttp, nomadRpc, nomadSerf, bindle] = rest;
    return {
        traefikWeb, traefikDashboard, traefikPing, consulHttp,
        consulDns, consulGrpc, consulServer, consulSerfLan, consulSerfWan, nomadHttp, nomadRpc, nomadSerf, bindle,
    };
}

/** The listen ports of a static configuration's entry points, by entry point name. */
export function entryPointPorts(config: TraefikStaticConfig): Record<keyof TraefikStaticConfig["entryPoints"], number> {
    const port = (address: string) => Number(/:(\d+)$/.exec(address)![1]);
    const eps = config.entryPoints;
    return { web: port(eps.web.address), traefik: port(eps.traefik.address), ping: port(eps.ping.address) };
}

/**
 * The AWS configuration made runnable here. ONLY the listen addresses change: every entry point
 * from `:<platform port>` (all interfaces) to 127.0.0.1:<free port>, and the Consul agent
 * endpoint to 127.0.0.1:<free port nothing listens on>, so the test neither binds the machine's
 * interfaces nor needs the fixed ports 8080-8082. Everything else stays as rendered.
 */
export function awsConfigOnLoopback(rendered: string, ports: { web: number; traefik: number; ping: number; consul: number }): TraefikStaticConfig {
    // Plain parsed YAML, mutable (the TraefikStaticConfig type is read-only).
    const config = parse(rendered) as {
        entryPoints: Record<"web" | "traefik" | "ping", { address: string }>;
        providers: { consulCatalog: { endpoint: { address: string } } };
    };
    config.entryPoints.web.address = `127.0.0.1:${ports.web}`;
    config.entryPoints.traefik.address = `127.0.0.1:${ports.traefik}`;
    config.entryPoints.ping.address = `127.0.0.1:${ports.ping}`;
    config.providers.consulCatalog.endpoint.address = `127.0.0.1:${ports.consul}`;
    return config as unknown as TraefikStaticConfig;
}

/**
 * The routing tests' provider: the project reads the Consul catalog, which cannot run here (no
 * Consul build, issue 10), so the harness swaps `providers.consulCatalog` for Traefik's Nomad
 * provider over Nomad's native service discovery. It reads the same `<prefix>.*` tags
 * (pkg/provider/nomad/config.go `tagsToLabels`) with the same prefix and `exposedByDefault`,
 * and polls at the Consul catalog provider's default interval (15s, both providers'
 * `SetDefaults`) so the timing the Spin job's shutdown_delay is sized against is kept.
 * One difference: it does not filter by health check (nomad.go `fetchService`: "Nomad ... does
 * not yet return health status information"), so the routing tests register only backends that
 * already answer.
 */
export function withNomadProvider(config: TraefikStaticConfig, nomadHttp: number): object {
    const { consulCatalog } = config.providers;
    return {
        ...config,
        providers: {
            nomad: {
                prefix: consulCatalog.prefix,
                exposedByDefault: consulCatalog.exposedByDefault,
                refreshInterval: "15s",
                endpoint: { address: `http://127.0.0.1:${nomadHttp}` },
            },
        },
    };
}

/** Writes `config` as traefik.yml in `dir` and starts Traefik on it; resolves once /ping answers 200. */
export async function startTraefik(processes: Processes, dir: string, config: object, pingPort: number): Promise<Started> {
    const file = path.join(dir, "traefik.yml");
    writeFileSync(file, stringify(config, { lineWidth: 0 }));
    const started = processes.start("traefik", TRAEFIK_BINARY, [`--configFile=${file}`], { cwd: dir });
    await waitFor(`traefik /ping on 127.0.0.1:${pingPort}`, async () => {
        if (started.child.exitCode !== null) throw new Error(`traefik exited ${started.child.exitCode}:\n${started.log().slice(-2000)}`);
        const res = await request(`http://127.0.0.1:${pingPort}/ping`, {}, 2_000);
        return res.status === 200 ? true : undefined;
    }, 30_000);
    return started;
}
