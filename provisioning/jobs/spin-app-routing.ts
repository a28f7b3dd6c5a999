/**
 * How a Spin app is reached: the checks on its SpinAppRouting and the Traefik consul-catalog tags
 * that route to it. Traefik v3 docs: other-providers/consul-catalog.md (tags),
 * middlewares/stripprefix.md, routing/rules-and-priority.md.
 *
 * Priority. Without `priority`, Traefik ranks a router by the length of its rule text
 * (traefik/traefik pkg/muxer/http/mux.go `GetRulePriority`: `return len(rule)`, applied in
 * pkg/server/router/router.go `buildEntryPointHandler` when `Priority == 0`), so
 * `Path(/hello) || PathPrefix(/hello/)` outranks `Host(shop.example.com)` and takes
 * `shop.example.com/hello/…` from the shop app. Every app router therefore carries an explicit
 * priority by what the user declared: hosts and a path > hosts > a path
 * (SPIN_APP_ROUTE_PRIORITY), well below Traefik's user maximum (router.go
 * `maxUserPriority = math.MaxInt - 1000`).
 *
 * Spin's own paths. Spin answers `/.well-known/spin/health` and `/.well-known/spin/info` itself,
 * before routing to any component (spin-docs content/v3/http-trigger.md; trigger-http
 * server.rs): health says "OK" without running the app, info names the app and its version.
 * Neither is for the public: the platform's health checks reach each instance directly (Consul /
 * Nomad check on the allocation's port, never through Traefik), and info only helps an attacker
 * fingerprint the app. So no app router matches anything under `/.well-known/spin/` of the path
 * Spin will see: the root for host routes, `<prefix>/.well-known/spin/` for prefix routes (the
 * prefix is stripped before Spin sees the path). Traefik answers those with its own 404. Traefik
 * cleans `/./`, `/../` and `//` before matching (static/entrypoints.go `SanitizePath`, default
 * true), so no spelling of the path slips past the exclusion.
 *
 * Router names. Traefik merges the tags of every instance of a service; two instances that define
 * the same router (or middleware) differently make it drop that router altogether ("defined
 * multiple times with different configurations", pkg/provider/merge.go `Merge`/`deleteConflicts`,
 * called with ResourceStrategyMerge by pkg/provider/consulcatalog/config.go and
 * pkg/provider/nomad/config.go). During a rolling update that changes an app's route, the old
 * allocations and the canary carry different rules: under one router name the app would answer
 * nothing until the old allocations are gone. So the router and middleware names carry a short
 * digest of the route: old and new routers coexist during the rollout, each sending to the same
 * Traefik service (named after the Consul/Nomad service, its servers merged from every instance).
 */
import { createHash } from "crypto";
import { DEFAULT_TRAEFIK_TAG_PREFIX, TRAEFIK_ENTRY_POINTS } from "./traefik-config";
import { fail } from "./spin-app-input-checks";
import { SPIN_APP_PREFIX_PATTERN, SpinAppRouting, spinAppRouterName } from "./spin-app-job-input";

const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Explicit router priorities: what the user declared wins (rules-and-priority.md "Priority"). */
export const SPIN_APP_ROUTE_PRIORITY = { hostsPathPrefix: 30_000, hosts: 20_000, pathPrefix: 10_000 } as const;

/** Spin's reserved path prefix (`/.well-known/spin/health`, `/.well-known/spin/info`): never routed publicly. */
export const SPIN_WELL_KNOWN_PREFIX = "/.well-known/spin/";

/** Hex digits of the route digest in router and middleware names. */
const ROUTE_DIGEST_LENGTH = 8;

function checkedHosts(hosts: readonly string[]): string[] {
    if (hosts.length === 0) fail("routing.hosts", hosts, "give at least one host");
    hosts.forEach((h, i) => HOST.test(h) || fail(`routing.hosts[${i}]`, h, "must be a lowercase DNS name such as app.example.com"));
    if (new Set(hosts).size !== hosts.length) fail("routing.hosts", hosts, "hosts must be unique");
    return [...hosts];
}

function checkedPrefix(prefix: string): string {
    if (!SPIN_APP_PREFIX_PATTERN.test(prefix)) fail("routing.prefix", prefix, `must match ${SPIN_APP_PREFIX_PATTERN}`);
    return prefix;
}

export function checkedRouting(routing: SpinAppRouting): SpinAppRouting {
    switch (routing.kind) {
        case "hosts":
            return { kind: "hosts", hosts: checkedHosts(routing.hosts) };
        case "pathPrefix":
            return { kind: "pathPrefix", prefix: checkedPrefix(routing.prefix) };
        case "hostsPathPrefix":
            return { kind: "hostsPathPrefix", hosts: checkedHosts(routing.hosts), prefix: checkedPrefix(routing.prefix) };
        default:
            return fail("routing.kind", (routing as { kind: unknown }).kind, 'must be "hosts", "pathPrefix" or "hostsPathPrefix"');
    }
}

/** The Traefik rule of a route (without the priority). */
export function spinAppRule(routing: SpinAppRouting): string {
    const hostRule = (hosts: readonly string[]) => hosts.map((h) => `Host(\`${h}\`)`).join(" || ");
    if (routing.kind === "hosts") {
        return `(${hostRule(routing.hosts)}) && !PathPrefix(\`${SPIN_WELL_KNOWN_PREFIX}\`)`;
    }
    // Not PathPrefix(`/x`) alone: that would also take `/xy`, another app's prefix.
    const pathRule = `(Path(\`${routing.prefix}\`) || PathPrefix(\`${routing.prefix}/\`)) && !PathPrefix(\`${routing.prefix}${SPIN_WELL_KNOWN_PREFIX}\`)`;
    return routing.kind === "pathPrefix" ? pathRule : `(${hostRule(routing.hosts)}) && ${pathRule}`;
}

/** Router name of the app's current route: `app-<name>-<digest of kind, hosts, prefix>`. */
export function spinAppRouteRouterName(name: string, routing: SpinAppRouting): string {
    // checkedRouting fixes the key order, so equal routes give equal digests.
    const digest = createHash("sha256").update(JSON.stringify(checkedRouting(routing))).digest("hex").slice(0, ROUTE_DIGEST_LENGTH);
    return `${spinAppRouterName(name)}-${digest}`;
}

/** Exact tags: enable, rule, priority and entry point; for path prefixes a stripPrefix middleware too. */
export function spinAppTraefikTags(name: string, input: SpinAppRouting): string[] {
    const routing = checkedRouting(input);
    const p = DEFAULT_TRAEFIK_TAG_PREFIX;
    const routerName = spinAppRouteRouterName(name, routing);
    const router = `${p}.http.routers.${routerName}`;
    const tags = [
        `${p}.enable=true`,
        `${router}.rule=${spinAppRule(routing)}`,
        `${router}.priority=${SPIN_APP_ROUTE_PRIORITY[routing.kind]}`,
        `${router}.entrypoints=${TRAEFIK_ENTRY_POINTS.web}`,
    ];
    if (routing.kind === "hosts") return tags;
    const strip = `${routerName}-strip`;
    return [...tags, `${router}.middlewares=${strip}`, `${p}.http.middlewares.${strip}.stripprefix.prefixes=${routing.prefix}`];
}
