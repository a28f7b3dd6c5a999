/** SpinApp with stores under mocks: what the manifest's key-value stores and SQLite databases make each cloud register. */
import * as assert from "assert";
import * as path from "path";
import { SpinApp } from "../../components/apps/spin-app";
import { LocalAppData } from "../../components/local/app-data";
import * as pulumi from "@pulumi/pulumi";
import { secretsDigest, storeSecretsForDigest } from "../../components/apps/app-health";
import { SpinAppArgs } from "../../components/apps/spin-app-args";
import { libsqlTokenItem, SPIN_RUNTIME_CONFIG_ARG } from "../../provisioning/jobs/spin-runtime-config";
import { AwsAppStores } from "../../components/aws/app-stores";
import { appDataRoot, storeDataCommands } from "../../provisioning/local/app-data";
import { fakeCloud } from "../harness/fake-cloud";
import { evaluateStack, isSecretInput, lastRegistered, MockRun, ofType, unwrapSecrets } from "../harness/mocks";

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

    it("AWS: a SQLite database on a cloud built without it is refused, naming the way to declare it, before anything of the app registers", async () => {
        for (const databases of [undefined, [{ app: "other", label: "default" }]]) {
            await assert.rejects(evaluateStack("unit", () => {
                const cloud = fakeCloud({}, databases ? { libsqlDatabases: databases } : {});
                new SpinApp("stateful", { cloud, source: STATEFUL });
                return {};
            }), /SpinApp stateful stores\.sqlite\.default: (this cloud has no platform libSQL server|the platform libSQL server was not built with this database).*spinCloudProgram\(\{ apps \}\)/);
            assert.deepStrictEqual(lastRegistered().filter((r) => r.name.startsWith("stateful")).map((r) => r.name), []);
        }
    });

    it("AWS: a platform database gets the namespace's URL in the runtime config and its own token in the store Variable; the job waits for the server", async () => {
        let provided: pulumi.Resource[] = [];
        let server: pulumi.Resource | undefined;
        const retained: Record<string, boolean | undefined> = {};
        const r = await evaluateStack("unit", () => {
            pulumi.runtime.registerStackTransformation((a) => {
                if (a.type === "spin-cloud:stores:LibsqlDatabase") retained[a.name] = a.opts.retainOnDelete;
                return undefined;
            });
            const cloud = fakeCloud({}, { libsqlDatabases: [{ app: "stateful", label: "default" }, { app: "other", label: "default" }] });
            new SpinApp("stateful", { cloud, source: STATEFUL });
            const stores = cloud.platform.stores as AwsAppStores;
            server = stores.libsql;
            // The mocks record no dependencies; the provider hands the server to the job's dependsOn.
            const checked = { keyValue: [], sqlite: [{ label: "default", args: { backend: "libsql" as const, retainOnDelete: true } }] };
            provided = stores.provision("other", "app-other", checked, cloud.platform.nomad, stores).resources;
            return {};
        });
        const task = jobOf(r, "stateful").TaskGroups[0].Tasks[0];
        const config = task.Templates.find((t: { DestPath: string }) => t.DestPath.endsWith("spin-runtime-config.toml")).EmbeddedTmpl as string;
        assert.match(config, /\[sqlite_database\.default\]\s+type = "libsql"\s+url = "http:\/\/stateful-default\.libsql\.service\.consul:8090"/);
        const [variable] = ofType(r, "nomad:index/variable:Variable").filter((v) => v.name === "stateful-stores");
        assert.ok(isSecretInput(variable.inputs.items));
        const items = unwrapSecrets(variable.inputs.items) as Record<string, string>;
        const token = items[libsqlTokenItem("default")];
        const [, payload] = token.split(".");
        assert.deepStrictEqual(JSON.parse(Buffer.from(payload, "base64url").toString()), { id: "stateful-default", a: "rw" });
        assert.ok(!JSON.stringify(ofType(r, "nomad:index/job:Job").map((j) => j.inputs)).includes(token), "no token in any jobspec");
        assert.ok(server !== undefined && provided.includes(server), "the app's job waits for the LibsqlServer");
        // Removing the store previews as `delete [retain]` (the real CLI shows that for a component too): the database stays.
        assert.deepStrictEqual(retained, { "stateful-sqlite-default": true, "other-sqlite-default": true });
        const db = r.resources.find((x) => x.type === "spin-cloud:stores:LibsqlDatabase" && x.name === "stateful-sqlite-default")!;
        assert.ok(db.urn.includes("SpinApp$spin-cloud:stores:LibsqlDatabase"), `under its app: ${db.urn}`);
        assert.deepStrictEqual(ofType(r, "spin-cloud:platform:LibsqlServer").map((x) => x.name), ["fake-app-stores-libsql"]);
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
        assert.deepStrictEqual(stores.provision("stateful", "app-stateful", { keyValue: [], sqlite: [] }, cloudRef!.platform.nomad, stores), { resources: [stores.step], secrets: {} });
        assert.strictEqual(jobOf(r, "stateful").Meta.spin_cloud_secrets, undefined, "local stores have no secret to digest");
    });

    it("local: each store has a data step under its app, retained on delete unless the store says retainOnDelete: false", async () => {
        const stateDir = "/home/me/.spin-cloud/local";
        const seen: { name: string; retain?: boolean; parent?: string; dependsOn: unknown[] }[] = [];
        const r = await evaluateStack("unit", () => {
            pulumi.runtime.registerStackTransformation((a) => {
                if (a.type === "command:local:Command") {
                    const deps = a.opts.dependsOn;
                    seen.push({ name: a.name, retain: a.opts.retainOnDelete, parent: (a.opts.parent as { __name?: string } | undefined)?.__name, dependsOn: Array.isArray(deps) ? deps : deps ? [deps] : [] });
                }
                return undefined;
            });
            const stores = new LocalAppData("data", { stateDir });
            new SpinApp("stateful", { cloud: fakeCloud({ stores, runtime: { driver: "raw_exec", spinBinary: "/home/me/.cache/spin" } }), source: STATEFUL,
                stores: { keyValue: { cache: { retainOnDelete: false } } } });
            return {};
        });
        const byName = Object.fromEntries(seen.map((x) => [x.name, x]));
        assert.deepStrictEqual(Object.keys(byName).sort(), ["data-dir", "stateful-kv-cache-data", "stateful-kv-default-data", "stateful-sqlite-default-data"]);
        // Default: Pulumi forgets the step without running its delete (preview: "delete [retain]"), the data stays until destroy.
        assert.strictEqual(byName["stateful-kv-default-data"].retain, true);
        assert.strictEqual(byName["stateful-sqlite-default-data"].retain, true);
        assert.strictEqual(byName["stateful-kv-cache-data"].retain, false, "the explicit opt-in deletes the store's files with it");
        assert.strictEqual(byName["data-dir"].retain, undefined, "the root goes with pulumi destroy");
        for (const step of ["stateful-kv-cache-data", "stateful-kv-default-data", "stateful-sqlite-default-data"]) {
            assert.strictEqual(byName[step].parent, "stateful", `${step} belongs to the app`);
            assert.strictEqual(byName[step].dependsOn.length, 1, `${step} after the root step`);
        }
        const root = appDataRoot(stateDir);
        const cmd = (name: string) => ofType(r, "command:local:Command").find((c) => c.name === name)!.inputs;
        assert.deepStrictEqual({ create: cmd("stateful-kv-cache-data").create, delete: cmd("stateful-kv-cache-data").delete }, storeDataCommands(root, `${root}/stateful/key-value/cache.db`));
        assert.deepStrictEqual({ create: cmd("stateful-sqlite-default-data").create, delete: cmd("stateful-sqlite-default-data").delete }, storeDataCommands(root, `${root}/stateful/sqlite/default.db`));
    });

    it("AWS: the app's key and tokens are in the job's secrets digest, so a new key generation rolls the job; no key value in the jobspec", async () => {
        const run = (stores: SpinAppArgs["stores"]) => evaluateStack("unit", () => {
            new SpinApp("stateful", { cloud: fakeCloud(), source: STATEFUL, stores });
            return {};
        });
        const [first, same, rotated, newToken] = [
            await run({ sqlite: { default: LIBSQL } }), await run({ sqlite: { default: LIBSQL }, accessKeyGeneration: 1 }),
            await run({ sqlite: { default: LIBSQL }, accessKeyGeneration: 2 }), await run({ sqlite: { default: { ...LIBSQL, token: "libsql-other" } } }),
        ];
        const digest = (r: MockRun) => jobOf(r, "stateful").Meta.spin_cloud_secrets as string;
        assert.match(digest(first), /^[0-9a-f]{64}$/);
        assert.strictEqual(digest(same), digest(first), "generation 1 is the default: no roll");
        assert.notStrictEqual(digest(rotated), digest(first), "a new key is a new job version");
        assert.notStrictEqual(digest(newToken), digest(first), "a new libSQL token is a new job version");
        for (const r of [first, rotated, newToken]) {
            const items = unwrapSecrets(ofType(r, "nomad:index/variable:Variable").find((v) => v.name === "stateful-stores")!.inputs.items) as Record<string, string>;
            // Keyed (the creator key fakeCloud hands out) over exactly the store Variable's items.
            assert.strictEqual(digest(r), secretsDigest("creator-keypair", storeSecretsForDigest(items) as Record<string, string>));
            const jobspec = String(ofType(r, "nomad:index/job:Job").find((j) => j.name === "stateful")!.inputs.jobspec);
            for (const value of [...Object.values(items), ...r.secretValues]) assert.ok(!jobspec.includes(value), `${value.slice(0, 8)}... not in the jobspec`);
            // Running instances keep what they read at start; the new version rolls with canaries.
            for (const t of jobOf(r, "stateful").TaskGroups[0].Tasks[0].Templates) assert.strictEqual(t.ChangeMode, "noop", t.DestPath);
        }
        assert.ok(rotated.secretValues.some((v) => v.startsWith("mock-aws-secret-")), "the mock invented the key's secret");
    });

    it("an app with secret variables and no store keeps the digest it had", async () => {
        const r = await evaluateStack("unit", () => {
            new SpinApp("hello", { cloud: fakeCloud(), source: HELLO, secretVariables: { token: "t" } });
            return {};
        });
        assert.strictEqual(jobOf(r, "hello").Meta.spin_cloud_secrets, secretsDigest("creator-keypair", { token: "t" }));
    });

    const PREBUILT = (id: string) => ({ id, parcels: [{ path: "spin.toml", sha256: "a".repeat(64) }, { path: "app.wasm", sha256: "b".repeat(64) }] });
    const LOCAL = () => fakeCloud({ stores: new LocalAppData("data", { stateDir: "/home/me/.spin-cloud/local" }), runtime: { driver: "raw_exec", spinBinary: "/home/me/.cache/spin" } });
    /** [what, the program, the error, resources of other apps whose names look like the refused app's]. */
    const bad: [string, () => void, RegExp, string[]?][] = [
        ["a label Spin refuses", () => new SpinApp("two", { cloud: fakeCloud(), bindle: PREBUILT("two/1.0.0"), stores: { keyValue: { "cart.items": {} } } }),
            /SpinApp two: stores\.keyValue\.cart\.items: store label "cart\.items" is refused by Spin: .*kebab-case or snake_case/],
        ["a local backend on AWS", () => new SpinApp("two", { cloud: fakeCloud(), source: STATEFUL, stores: { keyValue: { default: { backend: "spin" } }, sqlite: { default: LIBSQL } } }),
            /SpinApp two: stores\.keyValue\.default\.backend is "spin"; is a local backend; on aws use aws_dynamo/],
        ["an AWS option on the local target", () => new SpinApp("two", { cloud: LOCAL(), source: STATEFUL, stores: { keyValue: { cache: { deletionProtection: true } as never } } }),
            /SpinApp two: stores\.keyValue\.cache\.deletionProtection is true; is not an option of the spin backend \(backend, retainOnDelete, shareWith\); it is an option of the aws_dynamo backend \(aws\)/],
        ["an access key generation on the local target", () => new SpinApp("two", { cloud: LOCAL(), source: STATEFUL, stores: { accessKeyGeneration: 2 } }),
            /SpinApp two: stores\.accessKeyGeneration is 2; is an aws option .*the local target has no keys to rotate/],
        ["an access key generation that is not a positive integer", () => new SpinApp("two", { cloud: fakeCloud(), source: STATEFUL, stores: { sqlite: { default: LIBSQL }, accessKeyGeneration: 1.5 } }),
            /SpinApp two: stores\.accessKeyGeneration is 1\.5; must be an integer of at least 1/],
        ["an access key generation without a DynamoDB store", () => new SpinApp("two", { cloud: fakeCloud(), bindle: PREBUILT("two/1.0.0"), stores: { sqlite: { default: LIBSQL }, accessKeyGeneration: 2 } }),
            /SpinApp two: stores\.accessKeyGeneration is 2; the app has no aws_dynamo store/],
        ["a misspelt stores option", () => new SpinApp("two", { cloud: fakeCloud(), source: STATEFUL, stores: { keyvalue: {} } as never }),
            /SpinApp two: stores\.keyvalue is \{\}; is not a stores option \(keyValue, sqlite, accessKeyGeneration\)/],
        ["two local labels one case-insensitive file system would merge", () => new SpinApp("two", { cloud: LOCAL(), bindle: PREBUILT("two/1.0.0"), stores: { keyValue: { cart: {}, CART: {} } } }),
            /SpinApp two: stores\.keyValue labels "CART" and "cart" differ only in case/],
        ["two apps' stores that would be one DynamoDB table", () => {
            const cloud = fakeCloud();
            new SpinApp("one", { cloud, bindle: PREBUILT("one/1.0.0"), stores: { keyValue: { "two-kv-x": {} } } });
            new SpinApp("one-kv-two", { cloud, bindle: PREBUILT("one-kv-two/1.0.0"), stores: { keyValue: { x: {} } } });
        }, /SpinApp one-kv-two stores\.keyValue\.x: DynamoDB table is "fake-one-kv-two-kv-x", already the table of SpinApp one stores\.keyValue\.two-kv-x/,
        // App one's table, once: the second app would have registered a second (a duplicate URN too).
        ["aws:dynamodb/table:Table one-kv-two-kv-x"]],
    ];
    for (const [what, make, message, others] of bad) {
        it(`refuses ${what} before anything of the app registers`, async () => {
            await assert.rejects(evaluateStack("unit", () => { make(); return {}; }), message);
            const offending = lastRegistered().filter((x) => (x.type === "spin-cloud:apps:SpinApp" && x.name !== "one") || /^(two|one-kv-two)-/.test(x.name));
            assert.deepStrictEqual(offending.map((x) => `${x.type} ${x.name}`), others ?? []);
        });
    }
});
