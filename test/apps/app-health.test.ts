/** SpinApp's readiness path and secret digest: derived from spin.toml, and a secret change that rolls. */
import * as assert from "assert";
import * as path from "path";
import { readinessFor, secretsDigest } from "../../components/apps/app-health";
import { SpinApp } from "../../components/apps/spin-app";
import { fakeCloud } from "../harness/fake-cloud";
import { evaluateStack, isSecretInput, MockRun, ofType } from "../harness/mocks";

const HELLO = path.join(__dirname, "..", "fixtures", "apps", "hello");
const route = (r: string, priv = false) => ({ route: r, private: priv, component: "c" });
const jobOf = (r: MockRun, name: string) => ofType(r, "nomad:index/job:Job").find((j) => j.name === name)!;

describe("readinessFor", () => {
    const table: [string[], string][] = [
        [["/..."], "/"], [["/api/..."], "/api/"], [["/hello"], "/hello"], [["/users/:id", "/status"], "/status"],
        [["/users/:id"], "/"], [[], "/"],
    ];
    for (const [routes, expected] of table) {
        it(`${JSON.stringify(routes)} → ${expected}`, () => assert.deepStrictEqual(readinessFor(routes.map((r) => route(r))), { path: expected }));
    }
    it("skips private routes, and a given path wins", () => {
        assert.deepStrictEqual(readinessFor([{ private: true, component: "c" }, route("/ok")]), { path: "/ok" });
        assert.deepStrictEqual(readinessFor([route("/...")], { path: "/healthz" }), { path: "/healthz" });
    });
});

describe("secret variables roll like any change", () => {
    it("the digest changes with any value, names no value, and does not depend on key order", () => {
        const a = secretsDigest("k", { token: "one", db: "x" });
        assert.strictEqual(a, secretsDigest("k", { db: "x", token: "one" }));
        assert.notStrictEqual(a, secretsDigest("k", { token: "two", db: "x" }));
        assert.notStrictEqual(a, secretsDigest("other-key", { token: "one", db: "x" }));
        assert.match(a, /^[0-9a-f]{64}$/);
    });

    it("SpinApp: a new secret value changes the jobspec's meta, the jobspec stays plain (visible in preview) and holds no secret", async () => {
        const specFor = async (token: string) => {
            const r = await evaluateStack("unit", () => {
                new SpinApp("hello", { cloud: fakeCloud(), source: HELLO, secretVariables: { token } });
                return {};
            });
            const job = jobOf(r, "hello");
            assert.ok(!isSecretInput(job.inputs.jobspec), "the jobspec is not a secret");
            assert.ok(!String(job.inputs.jobspec).includes(token));
            return JSON.parse(String(job.inputs.jobspec)).Job;
        };
        const [first, again, rotated] = [await specFor("s3cret-one"), await specFor("s3cret-one"), await specFor("s3cret-two")];
        assert.match(first.Meta.spin_cloud_secrets, /^[0-9a-f]{64}$/);
        assert.strictEqual(first.Meta.spin_cloud_secrets, again.Meta.spin_cloud_secrets);
        assert.notStrictEqual(first.Meta.spin_cloud_secrets, rotated.Meta.spin_cloud_secrets);
        assert.strictEqual(first.TaskGroups[0].Services[0].Checks[1].Path, "/", "readiness from the fixture's /... route");
    });

    it("SpinApp: healthCheck.path is the readiness path; a bad one stops the app before it registers", async () => {
        const r = await evaluateStack("unit", () => {
            new SpinApp("hello", { cloud: fakeCloud(), source: HELLO, secretVariables: { token: "t" }, healthCheck: { path: "/api/ready" } });
            return {};
        });
        assert.strictEqual(JSON.parse(String(jobOf(r, "hello").inputs.jobspec)).Job.TaskGroups[0].Services[0].Checks[1].Path, "/api/ready");
        await assert.rejects(evaluateStack("unit", () => {
            new SpinApp("hello", { cloud: fakeCloud(), source: HELLO, secretVariables: { token: "t" }, healthCheck: { path: "ready" } });
            return {};
        }), /readiness\.path is "ready"/);
    });
});
