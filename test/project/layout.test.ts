import { strict as assert } from "assert";
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
