/**
 * boot-deadline.sh against stand-ins: a converged node does nothing, a client that has not
 * converged marks itself Unhealthy through IMDSv2 and the AWS CLI, a server only logs. And the
 * client role may do exactly that, in its own cluster.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { nodePolicyDocument } from "../../components/aws/node-iam";
import { renderNodeEnv } from "../../provisioning/aws/node-env";
import { SAMPLE_CLIENT, SAMPLE_SERVER } from "../fixtures/nodes";
import { NodeProvisioning } from "../../provisioning/types";
import { shellcheckFiles } from "../harness/validators";

const SCRIPT = path.join(__dirname, "..", "..", "provisioning", "aws", "scripts", "boot-deadline.sh");

function runDeadline(node: NodeProvisioning, converged: boolean) {
    const root = mkdtempSync(path.join(tmpdir(), "boot-deadline-"));
    const bin = path.join(root, "bin");
    mkdirSync(bin);
    const stub = (name: string, body: string) => {
        writeFileSync(path.join(bin, name), `#!/bin/sh\nprintf '%s\\n' "$*" >>"${root}/${name}.log"\n${body}\n`);
        chmodSync(path.join(bin, name), 0o755);
    };
    stub("systemctl", converged ? "exit 0" : "exit 3");
    stub("curl", `case "$*" in *api/token*) printf tok123 ;; *instance-id*) case "$*" in *"X-aws-ec2-metadata-token: tok123"*) printf i-0abc123 ;; *) exit 22 ;; esac ;; *) exit 7 ;; esac`);
    stub("aws", "exit 0");
    writeFileSync(path.join(root, "node.env"), renderNodeEnv(node));
    const result = spawnSync("bash", [SCRIPT, path.join(root, "node.env")], {
        encoding: "utf8", env: { PATH: `${bin}:/usr/bin:/bin`, IMDS_URL: "http://imds.test" },
    });
    const log = (name: string) => existsSync(path.join(root, `${name}.log`)) ? readFileSync(path.join(root, `${name}.log`), "utf8") : "";
    return { result, log };
}

describe("boot deadline", () => {
    it("passes shellcheck", () => {
        for (const [file, result] of shellcheckFiles([SCRIPT])) {
            assert.ok(result.ok, `${file}:\n${result.output}`);
        }
    });

    it("does nothing on a node whose bootstrap unit is active", () => {
        const { result, log } = runDeadline(SAMPLE_CLIENT, true);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(log("systemctl"), "is-active --quiet spin-cloud-bootstrap.service\n");
        assert.strictEqual(log("aws"), "");
    });

    it("has a client that has not converged replaced by its Auto Scaling Group", () => {
        const { result, log } = runDeadline(SAMPLE_CLIENT, false);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(log("aws"), `autoscaling set-instance-health --region ${SAMPLE_CLIENT.cluster.awsRegion} --instance-id i-0abc123 ` +
            "--health-status Unhealthy --no-should-respect-grace-period\n");
        assert.match(log("curl"), /-X PUT -H X-aws-ec2-metadata-token-ttl-seconds: 60 http:\/\/imds\.test\/latest\/api\/token/);
        assert.match(result.stderr, /client i-0abc123 has not converged/);
    });

    it("only logs on a server (not in a group; systemd keeps retrying)", () => {
        const { result, log } = runDeadline(SAMPLE_SERVER, false);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.strictEqual(log("aws"), "");
        assert.match(result.stderr, /server has not converged yet/);
    });

    it("lets clients, not servers, set instance health, only on their cluster's groups", () => {
        const statements = (role: "server" | "client") =>
            (nodePolicyDocument(role, "eu-west-1", "/spin-cloud/c", "aws", "123456789012", "arn:k", "spin-cloud-dev") as { Statement: any[] }).Statement;
        const health = statements("client").find((s) => s.Sid === "ReplaceSelfWhenStuck");
        assert.deepStrictEqual(health, {
            Sid: "ReplaceSelfWhenStuck", Effect: "Allow", Action: ["autoscaling:SetInstanceHealth"], Resource: "*",
            Condition: { StringEquals: { "autoscaling:ResourceTag/spin-cloud:cluster": "spin-cloud-dev" } },
        });
        assert.ok(!statements("server").some((s) => s.Sid === "ReplaceSelfWhenStuck"));
    });
});
