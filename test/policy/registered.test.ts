/**
 * The policy pack over fixtures built from what the program registers (shipped stacks under
 * mocks, two stateful apps for the store policies, a stack with a libSQL server for the S3 ones;
 * one thing changed per case), and the
 * pack-wide coverage checks over both corpora: every policy fires on some bad fixture and runs to
 * completion on some good one.
 */
import { strict as assert } from "assert";
import { POLICIES } from "../../policy/policies";
import { AWS_CASES } from "../fixtures/policy/cases-aws";
import { BUCKETS_CASES, BucketsCase } from "../fixtures/policy/cases-buckets";
import { JOB_CASES } from "../fixtures/policy/cases-jobs";
import { NETWORK_CASES } from "../fixtures/policy/cases-network";
import { REGISTERED_CASES, RegisteredCase } from "../fixtures/policy/cases-registered";
import { PolicyCase, PolicyRun, runCase } from "../fixtures/policy/harness";
import { PROGRAM_GAPS } from "../fixtures/policy/program-gaps";
import { registered, registeredWithLibsql } from "../fixtures/policy/registered";
import { STORES_CASES, StoresCase } from "../fixtures/policy/cases-stores";
import { registeredStores } from "../fixtures/policy/stores";

const STATIC_CASES: readonly PolicyCase[] = [...AWS_CASES, ...NETWORK_CASES, ...JOB_CASES];

async function asPolicyCase(c: RegisteredCase): Promise<PolicyCase> {
    const s = await registered(c.from);
    return { ...c, stack: c.from, resources: c.build(s), stackConfig: { ...s.stackConfig, ...c.stackConfig } };
}

async function storesPolicyCase(c: StoresCase): Promise<PolicyCase> {
    const program = await registered(c.from);
    const stores = await registeredStores(c.from);
    return { ...c, stack: c.from, resources: c.build(stores, program), stackConfig: { ...program.stackConfig, ...c.stackConfig } };
}

async function bucketsPolicyCase(c: BucketsCase): Promise<PolicyCase> {
    const s = await registeredWithLibsql(c.from);
    return { ...c, stack: c.from, resources: c.build(s), stackConfig: { ...s.stackConfig, ...c.stackConfig } };
}

function assertCase(c: PolicyCase, run: PolicyRun): void {
    const report = run.violations.map((v) => `  [${v.level}] ${v.policy}: ${v.message}`).join("\n");
    // A shipped stack's known advisory gaps are there in every case built from it.
    const gaps = c.stack === undefined ? [] : (PROGRAM_GAPS[c.stack] ?? []).filter((g) => !c.expect.includes(g));
    const fired = [...new Set(run.violations.filter((v) => !(v.level === "advisory" && gaps.includes(v.policy))).map((v) => v.policy))].sort();
    assert.deepStrictEqual(fired, [...c.expect].sort(), `violations:\n${report}`);
    assert.ok(!run.violations.some((v) => v.message.startsWith("can't run policy")), `a policy met an unknown value:\n${report}`);
    if (c.mentions !== undefined) {
        assert.ok(run.violations.some((v) => v.message.includes(c.mentions!)), `no message mentions ${JSON.stringify(c.mentions)}:\n${report}`);
    }
    for (const v of run.violations) {
        assert.ok(c.resources.some((r) => v.message.includes(`'${r.name}'`)) || /Stack '/.test(v.message), `message does not name the resource: ${v.message}`);
    }
}

describe("policy pack over registered resources, one thing changed", function () {
    this.timeout(120000);
    for (const c of REGISTERED_CASES) {
        it(`${c.from}: ${c.title} -> ${c.expect.length > 0 ? c.expect.join(" + ") : "no violation"}`, async () => {
            const policyCase = await asPolicyCase(c);
            assertCase(policyCase, await runCase(POLICIES, policyCase));
        });
    }
    for (const c of STORES_CASES) {
        it(`${c.from} + stateful apps: ${c.title} -> ${c.expect.length > 0 ? c.expect.join(" + ") : "no violation"}`, async () => {
            const policyCase = await storesPolicyCase(c);
            assertCase(policyCase, await runCase(POLICIES, policyCase));
        });
    }
    for (const c of BUCKETS_CASES) {
        it(`${c.from} + a libSQL server: ${c.title} -> ${c.expect.length > 0 ? c.expect.join(" + ") : "no violation"}`, async () => {
            const policyCase = await bucketsPolicyCase(c);
            const run = await runCase(POLICIES, policyCase);
            assertCase(policyCase, run);
            if (c.violations !== undefined) {
                const gaps = PROGRAM_GAPS[c.from] ?? [];
                const got = run.violations.filter((v) => !(v.level === "advisory" && gaps.includes(v.policy))).map((v) => [v.policy, v.message]);
                assert.deepStrictEqual(got.sort(), c.violations.map((v) => [...v]).sort());
            }
        });
    }
});

describe("policy pack coverage (static and registered fixtures)", function () {
    this.timeout(120000);
    let all: PolicyCase[];
    before(async () => {
        all = [...STATIC_CASES];
        for (const c of REGISTERED_CASES) {
            all.push(await asPolicyCase(c));
        }
        for (const c of STORES_CASES) {
            all.push(await storesPolicyCase(c));
        }
        for (const c of BUCKETS_CASES) {
            all.push(await bucketsPolicyCase(c));
        }
    });

    it("make every policy of the pack fire at least once", () => {
        const covered = new Set(all.flatMap((c) => c.expect));
        const names = POLICIES.map((p) => p.name);
        assert.deepStrictEqual(names.filter((n) => !covered.has(n)), []);
        assert.deepStrictEqual([...covered].filter((n) => !names.includes(n)), [], "cases expect unknown policies");
    });

    it("make every policy fire in at least two shapes", () => {
        const counts = new Map<string, number>();
        all.flatMap((c) => c.expect).forEach((p) => counts.set(p, (counts.get(p) ?? 0) + 1));
        assert.deepStrictEqual(POLICIES.map((p) => p.name).filter((n) => (counts.get(n) ?? 0) < 2), []);
    });

    it("run every policy to completion on some good input, so a policy that always reports fails a case", async () => {
        const applied = new Set<string>();
        for (const c of all.filter((x) => x.expect.length === 0)) {
            (await runCase(POLICIES, c)).applied.forEach((p) => applied.add(p));
        }
        assert.deepStrictEqual(POLICIES.map((p) => p.name).filter((n) => !applied.has(n)), []);
    });
});
