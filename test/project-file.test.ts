import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { closeObjects, compileStrict, describeErrors, readSharedSchema } from "./harness/schemas";
import { ROOT, projectFile } from "./harness/stack-config";

describe("Pulumi.yaml", () => {
    // The upstream schema leaves the top level open (`additionalProperties: true`); we close it
    // too, so a misspelt top-level key fails here rather than being ignored by the CLI.
    const validate = compileStrict({ ...closeObjects(readSharedSchema("pulumi.json")), additionalProperties: false });

    it("validates against the Pulumi project schema with unknown keys rejected", () => {
        const project = projectFile();
        assert.ok(validate(project), describeErrors(validate));
        assert.strictEqual(project.name, "spin-cloud");
        assert.strictEqual(project.main, "index.ts");
        assert.strictEqual(project.stackConfigDir, "stacks");
        assert.deepStrictEqual(project.runtime, { name: "nodejs", options: { packagemanager: "npm", typescript: true } });
        assert.ok(fs.existsSync(path.join(ROOT, project.main as string)));
    });

    it("the closed schema catches a misspelt key", () => {
        assert.strictEqual(validate({ ...projectFile(), stackConfigDri: "stacks" }), false);
        assert.strictEqual(validate({ ...projectFile(), config: { serverCount: { type: "integer", defualt: 3 } } }), false);
    });
});
