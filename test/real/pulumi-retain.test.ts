/**
 * The real Pulumi CLI (v3.248.0, file backend, offline): a platform libSQL database that leaves the
 * program previews as `delete[retain]` and is forgotten, not deleted, by `up`. LibsqlDatabase
 * (components/platform/libsql-server.ts) is a component registered with `retainOnDelete`; the CLI's
 * progress display adds "[retain]" for any resource whose old state has it
 * (pkg/backend/display/rows.go addRetainStatusFlag), which this checks for a component.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../harness/stack-config";
import { PulumiWorkspace } from "./harness/pulumi-cli";
import { itWith } from "./harness/runtime";

describe("real Pulumi CLI: a platform libSQL database leaving the program", function () {
    this.timeout(300_000);
    let ws: PulumiWorkspace | undefined;
    after(async () => ws?.cleanup());

    itWith(["pulumi", "pulumi-language-nodejs"], "previews as delete[retain], and up forgets it", async () => {
        ws = new PulumiWorkspace({ nomadStandin: false });
        const project = path.join(ws.dir, "project");
        fs.mkdirSync(project);
        fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: retain-check\nruntime: nodejs\nmain: index.js\n");
        fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "retain-check", main: "index.js" }));
        // The project's own @pulumi/pulumi (one SDK instance for the language host and the component).
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(project, "node_modules"));
        fs.writeFileSync(path.join(project, "index.js"), [
            // The repository's TypeScript settings (ts-node would look for a tsconfig.json from this temp dir).
            `require(${JSON.stringify(require.resolve("ts-node"))}).register({ transpileOnly: true, project: ${JSON.stringify(path.join(ROOT, "tsconfig.json"))} });`,
            `const pulumi = require("@pulumi/pulumi");`,
            `const { LibsqlDatabase } = require(${JSON.stringify(path.join(ROOT, "components", "platform", "libsql-server.ts"))});`,
            `if (new pulumi.Config().get("keep") !== "no") new LibsqlDatabase("shop-sqlite-default", { namespace: "shop-default", url: "http://shop-default.libsql.service.consul:8090" });`,
            "",
        ].join("\n"));
        const pulumi = async (name: string, ...args: string[]) => {
            const r = await ws!.run(name, [...args, "--stack", "dev", "--non-interactive", "--color", "never"], project, 120_000);
            assert.equal(r.code, 0, `pulumi ${args.join(" ")}:\n${r.output}`);
            return r.output;
        };
        await pulumi("init", "stack", "init");
        await pulumi("up", "up", "--yes");
        await pulumi("config", "config", "set", "keep", "no");
        const preview = await pulumi("preview", "preview");
        assert.match(preview, /-\s+spin-cloud:stores:LibsqlDatabase\s+shop-sqlite-default\s+delete\s*\[retain\]/, preview);
        await pulumi("up-without", "up", "--yes");
        const state = await pulumi("export", "stack", "export");
        assert.ok(!state.includes("LibsqlDatabase"), "forgotten by the stack");
    });
});
