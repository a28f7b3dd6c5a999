/**
 * The overlap table of app routes, shared by the unit test (test/jobs/spin-app-routing.test.ts,
 * through a small evaluator of the rule subset the project emits) and the real test
 * (test/real/traefik/routing.test.ts, through real Traefik): apps whose routes overlap, requests,
 * and which app must answer each, with the path the app sees after the prefix is stripped.
 *
 * The evaluator models Traefik v3's semantics for the matchers used (pkg/muxer/http/matcher.go:
 * `Host` compares the request host without port, case-insensitively; `Path` is an exact match;
 * `PathPrefix` a string prefix; `!`, `&&`, `||` and parentheses as usual) and its choice among
 * matching routers: the highest priority wins (pkg/muxer/http/mux.go `routes.Less`).
 */
import { SpinAppRouting } from "../../provisioning/jobs/spin-app-job";

export interface OverlapApp { readonly name: string; readonly routing: SpinAppRouting }

export const OVERLAP_APPS: readonly OverlapApp[] = [
    { name: "shop", routing: { kind: "hosts", hosts: ["shop.example.test"] } },
    { name: "blog", routing: { kind: "pathPrefix", prefix: "/blog" } },
    { name: "shopapi", routing: { kind: "hostsPathPrefix", hosts: ["shop.example.test"], prefix: "/api" } },
    { name: "docs", routing: { kind: "pathPrefix", prefix: "/docs" } },
];

export interface OverlapCase {
    readonly host: string;
    readonly path: string;
    /** The app that answers and the path it sees; undefined: no app (Traefik's own 404). */
    readonly expected?: { readonly app: string; readonly path: string };
    readonly why: string;
}

/** `shop.example.test/blog/...` went to blog before explicit priorities (its rule is longer). */
export const OVERLAP_CASES: readonly OverlapCase[] = [
    { host: "shop.example.test", path: "/blog/x", expected: { app: "shop", path: "/blog/x" }, why: "host over path" },
    { host: "shop.example.test", path: "/blog", expected: { app: "shop", path: "/blog" }, why: "host over path (exact)" },
    { host: "shop.example.test", path: "/docs/", expected: { app: "shop", path: "/docs/" }, why: "host over path" },
    { host: "shop.example.test", path: "/api/orders", expected: { app: "shopapi", path: "/orders" }, why: "host+path over host" },
    { host: "shop.example.test", path: "/api", expected: { app: "shopapi", path: "/" }, why: "host+path over host (exact prefix)" },
    { host: "shop.example.test", path: "/apix", expected: { app: "shop", path: "/apix" }, why: "a prefix is a whole segment" },
    { host: "shop.example.test", path: "/", expected: { app: "shop", path: "/" }, why: "host" },
    { host: "other.example.test", path: "/blog/x", expected: { app: "blog", path: "/x" }, why: "path on any other host" },
    { host: "other.example.test", path: "/api/orders", why: "host+path only on its hosts" },
    { host: "other.example.test", path: "/docs", expected: { app: "docs", path: "/" }, why: "path (exact)" },
    { host: "other.example.test", path: "/blog-world", why: "a prefix is a whole segment" },
    { host: "other.example.test", path: "/", why: "nothing claims the bare shared endpoint" },
    { host: "shop.example.test", path: "/.well-known/spin/info", why: "Spin's info is never public (host route)" },
    { host: "shop.example.test", path: "/.well-known/spin/health", why: "Spin's health is never public (host route)" },
    // shopapi withholds it; shop (the host) takes it unstripped, where it is not Spin's path.
    { host: "shop.example.test", path: "/api/.well-known/spin/info", expected: { app: "shop", path: "/api/.well-known/spin/info" }, why: "never Spin's info of shopapi" },
    { host: "other.example.test", path: "/docs/.well-known/spin/info", why: "never public (path route)" },
    { host: "other.example.test", path: "/blog/.well-known/spin/info", why: "never public (path route)" },
    { host: "other.example.test", path: "/blog/.well-known/spin/health", why: "never public (path route)" },
    { host: "shop.example.test", path: "/blog/.well-known/spin/info", expected: { app: "shop", path: "/blog/.well-known/spin/info" }, why: "not Spin's path for shop (no strip)" },
    { host: "other.example.test", path: "/blog/.well-known/other", expected: { app: "blog", path: "/.well-known/other" }, why: "only Spin's prefix is withheld" },
];

// ---- an evaluator of the rule subset spinAppRule emits --------------------------------------

export interface RuleRequest { readonly host: string; readonly path: string }
type Node = (r: RuleRequest) => boolean;

function tokens(rule: string): string[] {
    const out: string[] = [];
    const re = /\s*(\|\||&&|!|\(|\)|(Host|Path|PathPrefix)\(`([^`]*)`\))/y;
    let at = 0;
    while (at < rule.length) {
        re.lastIndex = at;
        const m = re.exec(rule);
        if (!m) throw new Error(`unexpected rule text at ${at}: ${rule.slice(at)}`);
        out.push(m[1]);
        at = re.lastIndex;
        while (rule[at] === " ") at++;
    }
    return out;
}

/** Parses `rule` (precedence: ! over && over ||) into a predicate. */
export function parseRule(rule: string): Node {
    const toks = tokens(rule);
    let i = 0;
    const atom = (): Node => {
        const t = toks[i++];
        if (t === "!") { const inner = atom(); return (r) => !inner(r); }
        if (t === "(") { const inner = or(); if (toks[i++] !== ")") throw new Error(`missing ) in ${rule}`); return inner; }
        const m = /^(Host|Path|PathPrefix)\(`([^`]*)`\)$/.exec(t ?? "");
        if (!m) throw new Error(`unexpected token ${t} in ${rule}`);
        const arg = m[2];
        if (m[1] === "Host") return (r) => r.host.toLowerCase() === arg.toLowerCase();
        if (m[1] === "Path") return (r) => r.path === arg;
        return (r) => r.path.startsWith(arg);
    };
    const and = (): Node => { let left = atom(); while (toks[i] === "&&") { i++; const l = left, right = atom(); left = (r) => l(r) && right(r); } return left; };
    const or = (): Node => { let left = and(); while (toks[i] === "||") { i++; const l = left, right = and(); left = (r) => l(r) || right(r); } return left; };
    const tree = or();
    if (i !== toks.length) throw new Error(`trailing tokens in ${rule}`);
    return tree;
}

export interface TaggedRouter { readonly app: string; readonly rule: string; readonly priority: number; readonly stripPrefix?: string }

/** The routers, priorities and strip prefixes that `tags` (of `app`) declare. */
export function routersFromTags(app: string, tags: readonly string[]): TaggedRouter[] {
    const field = (re: RegExp) => tags.map((t) => re.exec(t)).filter((m): m is RegExpExecArray => m !== null);
    const strips = new Map(field(/^traefik\.http\.middlewares\.([^.]+)\.stripprefix\.prefixes=(.*)$/).map((m) => [m[1], m[2]]));
    return field(/^traefik\.http\.routers\.([^.]+)\.rule=(.*)$/).map(([, name, rule]) => {
        const priority = field(new RegExp(`^traefik\\.http\\.routers\\.${name}\\.priority=(\\d+)$`))[0]?.[1];
        const middleware = field(new RegExp(`^traefik\\.http\\.routers\\.${name}\\.middlewares=(.*)$`))[0]?.[1];
        // Traefik's default when no priority is set: the rule's length (mux.go GetRulePriority).
        return { app, rule, priority: priority === undefined ? rule.length : Number(priority), stripPrefix: middleware && strips.get(middleware) };
    });
}

/** Which app answers `request` and the path it sees, as Traefik would choose; undefined when none matches. */
export function route(routers: readonly TaggedRouter[], request: RuleRequest): { app: string; path: string } | undefined {
    const matching = routers.filter((r) => parseRule(r.rule)(request)).sort((a, b) => b.priority - a.priority);
    if (matching.length > 1 && matching[0].priority === matching[1].priority) {
        throw new Error(`ambiguous: ${matching[0].app} and ${matching[1].app} both match ${request.host}${request.path} at priority ${matching[0].priority}`);
    }
    const winner = matching[0];
    if (!winner) return undefined;
    const stripped = winner.stripPrefix && request.path.startsWith(winner.stripPrefix) ? request.path.slice(winner.stripPrefix.length) : request.path;
    return { app: winner.app, path: stripped === "" ? "/" : stripped };
}
