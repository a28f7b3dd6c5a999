import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { closeObjects, compileStrict, describeErrors, readSchema } from "../harness/schemas";
import * as YAML from "yaml";
import { ROOT, projectFile } from "../harness/stack-config";
import { PROJECT_FILE, withRenderedConfig } from "../harness/project-config-file";
import { NOT_SET, projectConfig } from "../../components/settings/project-config";
import { SETTINGS } from "../../components/settings/config";
import { LOCAL_SETTINGS, allSettingKeys } from "../../components/settings/local-config";

describe("Pulumi.yaml", () => {
    // The upstream schema leaves the top level open (`additionalProperties: true`); we close it
    // too, so a misspelt top-level key fails here rather than being ignored by the CLI.
    const validate = compileStrict({ ...closeObjects(readSchema("pulumi.json")), additionalProperties: false });

    it("validates against the Pulumi project schema with unknown keys rejected", () => {
        const project = projectFile();
        assert.ok(validate(project), describeErrors(validate));
        assert.strictEqual(project.name, "spin-cloud");
        assert.strictEqual(project.main, "index.ts");
        assert.strictEqual(project.stackConfigDir, "stacks");
        assert.deepStrictEqual(project.runtime, { name: "nodejs", options: { packagemanager: "npm", typescript: true } });
        assert.ok(fs.existsSync(path.join(ROOT, project.main as string)));
    });

    it("declares every setting exactly as components/settings renders it (one source of truth)", () => {
        const regenerate = "Pulumi.yaml's config: block differs from components/settings (SETTINGS, LOCAL_SETTINGS): run `npm run render:project-config`";
        assert.deepStrictEqual(projectFile().config, projectConfig(), regenerate);
        const text = fs.readFileSync(PROJECT_FILE, "utf8");
        assert.strictEqual(withRenderedConfig(text), text, regenerate);
        assert.deepStrictEqual(Object.keys(projectConfig()).sort(), allSettingKeys().sort());
    });

    it("gives each key a not-set default of its declared type (the engine refuses another), never the real default", () => {
        for (const [key, declaration] of Object.entries(projectFile().config ?? {})) {
            // pulumi/pulumi v3.248.0 sdk/go/common/workspace/project.go Project.Validate: a typed default must be of that type.
            if (declaration.type === "array") {
                assert.deepStrictEqual([(declaration as { items?: unknown }).items, declaration.default], [{ type: "string" }, [NOT_SET.string]], key);
                assert.strictEqual(JSON.stringify(declaration.default), NOT_SET.array, `${key}: the engine hands a list default over as JSON`);
            } else {
                assert.deepStrictEqual([declaration.type, declaration.default], ["string", NOT_SET.string], key);
            }
            const setting = ({ ...SETTINGS, ...LOCAL_SETTINGS } as Record<string, { default: unknown }>)[key];
            const real = typeof setting.default === "string" ? setting.default || "empty" : JSON.stringify(setting.default);
            assert.ok(declaration.description?.includes(`default ${real};`), `${key}: the description states the real default ${real}`);
            assert.match(declaration.description ?? "", /; (target aws only|target local only|targets aws and local|any target)\.$/, key);
        }
    });

    it("the closed schema catches a misspelt key", () => {
        assert.strictEqual(validate({ ...projectFile(), stackConfigDri: "stacks" }), false);
        assert.strictEqual(validate({ ...projectFile(), config: { serverCount: { type: "integer", defualt: 3 } } }), false);
    });
});

describe("the test command, wherever it is written", () => {
    /** The README's first command, after its apt-get part: what a newcomer runs to set up and test. */
    const readmeSteps = () => {
        const first = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").split("```sh\n")[1].split("\n")[0];
        return first.replace(/#.*$/, "").split("&&").map((s) => s.trim()).filter((s) => !s.includes("apt-get"));
    };

    it("README starts with set-up + tests, then pulumi up on a shipped stack", () => {
        const lines = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").split("```sh\n")[1].split("```")[0].trim().split("\n");
        assert.strictEqual(lines.length, 2);
        assert.deepStrictEqual(readmeSteps(), ["npm ci", "bash apps/build.sh", "npm test"]);
        const stack = /^pulumi up --stack (\S+)/.exec(lines[1])?.[1];
        assert.ok(stack && fs.existsSync(path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`)), lines[1]);
    });

    it(".ci/run and the example GitHub workflow run the README's steps in its order", () => {
        const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
        const workflow = YAML.parse(fs.readFileSync(path.join(ROOT, ".github", "workflows", "ci.yml"), "utf8"));
        const workflowRuns = (workflow.jobs.test.steps as { run?: string }[]).flatMap((s) => (s.run ? [s.run.trim()] : []));
        for (const [where, lines] of [[".ci/run", ci], ["ci.yml", workflowRuns]] as const) {
            const found = readmeSteps().map((step) => lines.findIndex((l) => l === step || l.startsWith(`${step} `)));
            assert.ok(found.every((i, k) => i >= 0 && (k === 0 || i > found[k - 1])), `${where}: ${JSON.stringify(found)}`);
        }
    });
});

describe("validators on a developer's machine and in CI", () => {
    it(".ci/run fails without shellcheck or cloud-init and runs the tests with CI=true (no skip there)", () => {
        const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8");
        assert.match(ci, /for tool in shellcheck cloud-init jq openssl curl; do\n\s+command -v "\$tool" >\/dev\/null 2>&1 \|\| \{ echo "[^"]*" >&2; exit 1; \}/);
        assert.ok(ci.indexOf("export CI=true") < ci.indexOf("npm test"));
        assert.ok(ci.indexOf("npm test") < ci.indexOf("npm run test:real"));
    });

    it("README's first command installs no cloud-init and runs apt-get update before apt-get install", () => {
        const first = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").split("```sh\n")[1].split("\n")[0];
        assert.ok(!first.includes("cloud-init"), first);
        assert.ok(first.indexOf("apt-get update") >= 0 && first.indexOf("apt-get update") < first.indexOf("apt-get install"), first);
    });
});
