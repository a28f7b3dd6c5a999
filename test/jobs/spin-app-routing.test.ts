import { strict as assert } from "assert";
import {
    SPIN_APP_ROUTE_PRIORITY, SPIN_WELL_KNOWN_PREFIX, spinAppRouteRouterName, spinAppRule, spinAppTraefikTags,
} from "../../provisioning/jobs/spin-app-routing";
import { SpinAppRouting } from "../../provisioning/jobs/spin-app-job";
import { OVERLAP_APPS, OVERLAP_CASES, parseRule, route, routersFromTags } from "../harness/routing-overlap";

const HOSTS: SpinAppRouting = { kind: "hosts", hosts: ["shop.example.test"] };
const PREFIX: SpinAppRouting = { kind: "pathPrefix", prefix: "/hello" };
const BOTH: SpinAppRouting = { kind: "hostsPathPrefix", hosts: ["shop.example.test"], prefix: "/api" };

const routers = () => OVERLAP_APPS.flatMap((a) => routersFromTags(a.name, spinAppTraefikTags(a.name, a.routing)));

describe("spin app routing: priorities and Spin's reserved paths", () => {
    it("the evaluator reads the rules it is given (sanity: precedence and negation)", () => {
        const rule = parseRule("(Host(`a.test`) || Host(`b.test`)) && !PathPrefix(`/x/`)");
        assert.equal(rule({ host: "B.test", path: "/y" }), true);
        assert.equal(rule({ host: "b.test", path: "/x/1" }), false);
        assert.equal(rule({ host: "c.test", path: "/y" }), false);
        assert.equal(parseRule("Path(`/a`) || PathPrefix(`/a/`) && Host(`h.test`)")({ host: "z.test", path: "/a" }), true, "&& binds tighter");
    });

    for (const c of OVERLAP_CASES) {
        it(`${c.host}${c.path} -> ${c.expected ? `${c.expected.app} ${c.expected.path}` : "no app"} (${c.why})`, () => {
            assert.deepEqual(route(routers(), c), c.expected);
        });
    }

    it("without explicit priorities the table fails (rule length decides: the defect of issue 14)", () => {
        const byLength = routers().map((r) => ({ ...r, priority: r.rule.length }));
        const misrouted = OVERLAP_CASES.filter((c) => {
            try {
                return JSON.stringify(route(byLength, c)) !== JSON.stringify(c.expected);
            } catch {
                return true;
            }
        });
        assert.ok(misrouted.some((c) => c.host === "shop.example.test" && c.path === "/blog/x"), "shop.example.test/blog/x goes to blog by length");
    });

    it("host and path > host > path, below Traefik's user maximum", () => {
        assert.ok(SPIN_APP_ROUTE_PRIORITY.hostsPathPrefix > SPIN_APP_ROUTE_PRIORITY.hosts);
        assert.ok(SPIN_APP_ROUTE_PRIORITY.hosts > SPIN_APP_ROUTE_PRIORITY.pathPrefix);
        // A router without priority ranks by rule length; apps must outrank any plausible one.
        assert.ok(SPIN_APP_ROUTE_PRIORITY.pathPrefix >= 10_000);
        assert.ok(SPIN_APP_ROUTE_PRIORITY.hostsPathPrefix < Number.MAX_SAFE_INTEGER - 1000);
        for (const [routing, priority] of [[HOSTS, 20_000], [PREFIX, 10_000], [BOTH, 30_000]] as const) {
            const router = spinAppRouteRouterName("x", routing);
            assert.ok(spinAppTraefikTags("x", routing).includes(`traefik.http.routers.${router}.priority=${priority}`), routing.kind);
        }
    });

    it("withholds /.well-known/spin/ at the path Spin sees: the root of a host, under the prefix otherwise", () => {
        assert.equal(SPIN_WELL_KNOWN_PREFIX, "/.well-known/spin/");
        assert.equal(spinAppRule(HOSTS), "(Host(`shop.example.test`)) && !PathPrefix(`/.well-known/spin/`)");
        assert.equal(spinAppRule(PREFIX), "(Path(`/hello`) || PathPrefix(`/hello/`)) && !PathPrefix(`/hello/.well-known/spin/`)");
        assert.equal(spinAppRule(BOTH),
            "(Host(`shop.example.test`)) && (Path(`/api`) || PathPrefix(`/api/`)) && !PathPrefix(`/api/.well-known/spin/`)");
    });

    it("router and middleware names carry a digest of the route: stable when it is unchanged, new when it changes", () => {
        const name = spinAppRouteRouterName("hello", PREFIX);
        assert.match(name, /^app-hello-[0-9a-f]{8}$/);
        assert.equal(spinAppRouteRouterName("hello", { prefix: "/hello", kind: "pathPrefix" } as SpinAppRouting), name, "key order does not matter");
        assert.notEqual(spinAppRouteRouterName("hello", { kind: "pathPrefix", prefix: "/hi" }), name);
        assert.notEqual(spinAppRouteRouterName("hello", { kind: "hostsPathPrefix", hosts: ["h.example.test"], prefix: "/hello" }), name);
        const tags = spinAppTraefikTags("hello", PREFIX);
        assert.deepEqual(tags, [
            "traefik.enable=true",
            `traefik.http.routers.${name}.rule=${spinAppRule(PREFIX)}`,
            `traefik.http.routers.${name}.priority=10000`,
            `traefik.http.routers.${name}.entrypoints=web`,
            `traefik.http.routers.${name}.middlewares=${name}-strip`,
            `traefik.http.middlewares.${name}-strip.stripprefix.prefixes=/hello`,
        ]);
        // Two versions of one app (a rollout changing the route) declare disjoint router and middleware names.
        const before = new Set(tags.map((t) => t.split("=")[0]).filter((k) => k !== "traefik.enable"));
        const after = spinAppTraefikTags("hello", BOTH).map((t) => t.split("=")[0]).filter((k) => k !== "traefik.enable");
        assert.deepEqual(after.filter((k) => before.has(k)), []);
    });
});
