/**
 * How a Spin app is reached: the checks on its SpinAppRouting and the Traefik consul-catalog tags
 * that route to it. Traefik v3 docs: other-providers/consul-catalog.md (tags),
 * middlewares/stripprefix.md, routing/rules-and-priority.md.
 */
import { DEFAULT_TRAEFIK_TAG_PREFIX, TRAEFIK_ENTRY_POINTS } from "./traefik-config";
import { fail } from "./spin-app-input-checks";
import { SPIN_APP_PREFIX_PATTERN, SpinAppRouting, spinAppRouterName } from "./spin-app-job-input";

const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

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

/** Exact tags: enable, rule and entry point; for path prefixes a stripPrefix middleware too. */
export function spinAppTraefikTags(name: string, routing: SpinAppRouting): string[] {
    const p = DEFAULT_TRAEFIK_TAG_PREFIX;
    const router = `${p}.http.routers.${spinAppRouterName(name)}`;
    const base = [`${p}.enable=true`];
    const hostRule = (hosts: readonly string[]) => hosts.map((h) => `Host(\`${h}\`)`).join(" || ");
    if (routing.kind === "hosts") {
        return [...base, `${router}.rule=${hostRule(routing.hosts)}`, `${router}.entrypoints=${TRAEFIK_ENTRY_POINTS.web}`];
    }
    // Not PathPrefix(`/x`) alone: that would also take `/xy`, another app's prefix.
    const pathRule = `Path(\`${routing.prefix}\`) || PathPrefix(\`${routing.prefix}/\`)`;
    const rule = routing.kind === "pathPrefix" ? pathRule : `(${hostRule(routing.hosts)}) && (${pathRule})`;
    const strip = `${spinAppRouterName(name)}-strip`;
    return [
        ...base,
        `${router}.rule=${rule}`,
        `${router}.entrypoints=${TRAEFIK_ENTRY_POINTS.web}`,
        `${router}.middlewares=${strip}`,
        `${p}.http.middlewares.${strip}.stripprefix.prefixes=${routing.prefix}`,
    ];
}
