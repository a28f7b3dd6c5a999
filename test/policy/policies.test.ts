/**
 * The spin-cloud-guard policy pack: every policy over what each shipped stack registers, run the
 * way `@pulumi/policy` runs them under `pulumi preview --policy-pack policy`, and the pack's
 * layout as the Pulumi CLI loads it.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { DEFAULTS } from "../../policy/policies/config";
import { PACK_NAME, POLICIES } from "../../policy/policies";
import { PROGRAM_GAPS } from "../fixtures/policy/program-gaps";
import { registeredWithLibsql } from "../fixtures/policy/registered";
import { shippedStack } from "../harness/shipped-stacks";
import { compileStrict, describeErrors } from "../harness/schemas";
import { loadStackConfig, ROOT, shippedStacks, stackTarget } from "../harness/stack-config";
import { inputsOf, merge, outputsOf, PolicyRun, runResourcePolicies, runStackPolicies } from "../fixtures/policy/harness";

const POLICY_DIR = path.join(ROOT, "policy");

/** Policies about AWS resources: each must apply to something in every shipped stack. */
const AWS_POLICIES = [
    "imdsv2-required", "ebs-encryption-required", "ssm-securestring-customer-key", "agent-acl-tls-enabled",
    "no-secrets-in-user-data", "no-public-ingress", "public-ingress-only-on-load-balancer", "no-ssh-ingress",
    "cluster-ports-not-public", "nomad-servers-odd-multi-az", "allowed-instance-families", "required-tags",
    "ec2-instance-no-public-ip", "cmk-backing-key-rotation-enabled", "efs-encrypted", "ssm-secrets-are-securestring",
    "no-secrets-in-tags", "no-raw-exec-on-aws", "no-public-ingress-in-aggregate", "alb-http-to-https-redirection",
    "ec2-instance-detailed-monitoring-enabled", "no-secrets-in-jobspecs",
];

/** Policies about Nomad jobs: each must apply to something in a local stack (which has no AWS resource). */
const JOB_POLICIES = [
    "nomad-jobspec-json", "spin-app-resources", "spin-app-health-check", "spin-app-update-auto-revert", "artifacts-pinned-by-checksum",
    "no-secrets-in-jobspecs", "no-secrets-in-commands",
];

async function policyRun(stack: string): Promise<PolicyRun> {
    const registered = await shippedStack(stack);
    const inputs = inputsOf(registered);
    const outputs = outputsOf(registered);
    const stackConfig = loadStackConfig(stack);
    const resourceRun = await runResourcePolicies(POLICIES, inputs, stack, {}, stackConfig);
    return merge(resourceRun, await runStackPolicies(POLICIES, outputs, stack, {}, stackConfig));
}

describe("policy pack over the shipped stacks", () => {
    for (const stack of shippedStacks()) {
        describe(`stack ${stack}`, () => {
            let run: PolicyRun;
            before(async () => {
                run = await policyRun(stack);
            });

            const report = () => run.violations.map((v) => `  [${v.level}] ${v.policy}: ${v.message}`).join("\n");

            it("has no mandatory violation", () => {
                assert.deepStrictEqual(run.violations.filter((v) => v.level === "mandatory"), [], report());
            });

            it("has no advisory violation either, but the known program gaps", () => {
                const gaps = PROGRAM_GAPS[stack] ?? [];
                assert.deepStrictEqual(run.violations.filter((v) => v.level === "advisory" && !gaps.includes(v.policy)), [], report());
            });

            const expected = stackTarget(stack) === "local" ? JOB_POLICIES : AWS_POLICIES;
            it(`applies every ${stackTarget(stack) === "local" ? "job" : "AWS"} policy to at least one resource`, () => {
                assert.deepStrictEqual(expected.filter((p) => !run.applied.has(p)), [],
                    `not applicable: ${JSON.stringify([...run.notApplicable.entries()].filter(([p]) => expected.includes(p)))}`);
            });
        });
    }
});

/** The S3 policies: the shipped stacks build a bucket only in prod (load balancer logs), so a stack with a libSQL server checks them too. */
const BUCKET_POLICIES = ["s3-bucket-public-access-blocked", "s3-bucket-encrypted", "libsql-backups-durable", "s3-access-names-buckets"];

describe("policy pack over a shipped stack running an app with a SQLite database (platform libSQL server)", function () {
    this.timeout(120000);
    for (const stack of ["dev", "prod"] as const) {
        it(`${stack}: no violation but the known program gaps, the libSQL backup bucket and its writer checked`, async () => {
            const s = await registeredWithLibsql(stack);
            const run = merge(await runResourcePolicies(POLICIES, s.inputs, stack, {}, s.stackConfig),
                await runStackPolicies(POLICIES, s.outputs, stack, {}, s.stackConfig));
            const report = run.violations.map((v) => `  [${v.level}] ${v.policy}: ${v.message}`).join("\n");
            const gaps = PROGRAM_GAPS[stack] ?? [];
            assert.deepStrictEqual(run.violations.filter((v) => !(v.level === "advisory" && gaps.includes(v.policy))), [], report);
            const buckets = s.outputs.filter((r) => r.type === "aws:s3/bucket:Bucket");
            assert.deepStrictEqual(buckets.map((b) => (b.props.tags as Record<string, string>)["spin-cloud:role"] ?? "none").sort(),
                stack === "prod" ? ["libsql-backups", "none"] : ["libsql-backups"], "the libSQL backup bucket (and prod's load balancer logs bucket)");
            assert.ok(s.inputs.some((r) => r.type === "aws:iam/userPolicy:UserPolicy" && String(r.props.policy).includes("s3:PutObject")), "the libSQL writer's S3 grant");
            assert.deepStrictEqual(BUCKET_POLICIES.filter((p) => !run.applied.has(p)), []);
        });
    }
});

describe("policy pack layout", () => {
    it("is a nodejs policy project (PulumiPolicy.yaml) with a package.json version PolicyPack reads", () => {
        const project = YAML.parse(fs.readFileSync(path.join(POLICY_DIR, "PulumiPolicy.yaml"), "utf8"));
        assert.strictEqual(project.runtime, "nodejs");
        const pkg = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "package.json"), "utf8"));
        assert.match(pkg.version, /^\d+\.\d+\.\d+$/);
        assert.ok(fs.existsSync(path.join(POLICY_DIR, pkg.main)), `main ${pkg.main} missing`);
        assert.deepStrictEqual(pkg.dependencies ?? {}, {}, "dependencies come from the root package.json");
    });

    it("resolves its runtime modules from the root install, as the Node.js language host does", () => {
        for (const mod of ["@pulumi/pulumi/cmd/run-policy-pack", "@pulumi/policy", "@pulumi/aws", "yaml", "ts-node", "typescript"]) {
            assert.ok(require.resolve(mod, { paths: [POLICY_DIR] }).startsWith(path.join(ROOT, "node_modules")), mod);
        }
    });

    it("serves the shared policy list under the pack name", () => {
        const index = fs.readFileSync(path.join(POLICY_DIR, "index.ts"), "utf8");
        assert.match(index, /new PolicyPack\(PACK_NAME, \{\s*policies: POLICIES,/);
        assert.strictEqual(PACK_NAME, "spin-cloud-guard");
    });

    it("names policies uniquely, validly, with an explicit mandatory or advisory level", () => {
        const names = POLICIES.map((p) => p.name);
        assert.strictEqual(new Set(names).size, names.length);
        for (const p of POLICIES) {
            assert.match(p.name, /^[a-z0-9-]+$/);
            assert.ok(p.enforcementLevel === "mandatory" || p.enforcementLevel === "advisory", p.name);
            assert.ok(p.description.length > 20, p.name);
        }
    });

    it("declares each tunable with its default, never enforcementLevel (the server rejects it)", () => {
        const declared = new Set<string>();
        for (const p of POLICIES) {
            for (const [key, schema] of Object.entries(p.configSchema?.properties ?? {})) {
                assert.notStrictEqual(key, "enforcementLevel");
                assert.deepStrictEqual((schema as { default?: unknown }).default, DEFAULTS[key as keyof typeof DEFAULTS], `${p.name}.${key}`);
                declared.add(key);
            }
        }
        assert.deepStrictEqual([...declared].sort(), Object.keys(DEFAULTS).sort());
    });

    it("ships an example --policy-pack-config that the policies' schemas accept", () => {
        const example = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "config.example.json"), "utf8")) as Record<string, unknown>;
        for (const [name, entry] of Object.entries(example)) {
            const policy = POLICIES.find((p) => p.name === name);
            assert.ok(policy, `no policy ${name}`);
            if (typeof entry === "string") {
                assert.ok(["advisory", "mandatory", "disabled"].includes(entry), name);
                continue;
            }
            const { enforcementLevel: _level, ...properties } = entry as Record<string, unknown>;
            const validate = compileStrict({ type: "object", properties: policy.configSchema?.properties ?? {}, additionalProperties: false });
            assert.ok(validate(properties), `${name}: ${describeErrors(validate)}`);
        }
    });

    it("documents every policy with its level in policy/README.md", () => {
        const readme = fs.readFileSync(path.join(POLICY_DIR, "README.md"), "utf8");
        for (const p of POLICIES) {
            assert.match(readme, new RegExp(`\\| \`${p.name}\` \\| ${p.enforcementLevel} \\|`), p.name);
        }
        for (const key of Object.keys(DEFAULTS)) {
            assert.ok(readme.includes(`\`${key}\``), `README misses config key ${key}`);
        }
    });
});
