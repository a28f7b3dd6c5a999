/**
 * The real Pulumi engine on this project: `pulumi preview --stack local` with the real CLI, the
 * Node.js language host and the provider plugins on PATH, a file backend in a temp dir
 * (harness/pulumi-cli.ts). It evaluates the whole program: config as the engine hands it over,
 * every resource's Check by its provider plugin, and the BindlePush dynamic provider, which the
 * SDK serializes into the resource's `__provider` input and the engine's pulumi-resource-pulumi-nodejs
 * deserializes to run its `check`. Then the real CrossGuard pack in policy/ runs on that preview.
 *
 * The Nomad provider plugin (pulumi-nomad 2.6.1) is not built here: it compiles BUSL Nomad code.
 * Without it the engine cannot preview past the Nomad provider resource (first test, which pins
 * exactly where it stops), so the other tests put harness/nomad-plugin-standin.ts on PATH as
 * `pulumi-resource-nomad` (schema-checked Check, nothing else) unless a real one is there.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { loadStackConfig, ROOT } from "../harness/stack-config";
import { NOMAD_PLUGIN, PULUMI_BINARIES, PulumiWorkspace } from "./harness/pulumi-cli";
import { itWith, onPath } from "./harness/runtime";
import { NOT_SET, projectConfig } from "../../components/settings/project-config";

const STACK = "local";
const EXAMPLE_WASM = path.join(ROOT, "apps", "hello", "dist", "hello.wasm");
const declaresExampleApp = loadStackConfig(STACK)["spin-cloud:exampleApp"] === "true";
const realNomadPlugin = onPath(NOMAD_PLUGIN) !== undefined;

/** itWith, and skipped with the reason when the stack deploys the example app and it is not built. */
function itWithApp(title: string, fn: (this: Mocha.Context) => Promise<void>): void {
    if (declaresExampleApp && !fs.existsSync(EXAMPLE_WASM)) {
        it.skip(`${title} [skipped: the ${STACK} stack sets exampleApp and apps/hello/dist/hello.wasm is missing: run bash apps/build.sh]`);
    } else {
        itWith(PULUMI_BINARIES, title, fn);
    }
}

/** `+ <type> <name> create` lines of a preview, as `<type> <name>`. */
function creates(output: string): string[] {
    return [...output.matchAll(/^ \+ {2}(\S+) (\S+) create/gm)].map((m) => `${m[1]} ${m[2]}`);
}

describe("real pulumi: preview of the local stack", function () {
    this.timeout(300_000);
    const workspaces: PulumiWorkspace[] = [];
    async function workspace(nomadStandin: boolean): Promise<PulumiWorkspace> {
        const ws = new PulumiWorkspace({ nomadStandin });
        workspaces.push(ws);
        await ws.initStack(STACK);
        return ws;
    }
    after(async () => {
        for (const ws of workspaces) await ws.cleanup();
    });

    if (realNomadPlugin) {
        it.skip(`without a Nomad provider plugin, preview stops at the Nomad provider [skipped: ${NOMAD_PLUGIN} is on PATH]`);
    } else {
        itWithApp("without a Nomad provider plugin, preview evaluates the program and stops exactly at the Nomad provider's Check", async () => {
            const ws = await workspace(false);
            const { code, output } = await ws.preview(STACK);
            assert.notEqual(code, 0, output);
            // Providers are always part of the operation (step_generator.go isImplicitlyTargetedResource), and
            // Registry.Check loads the plugin: the one error is the missing plugin, on the provider resource.
            assert.match(output, /pulumi:providers:nomad spin-cloud-nomad +error: no resource plugin 'pulumi-resource-nomad' found in the workspace at version v2\.6\.1 or on your \$PATH/);
            assert.match(output, /^ {4}1 errored$/m, output);
            assert.equal([...output.matchAll(/^\s+error: /gm)].length, 1, output);
            assert.ok(creates(output).includes("spin-cloud:local:LocalCloud spin-cloud"), output);
        });
    }

    const nomad = realNomadPlugin ? "the real Nomad provider plugin" : "the Nomad plugin stand-in";
    itWithApp(`evaluates the whole program, the BindlePush dynamic provider included (${nomad})`, async () => {
        const ws = await workspace(!realNomadPlugin);
        const { code, output } = await ws.preview(STACK);
        assert.equal(code, 0, output);
        assert.doesNotMatch(output, /errored|error:/, output);
        const planned = creates(output);
        for (const expected of [
            "pulumi:providers:nomad spin-cloud-nomad", "command:local:Command spin-cloud-agents-nomad-jobs",
            "nomad:index:Job spin-cloud-bindle", "nomad:index:Job spin-cloud-traefik", "nomad:index:Variable spin-cloud-bindle-secrets",
            ...(declaresExampleApp ? ["pulumi-nodejs:dynamic/spin-cloud:BindlePush hello-bindle", "nomad:index:Job hello"] : []),
        ]) {
            assert.ok(planned.includes(expected), `${expected} is planned:\n${output}`);
        }
        assert.equal(planned.filter((x) => x.startsWith("aws:")).length, 0, "the local stack plans no AWS resource");
        if (declaresExampleApp) assert.match(output, /app-hello: "http:\/\/127\.0\.0\.1:18080\/hello\/"/);
    });

    itWithApp("runs the real CrossGuard pack on the preview with no mandatory violation", async () => {
        const ws = await workspace(!realNomadPlugin);
        const { code, output } = await ws.preview(STACK, ["--policy-pack", "policy"]);
        assert.equal(code, 0, output);
        assert.match(output, /^Policies:\n +✅ spin-cloud-guard@v[0-9.]+ \(local: policy\)$/m, output);
        assert.doesNotMatch(output, /\[mandatory\]/, output);
    });

    itWithApp("the pack sees the preview's resources: a policy made mandatory for this stack stops it", async () => {
        const ws = await workspace(!realNomadPlugin);
        const config = path.join(ws.dir, "policy-config.json");
        // The local example app runs one instance; declaring `local` a production stack that needs two fails it.
        fs.writeFileSync(config, JSON.stringify({
            "production-app-min-instances": { enforcementLevel: "mandatory", productionStacks: [STACK], minAppInstances: 2 },
        }));
        const { code, output } = await ws.preview(STACK, ["--policy-pack", "policy", "--policy-pack-config", config], { "spin-cloud:exampleApp": "true" });
        assert.notEqual(code, 0, output);
        assert.match(output, /\[mandatory\] +production-app-min-instances/, output);
    });

    itWith(["pulumi"], "`pulumi config` of a stack that sets nothing lists every setting Pulumi.yaml declares, at its not-set value", async () => {
        const ws = new PulumiWorkspace({ nomadStandin: false });
        workspaces.push(ws);
        await ws.initStack("bare");
        const listed = await ws.configJson("bare", {}, false);
        const declared = projectConfig();
        assert.deepEqual(Object.keys(listed).sort(), Object.keys(declared).map((k) => `spin-cloud:${k}`).sort());
        for (const [key, declaration] of Object.entries(declared)) {
            assert.equal(listed[`spin-cloud:${key}`].value, declaration.type === "array" ? NOT_SET.array : NOT_SET.string, key);
        }
    });

    itWith(PULUMI_BINARIES, "a stack that sets nothing gets past the engine's config checks to the program's first check, before any resource", async () => {
        const ws = new PulumiWorkspace({ nomadStandin: false });
        workspaces.push(ws);
        await ws.initStack("bare");
        const { code, output } = await ws.preview("bare", [], {}, false);
        assert.notEqual(code, 0, output);
        assert.doesNotMatch(output, /missing configuration value|must be of type/, output);
        assert.match(output, /aws:region is not set: run `pulumi config set aws:region <region>`/, output);
        assert.deepEqual(creates(output).filter((x) => !x.startsWith("pulumi:pulumi:Stack")), [], output);
    });

    itWith(PULUMI_BINARIES, "a local stack that sets only its target previews with every other setting at its program default", async () => {
        const ws = new PulumiWorkspace({ nomadStandin: !realNomadPlugin });
        workspaces.push(ws);
        await ws.initStack(STACK);
        const { code, output } = await ws.preview(STACK, [], { "spin-cloud:target": "local" }, false);
        assert.equal(code, 0, output);
        const planned = creates(output);
        assert.ok(planned.includes("nomad:index:Job spin-cloud-traefik"), output);
        assert.ok(!planned.some((x) => x.includes("hello")), "exampleApp defaults to false");
        // localPortOffset defaults to 10000: the Nomad UI on 14646.
        assert.match(output, /"http:\/\/127\.0\.0\.1:14646\/ui\/"/, output);
    });

    itWithApp("refuses an AWS setting on the local stack even at its default value (serverCount: \"3\"), before any resource", async () => {
        const ws = await workspace(!realNomadPlugin);
        const { code, output } = await ws.preview(STACK, [], { "spin-cloud:serverCount": "3" });
        assert.notEqual(code, 0, output);
        assert.match(output, /spin-cloud:serverCount = "3" is not allowed: nothing on target 'local'/, output);
        assert.deepEqual(creates(output).filter((x) => !x.startsWith("pulumi:pulumi:Stack")), [], output);
    });
});
