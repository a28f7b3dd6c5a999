/**
 * The policy pack over a corpus of good and deliberately bad inputs: each case names exactly the
 * policies that must report (any level), so a policy that misses its violation, or fires on a
 * resource it has no business with, fails a case.
 */
import { strict as assert } from "assert";
import { POLICIES } from "../../policy/policies";
import { AWS_CASES } from "../fixtures/policy/cases-aws";
import { JOB_CASES } from "../fixtures/policy/cases-jobs";
import { NETWORK_CASES } from "../fixtures/policy/cases-network";
import { PolicyCase, runCase } from "../fixtures/policy/harness";
import { spinAppJob, traefikJob } from "../fixtures/policy/jobs";
import { assertValidNomadJob } from "../harness/nomad-job-schema";

const CASES: readonly PolicyCase[] = [...AWS_CASES, ...NETWORK_CASES, ...JOB_CASES];

describe("policy pack fixtures", () => {
    for (const c of CASES) {
        const expectation = c.expect.length > 0 ? c.expect.join(" + ") : "no violation";
        it(`${c.title} -> ${expectation}`, async () => {
            const run = await runCase(POLICIES, c);
            const report = run.violations.map((v) => `  [${v.level}] ${v.policy}: ${v.message}`).join("\n");
            const fired = [...new Set(run.violations.map((v) => v.policy))].sort();
            assert.deepStrictEqual(fired, [...c.expect].sort(), `violations:\n${report}`);
            assert.ok(!run.violations.some((v) => v.message.startsWith("can't run policy")), `a policy met an unknown value:\n${report}`);
            if (c.mentions !== undefined) {
                assert.ok(run.violations.some((v) => v.message.includes(c.mentions!)), `no message mentions ${JSON.stringify(c.mentions)}:\n${report}`);
            }
            for (const v of run.violations) {
                assert.ok(c.resources.some((r) => v.message.includes(`'${r.name}'`)) || /Stack '/.test(v.message),
                    `message does not name the resource: ${v.message}`);
            }
        });
    }

    // Pack-wide coverage (every policy fires and passes somewhere) is checked over these and the
    // registered fixtures together in registered.test.ts.

    it("build their job baselines from real Nomad job fields (closed OpenAPI Job schema)", () => {
        assertValidNomadJob(spinAppJob(), "Spin app baseline");
        assertValidNomadJob(traefikJob().Job, "Traefik baseline");
    });

    it("include good inputs for every policy area", () => {
        const good = CASES.filter((c) => c.expect.length === 0);
        const types = new Set(good.flatMap((c) => c.resources.map((r) => r.type)));
        for (const type of ["aws:ec2/instance:Instance", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ssm/parameter:Parameter",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/securityGroup:SecurityGroup", "nomad:index/job:Job"]) {
            assert.ok(types.has(type), `no good fixture of ${type}`);
        }
    });
});
