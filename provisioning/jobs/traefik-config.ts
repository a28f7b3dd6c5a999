/**
 * The Traefik v3 STATIC (install) configuration of the platform's Traefik, as a typed object and
 * its YAML. It holds no secret: the Consul ACL token reaches Traefik through the environment.
 *
 * References (traefik/traefik, docs/content/reference/install-configuration/):
 * entrypoints.md (address, asDefault, forwardedHeaders.trustedIPs, transport.lifeCycle),
 * api-dashboard.md (`api.insecure`: "Enable the API and the dashboard on the entryPoint named
 * traefik"), observability/healthcheck/ping.md, observability/metrics.md (prometheus.entryPoint),
 * observability/logs-and-accesslogs.md, providers/hashicorp/consul-catalog.md.
 *
 * Two placements: AWS (the default; `vpcCidr`), every entry point on all interfaces of the node,
 * the load balancers in the VPC; and the local target (`local`), every listener on loopback at
 * the ports of local.ts, next to the one local Consul agent.
 */
import { stringify } from "yaml";
import { CONSUL_PORTS } from "../agents/consul-config";
import { isUnprivilegedPort, LocalPorts, LOOPBACK } from "../loopback";
import { TRAEFIK_PORTS } from "../platform";

/** Entry point names. `traefik` is the one `api.insecure` binds the API and dashboard to. */
export const TRAEFIK_ENTRY_POINTS = { web: "web", dashboard: "traefik", ping: "ping" } as const;

/** Default Consul catalog tag prefix (`traefik.enable=true`, `traefik.http.routers…`). */
export const DEFAULT_TRAEFIK_TAG_PREFIX = "traefik";

/**
 * Where Traefik's Consul catalog provider finds its ACL token.
 *
 * Not `TRAEFIK_PROVIDERS_CONSULCATALOG_ENDPOINT_TOKEN`: Traefik's static configuration sources
 * (file, CLI arguments, environment) are "mutually exclusive (i.e. you can use only one at the
 * same time)" (getting-started/configuration-overview.md), and this configuration is a file, so
 * `TRAEFIK_*` variables would be ignored. Instead `endpoint.token` stays empty and the provider's
 * client, built with `api.NewClient` (pkg/provider/consulcatalog/consul_catalog.go `createClient`),
 * falls back to the Consul API's default config, which reads `CONSUL_HTTP_TOKEN`
 * (hashicorp/consul api/api.go `HTTPTokenEnvName`, `NewClient`).
 */
export const TRAEFIK_CONSUL_TOKEN_ENV = "CONSUL_HTTP_TOKEN";

/**
 * Graceful stop: after SIGTERM/SIGINT the ping handler answers 503 (ping.md
 * `terminatingStatusCode`) while `web` keeps accepting for `requestAcceptGraceTimeout`, then
 * in-flight requests get `graceTimeOut`. Their sum stays under the Nomad kill timeout.
 */
export const TRAEFIK_LIFECYCLE_SECONDS = { requestAcceptGrace: 10, grace: 15 } as const;

/** AWS: the platform ports (TRAEFIK_PORTS) on every interface; the node's Consul client agent. */
export interface TraefikAwsStaticConfigInput {
    /** IPv4 CIDR of the VPC: the load balancer's addresses, whose `X-Forwarded-*` headers are trusted. */
    readonly vpcCidr: string;
    readonly local?: undefined;
    /** Consul catalog tag prefix; defaults to `traefik`. */
    readonly tagPrefix?: string;
}

/** Local target: web, dashboard and ping on 127.0.0.1 at `local.ports`; Consul at 127.0.0.1:`consulHttp`. */
export interface TraefikLocalStaticConfigInput {
    readonly local: { readonly ports: LocalPorts };
    readonly vpcCidr?: undefined;
    /** Consul catalog tag prefix; defaults to `traefik`. */
    readonly tagPrefix?: string;
}

export type TraefikStaticConfigInput = TraefikAwsStaticConfigInput | TraefikLocalStaticConfigInput;

/** What differs between the placements: listener addresses, trusted proxies, the Consul agent. */
interface Placement {
    readonly web: string;
    readonly dashboard: string;
    readonly ping: string;
    readonly trustedIPs: readonly string[];
    readonly consul: string;
}

interface EntryPoint {
    readonly address: string;
    readonly asDefault?: boolean;
    readonly forwardedHeaders?: { readonly trustedIPs: readonly string[] };
    readonly transport?: {
        readonly lifeCycle: { readonly requestAcceptGraceTimeout: string; readonly graceTimeOut: string };
    };
}

/** Exactly the keys `traefikStaticConfig` emits. */
export interface TraefikStaticConfig {
    readonly global: { readonly checkNewVersion: false; readonly sendAnonymousUsage: false };
    readonly log: { readonly level: "INFO"; readonly format: "json" };
    readonly accessLog: { readonly format: "json" };
    readonly entryPoints: {
        readonly web: EntryPoint;
        readonly traefik: EntryPoint;
        readonly ping: EntryPoint;
    };
    readonly api: { readonly dashboard: true; readonly insecure: true };
    readonly ping: { readonly entryPoint: "ping" };
    readonly metrics: { readonly prometheus: { readonly entryPoint: "traefik"; readonly addRoutersLabels: true } };
    readonly providers: {
        readonly consulCatalog: {
            readonly prefix: string;
            readonly exposedByDefault: false;
            readonly connectAware: false;
            readonly endpoint: { readonly address: string; readonly scheme: "http" };
        };
    };
}

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const TAG_PREFIX = /^[a-z][a-z0-9-]*$/;

function checkedCidr(cidr: string): string {
    const match = IPV4_CIDR.exec(cidr);
    if (!match || match.slice(1, 5).some((octet) => Number(octet) > 255) || Number(match[5]) > 32) {
        throw new Error(`traefik: vpcCidr must be an IPv4 CIDR such as 10.40.0.0/16, got ${JSON.stringify(cidr)}`);
    }
    return cidr;
}

function checkedPrefix(prefix: string): string {
    if (!TAG_PREFIX.test(prefix)) {
        throw new Error(`traefik: tagPrefix must match ${TAG_PREFIX}, got ${JSON.stringify(prefix)}`);
    }
    return prefix;
}

/** Listen on every interface: the load balancers reach the node's private IP. */
const anyAddress = (port: number): string => `:${port}`;

/** Local listeners: loopback only, so nothing else on the network reaches the platform. */
const loopbackAddress = (port: number): string => `${LOOPBACK}:${port}`;

/** Unprivileged (Nomad runs as the user locally) and within the TCP range. */
function checkedLocalPort(name: keyof LocalPorts, ports: LocalPorts): number {
    const port = ports[name];
    if (!isUnprivilegedPort(port)) {
        throw new Error(`traefik: local.ports.${name} must be an integer from 1024 to 65535, got ${JSON.stringify(port)}`);
    }
    return port;
}

function placement(input: TraefikStaticConfigInput): Placement {
    if (input.local === undefined) {
        return {
            web: anyAddress(TRAEFIK_PORTS.web),
            dashboard: anyAddress(TRAEFIK_PORTS.dashboard),
            ping: anyAddress(TRAEFIK_PORTS.ping),
            trustedIPs: [checkedCidr(input.vpcCidr)],
            consul: loopbackAddress(CONSUL_PORTS.http),
        };
    }
    const { ports } = input.local;
    const listeners = [checkedLocalPort("traefikWeb", ports), checkedLocalPort("traefikDashboard", ports), checkedLocalPort("traefikPing", ports)];
    if (new Set(listeners).size !== listeners.length) {
        throw new Error(`traefik: local.ports traefikWeb, traefikDashboard and traefikPing must differ, got ${listeners.join(", ")}`);
    }
    return {
        web: loopbackAddress(ports.traefikWeb),
        dashboard: loopbackAddress(ports.traefikDashboard),
        ping: loopbackAddress(ports.traefikPing),
        // Only local clients (curl, the browser, `spin` tooling) reach web; none is a proxy to distrust.
        trustedIPs: [`${LOOPBACK}/32`],
        consul: loopbackAddress(checkedLocalPort("consulHttp", ports)),
    };
}

export function traefikStaticConfig(input: TraefikStaticConfigInput): TraefikStaticConfig {
    const at = placement(input);
    return {
        global: { checkNewVersion: false, sendAnonymousUsage: false },
        log: { level: "INFO", format: "json" },
        accessLog: { format: "json" },
        entryPoints: {
            // The only default entry point: app routers without `entryPoints` attach here, never
            // to `traefik` (always excluded) or `ping` (entrypoints.md "asDefault").
            web: {
                address: at.web,
                asDefault: true,
                // On AWS the ALB terminates TLS and only its (VPC) addresses may set X-Forwarded-*;
                // locally only loopback clients can connect at all.
                forwardedHeaders: { trustedIPs: [...at.trustedIPs] },
                transport: {
                    lifeCycle: {
                        requestAcceptGraceTimeout: `${TRAEFIK_LIFECYCLE_SECONDS.requestAcceptGrace}s`,
                        graceTimeOut: `${TRAEFIK_LIFECYCLE_SECONDS.grace}s`,
                    },
                },
            },
            traefik: { address: at.dashboard },
            ping: { address: at.ping },
        },
        // `insecure` serves API + dashboard on the entry point named `traefik` only: the operator
        // port, which only the operator load balancer forwards to. No router exposes api@internal on web.
        api: { dashboard: true, insecure: true },
        ping: { entryPoint: TRAEFIK_ENTRY_POINTS.ping },
        metrics: { prometheus: { entryPoint: TRAEFIK_ENTRY_POINTS.dashboard, addRoutersLabels: true } },
        providers: {
            consulCatalog: {
                prefix: checkedPrefix(input.tagPrefix ?? DEFAULT_TRAEFIK_TAG_PREFIX),
                // Only services tagged `<prefix>.enable=true` are routed.
                exposedByDefault: false,
                connectAware: false,
                // The node's own Consul client agent (locally the one Consul server): plain HTTP on
                // loopback (consul-config.ts). No `token` and no `defaultRule` (Traefik's default
                // rule template needs `{{ }}`).
                endpoint: { address: at.consul, scheme: "http" },
            },
        },
    };
}

/** The static configuration file (`traefik.yml`). Deterministic. */
export function renderTraefikStaticConfig(input: TraefikStaticConfigInput): string {
    return stringify(traefikStaticConfig(input), { lineWidth: 0 });
}
