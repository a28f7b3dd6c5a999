/** SpinApp under mocks: what one app registers, and every bad argument stopped before registration. */
import * as assert from "assert";
import * as path from "path";
import { EXAMPLE_APP_DIR } from "../../components/program";
import { SpinApp, SpinAppArgs } from "../../components/apps/spin-app";
import { SpinCloud } from "../../components/aws/spin-cloud";
import { readSpinApp } from "../../components/apps/manifest";
import { spinAppTraefikTags } from "../../provisioning/jobs/spin-app-job";
import { spinAppRouteRouterName } from "../../provisioning/jobs/spin-app-routing";
import { AppCloud } from "../../components/platform/app-platform";
import { fakeCloud } from "../harness/fake-cloud";
import { MockRun, evaluateStack, isSecretInput, lastRegistered, ofType } from "../harness/mocks";
import { shippedStack } from "../harness/shipped-stacks";
import { assertValidNomadJob } from "../harness/nomad-job-schema";
import { ROOT } from "../harness/stack-config";

const FIXTURES = path.join(__dirname, "..", "fixtures", "apps");
const CLOUD_ARGS = { awsRegion: "eu-west-1", operatorCidrs: ["172.20.0.0/24"] };
const PREBUILT = {
    id: "shop/1.2.3",
    parcels: [{ path: "spin.toml", sha256: "a".repeat(64) }, { path: "web.wasm", sha256: "b".repeat(64) }],
};

function appResources(r: MockRun | readonly { urn: string; name: string; type: string }[], app: string) {
    const resources = "resources" in r ? r.resources : r;
    return resources.filter((x) => x.name.startsWith(`${app}-`) || x.type === "spin-cloud:apps:SpinApp");
}

describe("SpinApp", () => {
    it("dev stack: pushes apps/hello to Bindle as a signed bindle and runs it behind a path prefix", async () => {
        const r = await shippedStack("dev");
        const pkg = readSpinApp(path.join(ROOT, EXAMPLE_APP_DIR));
        const [push] = r.resources.filter((x) => x.name === "hello-bindle");
        assert.match(String(push.inputs.serverUrl), /^https:\/\/.+:8085\/v1$/);
        assert.ok(isSecretInput(push.inputs.password) && isSecretInput(push.inputs.signingKey));
        assert.deepStrictEqual((push.inputs.parcels as { path: string; sha256: string }[]).map((p) => [p.path, p.sha256]),
            pkg.entries.map((e) => [e.path, e.sha256]));
        const [job] = ofType(r, "nomad:index/job:Job").filter((j) => j.name === "hello");
        const spec = JSON.parse(job.inputs.jobspec as string).Job;
        assertValidNomadJob(spec, "hello");
        const task = spec.TaskGroups[0].Tasks[0];
        assert.deepStrictEqual(task.Artifacts.map((a: { GetterOptions: { checksum: string } }) => a.GetterOptions.checksum).sort(),
            pkg.entries.map((e) => `sha256:${e.sha256}`).sort());
        const tags: string[] = spec.TaskGroups[0].Services[0].Tags;
        assert.deepStrictEqual(tags, spinAppTraefikTags("hello", { kind: "pathPrefix", prefix: "/hello" }));
        assert.match(String((r.outputs.appUrls as Record<string, string>)["app-hello"]), /^http:\/\/.+\/hello\/$/);
    });

    it("with a domain: answers on <name>.<domain> over HTTPS; an unchanged app gives the same bindle", async () => {
        const ids: string[] = [];
        const program = () => {
            const cloud = new SpinCloud("c", { ...CLOUD_ARGS, appsDomain: "apps.example.com", hostedZoneId: "Z0123456789ABC" });
            const app = new SpinApp("shop", { cloud, source: path.join(FIXTURES, "hello"), secretVariables: { token: "s3cret" } });
            ids.push(app.bindleId);
            return { url: app.url };
        };
        const r = await evaluateStack("unit", program);
        await evaluateStack("unit", program);
        assert.strictEqual(r.outputs.url, "https://shop.apps.example.com/");
        assert.strictEqual(ids[0], ids[1], "same content, same bindle");
        assert.match(ids[0], /^spin-cloud\/spin-cloud-unit\/shop\/0\.2\.0-sha-[0-9a-f]{16}$/);
        const [variables] = ofType(r, "nomad:index/variable:Variable").filter((v) => v.name === "shop-variables");
        assert.strictEqual(variables.inputs.path, "nomad/jobs/app-shop");
        assert.ok(isSecretInput(variables.inputs.items));
        const [job] = ofType(r, "nomad:index/job:Job").filter((j) => j.name === "shop");
        assert.ok(!String(job.inputs.jobspec).includes("s3cret"));
        assert.ok(JSON.parse(job.inputs.jobspec as string).Job.TaskGroups[0].Services[0].Tags
            .includes(`traefik.http.routers.${spinAppRouteRouterName("shop", { kind: "hosts", hosts: ["shop.apps.example.com"] })}.rule=`
                + "(Host(`shop.apps.example.com`)) && !PathPrefix(`/.well-known/spin/`)"));
        assert.ok(readSpinApp(path.join(FIXTURES, "hello")).entries.length > 0);
    });

    it("routes by hosts and a path prefix together, and by a custom prefix on the shared endpoint", async () => {
        const r = await evaluateStack("unit", () => {
            const cloud = fakeCloud({ appsDomain: "apps.example.com" });
            const shop = new SpinApp("shop", { cloud, source: EXAMPLE_APP_DIR, pathPrefix: "/store" });
            const blog = new SpinApp("blog", { cloud, source: EXAMPLE_APP_DIR, hosts: ["shop.apps.example.com"] });
            const bare = fakeCloud();
            const api = new SpinApp("docs", { cloud: bare, source: EXAMPLE_APP_DIR, pathPrefix: "/handbook" });
            return { shop: shop.url, blog: blog.url, docs: api.url };
        });
        assert.strictEqual(r.outputs.shop, "https://shop.apps.example.com/store/");
        assert.strictEqual(r.outputs.blog, "https://shop.apps.example.com/", "the whole host and a prefix of it are two routes");
        assert.strictEqual(r.outputs.docs, "http://apps.lb.example.com/handbook/");
        const tagsOf = (job: string) => JSON.parse(ofType(r, "nomad:index/job:Job").find((j) => j.name === job)!.inputs.jobspec as string).Job.TaskGroups[0].Services[0].Tags;
        assert.deepStrictEqual(tagsOf("shop"), spinAppTraefikTags("shop", { kind: "hostsPathPrefix", hosts: ["shop.apps.example.com"], prefix: "/store" }));
        assert.deepStrictEqual(tagsOf("docs"), spinAppTraefikTags("docs", { kind: "pathPrefix", prefix: "/handbook" }));
    });

    it("keeps 5 revisions by default and yanks nothing; `revisions` and `revision` reach the push", async () => {
        const r = await evaluateStack("unit", () => {
            const cloud = fakeCloud();
            new SpinApp("shop", { cloud, source: EXAMPLE_APP_DIR });
            new SpinApp("blog", { cloud, source: EXAMPLE_APP_DIR, pathPrefix: "/blog", revisions: { keep: 3, yankExpired: true }, revision: "spin-cloud/x/blog/0.1.0-sha-00" });
            return {};
        });
        const push = (n: string) => r.resources.find((x) => x.name === `${n}-bindle`)!.inputs;
        assert.deepStrictEqual([push("shop").keepRevisions, push("shop").yankExpired, push("shop").pinnedBindleId], [5, false, undefined]);
        assert.deepStrictEqual([push("blog").keepRevisions, push("blog").yankExpired, push("blog").pinnedBindleId], [3, true, "spin-cloud/x/blog/0.1.0-sha-00"]);
    });

    it("runs a prebuilt bindle: no push, artifacts pinned to its parcels", async () => {
        const r = await evaluateStack("unit", () => {
            const app = new SpinApp("shop", { cloud: fakeCloud(), bindle: PREBUILT, instances: 3 });
            return { id: app.bindleId };
        });
        assert.strictEqual(r.outputs.id, "shop/1.2.3");
        assert.deepStrictEqual(r.resources.filter((x) => x.name === "shop-bindle"), [], "nothing is pushed");
        const [job] = ofType(r, "nomad:index/job:Job").filter((j) => j.name === "shop");
        const spec = JSON.parse(job.inputs.jobspec as string).Job;
        assertValidNomadJob(spec, "shop");
        assert.strictEqual(spec.TaskGroups[0].Count, 3);
        assert.deepStrictEqual(spec.TaskGroups[0].Tasks[0].Artifacts.map((a: { GetterSource: string; GetterOptions: { checksum: string } }) => [a.GetterSource.replace(/^.*\/_i\//, ""), a.GetterOptions.checksum]),
            PREBUILT.parcels.map((p) => [`shop/1.2.3@${p.sha256}`, `sha256:${p.sha256}`]));
    });

    const bad: [string, (cloud: AppCloud) => void, RegExp][] = [
        ["an invalid name", (cloud) => new SpinApp("Hello_1", { cloud, source: EXAMPLE_APP_DIR }), /name.*Hello_1/],
        ["instances < 1", (cloud) => new SpinApp("a", { cloud, source: EXAMPLE_APP_DIR, instances: 0 }), /instances/],
        ["memory outside the documented range", (cloud) => new SpinApp("a", { cloud, source: EXAMPLE_APP_DIR, resources: { memoryMb: 10000 } }), /memoryMb/],
        ["a missing spin.toml", (cloud) => new SpinApp("a", { cloud, source: path.join(FIXTURES, "no-manifest") }), /spin\.toml/],
        ["a manifest that does not parse", (cloud) => new SpinApp("a", { cloud, source: path.join(FIXTURES, "bad-toml") }), /spin\.toml/],
        ["a manifest referencing a missing file", (cloud) => new SpinApp("a", { cloud, source: path.join(FIXTURES, "missing-file") }), /missing|not found|does not exist/i],
        ["a route on a platform path", (cloud) => new SpinApp("api", { cloud, source: EXAMPLE_APP_DIR }), /SpinApp api: name = "api" .*a path other than the platform's/],
        ["a platform service name", (cloud) => new SpinApp("bindle", { cloud, source: EXAMPLE_APP_DIR }), /bindle/],
        ["the same host twice across apps", (cloud) => {
            new SpinApp("one", { cloud, source: EXAMPLE_APP_DIR, hosts: ["x.example.com"] });
            new SpinApp("two", { cloud, source: EXAMPLE_APP_DIR, hosts: ["x.example.com"] });
        }, /SpinApp two: hosts\[0\] = "x.example.com" .*SpinApp one already answers on it/],
        ["a path prefix on a platform path", (cloud) => new SpinApp("a", { cloud, source: EXAMPLE_APP_DIR, pathPrefix: "/ping" }), /SpinApp a: pathPrefix = "\/ping" .*platform/],
        ["a malformed path prefix", (cloud) => new SpinApp("a", { cloud, source: EXAMPLE_APP_DIR, pathPrefix: "shop/" }), /routing\.prefix is "shop\/"/],
        ["the same path prefix twice across apps", (cloud) => {
            new SpinApp("one", { cloud, source: EXAMPLE_APP_DIR, pathPrefix: "/shop" });
            new SpinApp("two", { cloud, source: EXAMPLE_APP_DIR, pathPrefix: "/shop" });
        }, /SpinApp two: pathPrefix = "\/shop" .*SpinApp one already answers on it/],
        ["a host given twice", (cloud) => new SpinApp("two", { cloud, source: EXAMPLE_APP_DIR, hosts: ["a.example.com", "a.example.com"] }), /SpinApp two: hosts\[1\] = "a.example.com" .*each host once/],
        ["both source and bindle", (cloud) => new SpinApp("two", { cloud, source: EXAMPLE_APP_DIR, bindle: PREBUILT }), /SpinApp two: source\/bindle = "both" .*exactly one/],
        ["neither source nor bindle", (cloud) => new SpinApp("two", { cloud }), /SpinApp two: source\/bindle = "neither"/],
        ["keeping no revision", (cloud) => new SpinApp("a", { cloud, source: EXAMPLE_APP_DIR, revisions: { keep: 0 } }), /SpinApp a: revisions\.keep = 0 .*an integer from 1 to 50/],
        ["a revision pin on a prebuilt bindle", (cloud) => new SpinApp("a", { cloud, bindle: PREBUILT, revision: "shop/1.0.0" }), /SpinApp a: revision = "shop\/1.0.0" .*only with `source`/],
        ["a revision pin that is not a bindle id", (cloud) => new SpinApp("a", { cloud, source: EXAMPLE_APP_DIR, revision: "1.0.0" }), /SpinApp a: revision = "1.0.0" .*<name>\/<version>/],
        ["a prebuilt bindle without spin.toml", (cloud) => new SpinApp("two", { cloud, bindle: { ...PREBUILT, parcels: PREBUILT.parcels.slice(1) } }), /bindle\.parcels .*spin\.toml/],
        ["a prebuilt parcel with a bad sha256", (cloud) => new SpinApp("two", { cloud, bindle: { ...PREBUILT, parcels: [PREBUILT.parcels[0], { path: "web.wasm", sha256: "abc" }] } }), /bindle\.parcels\[1\]\.sha256 is "abc"/],
        ["a required variable left out", (cloud) => new SpinApp("a", { cloud, source: path.join(FIXTURES, "hello") }), /secretVariables\.token .*required/],
        ["an app with no HTTP trigger (Redis only)", (cloud) => new SpinApp("two", { cloud, source: path.join(FIXTURES, "redis-only") }), /SpinApp two: source = "spin\.toml with \[\[trigger\.redis\]\]" is not allowed: an app with at least one \[\[trigger\.http\]\]/],
        ["a secret variable passed in plain", (cloud) => new SpinApp("a", { cloud, source: path.join(FIXTURES, "hello"), variables: { token: "x" } } as SpinAppArgs), /variables\.token .*declares it secret/],
    ];
    for (const [what, make, message] of bad) {
        it(`rejects ${what} before registering anything of the app`, async () => {
            await assert.rejects(evaluateStack("unit", () => {
                make(fakeCloud());
                return {};
            }), message);
            const registered = lastRegistered();
            assert.ok(registered.some((x) => x.type === "test:index:LeaderGate"), "the cloud itself was built");
            const offending = registered.filter((x) => x.type === "spin-cloud:apps:SpinApp" && x.name !== "one");
            assert.deepStrictEqual(offending.map((x) => x.name), []);
            assert.deepStrictEqual(appResources(registered, "two").filter((x) => x.name !== "one"), []);
        });
    }
});
