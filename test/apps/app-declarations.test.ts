/**
 * Apps declared as data (`spinCloudProgram({ apps })`) are checked, every one of them and the
 * example app, before the program registers its first resource; an unbuilt one stops it with an
 * error naming the app, `source` and `spin build` in its directory. Then each runs on the cloud.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AppDeclaration, platformLibsqlDatabases } from "../../components/apps/app-declarations";
import { SpinApp } from "../../components/apps/spin-app";
import { EXAMPLE_APP_DIR, spinCloudProgram } from "../../components/program";
import { evaluateStack, lastRegistered, ofType } from "../harness/mocks";
import { LIBSQL_APP, shippedStack, statefulStack } from "../harness/shipped-stacks";
import { ROOT } from "../harness/stack-config";

const BUILT = path.join(ROOT, "test", "fixtures", "apps", "hello");
const DIRS = { localStateDir: "/home/u/.spin-cloud/local", localCacheDir: "/home/u/.cache/spin-cloud" };
const STACKS = [["local", DIRS], ["dev", {}]] as const;

/** A directory with the example app's spin.toml and sources, without its built dist/. */
function unbuiltApp(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "unbuilt-user-app-"));
    fs.copyFileSync(path.join(ROOT, EXAMPLE_APP_DIR, "spin.toml"), path.join(dir, "spin.toml"));
    return dir;
}

/** Types registered by the last evaluation, the stack itself left out. */
const registered = () => lastRegistered().filter((r) => r.type !== "pulumi:pulumi:Stack").map((r) => `${r.type} ${r.name}`);

describe("apps declared as data", () => {
    let unbuilt: string;
    beforeEach(() => { unbuilt = unbuiltApp(); });
    afterEach(() => fs.rmSync(unbuilt, { recursive: true, force: true }));
    const unbuiltMessage = () => new RegExp(`^(SpinAppArgumentError: )?SpinApp shop: source = "${unbuilt.replace(/[.\\/]/g, "\\$&")}" is not allowed: ` +
        `a built Spin app \\(.*/spin\\.toml: component "hello": source "dist/hello\\.wasm" does not exist\\): run \`spin build\` in ${unbuilt.replace(/[.\\/]/g, "\\$&")} first$`);

    for (const [stack, config] of STACKS) {
        it(`stop stack ${stack} with no resource at all registered when a user app is not built, naming the app, source and spin build`, async () => {
            const apps: AppDeclaration[] = [{ name: "shop", source: unbuilt, hosts: ["shop.example.com"] }];
            await assert.rejects(evaluateStack(stack, () => spinCloudProgram({ apps }), { config: { ...config, exampleApp: "false" } }), unbuiltMessage());
            assert.deepStrictEqual(registered(), []);
        });

        it(`check every app before the first resource of stack ${stack}: a built example app and a built app before the unbuilt one`, async () => {
            const apps: AppDeclaration[] = [{ name: "first", source: BUILT, secretVariables: { token: "t" } }, { name: "shop", source: unbuilt }];
            await assert.rejects(evaluateStack(stack, () => spinCloudProgram({ apps }), { config: { ...config, exampleApp: "true" } }), unbuiltMessage());
            assert.deepStrictEqual(registered(), []);
        });
    }

    it("refuses, before anything is registered, what a SpinApp would refuse without a cloud: names, origin, triggers, variables, revisions", async () => {
        const cases: [AppDeclaration[], RegExp][] = [
            [[{ name: "hello", source: BUILT, secretVariables: { token: "t" } }], /SpinApp hello: name = "hello" is not allowed: a name no other app has; spin-cloud:exampleApp already declares app hello/],
            [[{ name: "a", source: BUILT, secretVariables: { token: "t" } }, { name: "a", bindle: { id: "a/1.0.0", parcels: [] } }], /SpinApp a: name = "a" .*apps\[0\] already declares app a/],
            [[{ name: "two", source: BUILT, bindle: { id: "a/1.0.0", parcels: [] } }], /SpinApp two: source\/bindle = "both"/],
            [[{ name: "a", source: BUILT }], /SpinApp a: secretVariables\.token = undefined .*required/],
            [[{ name: "r", source: path.join(ROOT, "test", "fixtures", "apps", "redis-only") }], /SpinApp r: source = "spin\.toml with \[\[trigger\.redis\]\]"/],
            [[{ name: "a", source: BUILT, secretVariables: { token: "t" }, revisions: { keep: 0 } }], /SpinApp a: revisions\.keep = 0/],
            [[{ name: "gone", source: path.join(unbuilt, "nowhere") }], /SpinApp gone: source = ".*nowhere" is not allowed: a Spin app directory with a valid spin\.toml, relative to where pulumi runs \(.*Spin app directory does not exist\)$/],
        ];
        for (const [apps, message] of cases) {
            await assert.rejects(evaluateStack("local", () => spinCloudProgram({ apps }), { config: DIRS }), message);
            assert.deepStrictEqual(registered(), [], String(message));
        }
    });

    it("run on the stack's cloud beside the example app and the declareApps callback's, each URL in appUrls", async () => {
        const program = () => spinCloudProgram({
            apps: [{ name: "shop", source: BUILT, secretVariables: { token: "t" }, instances: 1 }],
            declareApps: (cloud) => [new SpinApp("extra", { cloud, source: BUILT, secretVariables: { token: "t" } })],
        });
        const r = await evaluateStack("local", program, { config: DIRS });
        const apps = ofType(r, "spin-cloud:apps:SpinApp").map((a) => a.name).sort();
        assert.deepStrictEqual(apps, ["extra", "hello", "shop"]);
        const urls = r.outputs.appUrls as Record<string, string>;
        assert.deepStrictEqual(Object.keys(urls).sort(), ["app-extra", "app-hello", "app-shop"]);
        assert.match(urls["app-shop"], /^http:\/\/127\.0\.0\.1:\d+\/shop\/$/);
        const [job] = ofType(r, "nomad:index/job:Job").filter((j) => j.name === "shop");
        assert.strictEqual(JSON.parse(job.inputs.jobspec as string).Job.TaskGroups[0].Count, 1);
    });

    it("AWS: the platform libSQL server is built with every declared app's SQLite labels that name no server of their own", async () => {
        const stateful = path.join(ROOT, "test", "fixtures", "apps", "stateful");
        const apps: AppDeclaration[] = [
            { name: "shop", source: stateful },
            { name: "blog", source: stateful, stores: { sqlite: { default: { url: "https://db.example.com", token: "t" } } } },
            { name: "wiki", bindle: { id: "wiki/1.0.0", parcels: [] }, stores: { sqlite: { pages: {}, own: { backend: "libsql", url: "https://db", token: "t" } } } },
        ];
        assert.deepEqual(platformLibsqlDatabases([], apps), [{ app: "shop", label: "default" }, { app: "wiki", label: "pages" }]);
        // The program passes them to SpinCloud: the job's tags (the shared run of the dev stack with LIBSQL_APP).
        const r = await statefulStack("dev");
        const job = JSON.parse(String(ofType(r, "nomad:index/job:Job").find((j) => j.name.endsWith("-libsql"))!.inputs.jobspec)).Job;
        assert.deepEqual(job.TaskGroups[0].Services[0].Tags, [`${LIBSQL_APP.name}-default`]);
        assert.deepEqual(await r.outputs.libsqlDatabases, { [`${LIBSQL_APP.name}/default`]: { namespace: "notes-default", url: "http://notes-default.libsql.service.consul:8090" } });
        assert.deepEqual(ofType(await shippedStack("dev"), "spin-cloud:platform:LibsqlServer"), [], "no platform database, no server");
    });
});
