/**
 * Facts the platform services share between the AWS wiring (load balancers, security groups),
 * the Nomad job builders and the tests: ports, names, Nomad Variable paths.
 */

/** Traefik entry points on every client (static host ports; above 1024 so no root is needed). */
export const TRAEFIK_PORTS = {
    /** Public HTTP entry point: the public load balancer forwards app traffic here. */
    web: 8080,
    /** API and dashboard: reachable only through the operator load balancer. */
    dashboard: 8081,
    /** `/ping` health endpoint: the public load balancer's health check. */
    ping: 8082,
} as const;

/** Bindle's HTTP API (static, so `http://bindle.service.consul:<port>/v1` works on every node). */
export const BINDLE_PORT = 8085;

/**
 * The platform libSQL server (AWS, docs/libsql.md): its user API on every node's address (apps
 * reach `http://<namespace>.libsql.service.consul:<http>`), its admin API on the node's loopback
 * only (the namespace task of the same allocation calls it).
 */
export const LIBSQL_PORTS = { http: 8090, admin: 8091 } as const;

/** Consul service names the platform registers. */
export const SERVICE_NAMES = { traefik: "traefik", bindle: "bindle", libsql: "libsql" } as const;

/** Nomad job IDs of the platform services; their tasks may read `nomad/jobs/<id>` variables. */
export const JOB_IDS = { traefik: "traefik", bindle: "bindle", libsql: "libsql" } as const;

/** Nomad Variable holding a job's secrets (a task may read the variables under its own job path). */
export function jobVariablePath(jobId: string): string {
    return `nomad/jobs/${jobId}`;
}

/** Nomad client class of the nodes that run platform services and apps. */
export const CLIENT_NODE_CLASS = "spin";

/** Host volume (on every client, backed by EFS) where Bindle keeps its data. */
export const BINDLE_HOST_VOLUME = { name: "bindle-data", path: "/srv/bindle" } as const;
