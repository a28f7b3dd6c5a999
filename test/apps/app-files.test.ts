/**
 * An unbuilt example app stops the program before the first resource is registered, with an
 * error that names the setting (`exampleApp`) and the command that builds it; every missing part
 * of an app (directory, spin.toml, a component's built source) is caught by the same check.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkAppFiles } from "../../components/apps/app-files";
import { EXAMPLE_APP_BUILD, EXAMPLE_APP_DIR, spinCloudProgram } from "../../components/program";
import { evaluateStack, lastRegistered } from "../harness/mocks";
import { ROOT } from "../harness/stack-config";

const BUILT_BY = { setting: "exampleApp", command: EXAMPLE_APP_BUILD };
const UNBUILT = /^(ConfigError: )?spin-cloud:exampleApp = true is not allowed: true only once app hello in apps\/hello is built \(.*\): run `bash apps\/build\.sh` first, or set spin-cloud:exampleApp to false$/;

/** A project root whose apps/hello is the example app's manifest and sources, without dist/. */
function unbuiltRoot(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "unbuilt-app-"));
    fs.mkdirSync(path.join(root, EXAMPLE_APP_DIR), { recursive: true });
    fs.copyFileSync(path.join(ROOT, EXAMPLE_APP_DIR, "spin.toml"), path.join(root, EXAMPLE_APP_DIR, "spin.toml"));
    return root;
}

describe("app files are checked before anything is registered", () => {
    let root: string;
    beforeEach(() => { root = unbuiltRoot(); });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("names the setting and the build command when the example app's component is not built", () => {
        assert.throws(() => checkAppFiles("hello", EXAMPLE_APP_DIR, BUILT_BY, root),
            (e: Error) => UNBUILT.test(e.message) && /component "hello": source "dist\/hello\.wasm" does not exist/.test(e.message));
    });

    it("catches a missing spin.toml and a missing app directory the same way", () => {
        fs.rmSync(path.join(root, EXAMPLE_APP_DIR, "spin.toml"));
        assert.throws(() => checkAppFiles("hello", EXAMPLE_APP_DIR, BUILT_BY, root), (e: Error) => UNBUILT.test(e.message) && /no Spin manifest found/.test(e.message));
        fs.rmSync(path.join(root, EXAMPLE_APP_DIR), { recursive: true });
        assert.throws(() => checkAppFiles("hello", EXAMPLE_APP_DIR, BUILT_BY, root), (e: Error) => UNBUILT.test(e.message) && /Spin app directory does not exist/.test(e.message));
    });

    it("names the app, its source and `spin build` in it when no setting declares it", () => {
        assert.throws(() => checkAppFiles("shop", "apps/hello", undefined, root),
            /^SpinAppArgumentError: SpinApp shop: source = "apps\/hello" is not allowed: a built Spin app \(apps\/hello\/spin\.toml: component "hello": source "dist\/hello\.wasm" does not exist\): run `spin build` in apps\/hello first$/);
        // Not a build problem: no build command is suggested, the reason is said.
        assert.throws(() => checkAppFiles("shop", "apps/nowhere", undefined, root),
            /^SpinAppArgumentError: SpinApp shop: source = "apps\/nowhere" is not allowed: a Spin app directory with a valid spin\.toml, relative to where pulumi runs \(apps\/nowhere: Spin app directory does not exist\)$/);
    });

    it("passes a built app through, read", () => {
        assert.strictEqual(checkAppFiles("hello", EXAMPLE_APP_DIR, BUILT_BY, ROOT).name, "hello");
    });

    for (const [stack, config] of [["local", { localStateDir: "/home/u/.spin-cloud/local", localCacheDir: "/home/u/.cache/spin-cloud" }], ["dev", {}]] as const) {
        it(`stops stack ${stack} (exampleApp: true) with nothing registered when the example app is not built`, async () => {
            const cwd = process.cwd();
            process.chdir(root);
            try {
                await assert.rejects(evaluateStack(stack, spinCloudProgram, { config: { ...config, exampleApp: "true" } }), UNBUILT);
            } finally {
                process.chdir(cwd);
            }
            assert.deepStrictEqual(lastRegistered().filter((r) => r.type !== "pulumi:pulumi:Stack").map((r) => r.type), []);
        });
    }
});
