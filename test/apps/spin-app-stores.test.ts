/** SpinApp with stores under mocks: what the manifest's key-value stores and SQLite databases make each cloud register. */
import * as assert from "assert";
import * as path from "path";
import { SpinApp } from "../../components/apps/spin-app";
import { LocalAppData } from "../../components/local/app-data";
import { SPIN_RUNTIME_CONFIG_ARG } from "../../provisioning/jobs/spin-runtime-config";
import { fakeCloud } from "../harness/fake-cloud";
import { evaluateStack, isSecretInput, MockRun, ofType } from "../harness/mocks";

const STATEFUL = path.join(__dirname, "..", "fixtures", "apps", "stateful");
const HELLO = path.join(__dirname, "..", "fixtures", "apps", "hello");
const LIBSQL = { backend: "libsql" as const, url: "https://db.internal:8080", token: "libsql-s3cret" };

const jobOf = (r: MockRun, name: string) => JSON.parse(String(ofType(r, "nomad:index/job:Job").find((j) => j.name === name)!.inputs.jobspec)).Job;

describe("SpinApp stores", () => {
    it("AWS: one encrypted table per key-value label, an IAM identity for the app, the runtime config in the job", async () => {
        const r = await evaluateStack("unit", () => {
            new SpinApp("stateful", { cloud: fakeCloud(), source: STATEFUL, stores: { sqlite: { default: LIBSQL } } });
            return {};
        });
        const tables = ofType(r, "aws:dynamodb/table:Table");
        assert.deepStrictEqual(tables.map((t) => t.name).sort(), ["stateful-kv-cache", "stateful-kv-default"]);
        for (const t of tables) {
            assert.strictEqual((t.inputs.serverSideEncryption as { enabled: boolean }).enabled, true);
            assert.strictEqual((t.inputs.pointInTimeRecovery as { enabled: boolean }).enabled, true);
        }
        assert.strictEqual(ofType(r, "aws:kms/key:Key").length, 1);
        assert.strictEqual(ofType(r, "aws:iam/user:User").length, 1);
        const [variable] = ofType(r, "nomad:index/variable:Variable").filter((v) => v.name === "stateful-stores");
        assert.ok(isSecretInput(variable.inputs.items), "the access key and the libSQL token reach Nomad as secrets");
        const task = jobOf(r, "stateful").TaskGroups[0].Tasks[0];
        assert.ok(task.Config.args.includes("--runtime-config-file") && task.Config.args.includes(SPIN_RUNTIME_CONFIG_ARG), task.Config.args.join(" "));
        assert.ok(!JSON.stringify(task).includes("libsql-s3cret"), "no token in the jobspec");
    });

    it("AWS: a SQLite database without a libSQL server is refused before anything of the app registers", async () => {
        await assert.rejects(evaluateStack("unit", () => {
            new SpinApp("stateful", { cloud: fakeCloud(), source: STATEFUL });
            return {};
        }), /SpinApp stateful: .*sqlite/i);
    });

    it("an app without stores gets no table, no key and no runtime config", async () => {
        const r = await evaluateStack("unit", () => {
            new SpinApp("hello", { cloud: fakeCloud(), source: HELLO, secretVariables: { token: "t" } });
            return {};
        });
        assert.deepStrictEqual([...ofType(r, "aws:dynamodb/table:Table"), ...ofType(r, "aws:kms/key:Key")], []);
        assert.ok(!jobOf(r, "hello").TaskGroups[0].Tasks[0].Config.args.includes("--runtime-config-file"));
    });

    it("local: every label is a file under <stateDir>/app-data/<app>, and the job waits for the directory step", async () => {
        let stores!: LocalAppData;
        let cloudRef: ReturnType<typeof fakeCloud> | undefined;
        const r = await evaluateStack("unit", () => {
            stores = new LocalAppData("data", { stateDir: "/home/me/.spin-cloud/local" });
            const cloud = cloudRef = fakeCloud({ stores, runtime: { driver: "raw_exec", spinBinary: "/home/me/.cache/spin" } });
            new SpinApp("stateful", { cloud, source: STATEFUL });
            return {};
        });
        const task = jobOf(r, "stateful").TaskGroups[0].Tasks[0];
        const config = task.Templates.map((t: { EmbeddedTmpl: string }) => t.EmbeddedTmpl).join("\n");
        for (const file of ["key-value/default.db", "key-value/cache.db", "sqlite/default.db"]) {
            assert.ok(config.includes(`/home/me/.spin-cloud/local/app-data/stateful/${file}`), `${file} in\n${config}`);
        }
        assert.strictEqual(ofType(r, "aws:dynamodb/table:Table").length, 0);
        // The mocks record no dependencies; the provider hands the step to the job's dependsOn.
        assert.deepStrictEqual(stores.provision("stateful", "app-stateful", { keyValue: [], sqlite: [] }, cloudRef!.platform.nomad, stores), [stores.step]);
    });
});
