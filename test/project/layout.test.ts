import { strict as assert } from "assert";
import { readdirSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { importEdges, layoutViolations } from "../harness/layout-rules";
import { ROOT } from "../harness/stack-config";

describe("layout: the import rules of the folders", () => {
    const edges = importEdges(ROOT);

    it("reads the real import graph (components → provisioning, targets → shared)", () => {
        assert.ok(edges.length > 100, `${edges.length} edges`);
        assert.ok(edges.some((e) => e.from.startsWith("components/aws/") && e.to.startsWith("components/platform/")));
        assert.ok(edges.some((e) => e.from.startsWith("components/local/") && e.to.startsWith("provisioning/local/")));
    });

    it("no file breaks a rule", () => {
        assert.deepStrictEqual(layoutViolations(edges), []);
    });

    it("refuses a shared part importing a target, a target importing another, provisioning importing components", () => {
        assert.deepStrictEqual(layoutViolations([
            { from: "components/platform/traefik.ts", to: "components/aws/network.ts" },
            { from: "provisioning/jobs/bindle-job.ts", to: "provisioning/local/node.ts" },
            { from: "components/local/local-cloud.ts", to: "components/aws/spin-cloud.ts" },
            { from: "provisioning/aws/cloud-init.ts", to: "components/settings/config.ts" },
            { from: "components/program.ts", to: "components/aws/spin-cloud.ts" },
            { from: "components/aws/spin-cloud.ts", to: "provisioning/jobs/bindle-job.ts" },
        ]), [
            "components/platform/traefik.ts imports components/aws/network.ts: a shared part never imports the aws target",
            "provisioning/jobs/bindle-job.ts imports provisioning/local/node.ts: a shared part never imports the local target",
            "components/local/local-cloud.ts imports components/aws/spin-cloud.ts: the local target never imports the aws target",
            "provisioning/aws/cloud-init.ts imports components/settings/config.ts: provisioning/ never imports components/",
        ]);
    });
});

describe("the repository carries its own data", () => {
    it("no file refers to the shared directory beside the repository", () => {
        const outside = "shared";
        const offenders = repositoryFiles(ROOT).filter((file) => {
            const text = readFileSync(path.join(ROOT, file), "utf8");
            return new RegExp(`\\.\\./${outside}\\b`).test(text) || new RegExp(`["'\`]\\.\\.["'\`],\\s*["'\`]${outside}["'\`]`).test(text);
        });
        assert.deepStrictEqual(offenders, []);
    });

    it("the reference schemas are in test/schemas with their provenance", () => {
        const readme = readFileSync(path.join(ROOT, "test", "schemas", "README.md"), "utf8");
        for (const file of readdirSync(path.join(ROOT, "test", "schemas")).filter((f) => f !== "README.md")) {
            assert.match(readme, new RegExp("`" + file.replace(/\./g, "\\.") + "` \\|.*\\| (MPL-2\\.0|Apache-2\\.0) \\|"), file);
        }
    });
});

/** Every file of the work tree but dependencies, build output and git's own. */
function repositoryFiles(root: string, dir = ""): string[] {
    return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
        const rel = dir ? `${dir}/${entry.name}` : entry.name;
        if (["node_modules", ".git", "bin", "dist", ".pulumi"].includes(entry.name)) return [];
        if (entry.isDirectory()) return repositoryFiles(root, rel);
        return entry.isFile() && statSync(path.join(root, rel)).size < 2_000_000 ? [rel] : [];
    });
}
