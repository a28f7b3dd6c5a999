import { strict as assert } from "assert";
import { parse } from "smol-toml";
import { bindleApiUrl } from "../../provisioning/jobs/bindle-job";
import { NomadTask } from "../../provisioning/jobs/nomad-api";
import { spinAppJob, SpinAppJobInput } from "../../provisioning/jobs/spin-app-job";
import {
    AWS_KEY_ITEMS, libsqlTokenItem, NOBODY_IDS, renderSpinRuntimeConfigTemplate, SPIN_AWS_CREDENTIALS_ENV_FILE, SPIN_RUNTIME_CONFIG_ARG,
    SPIN_RUNTIME_CONFIG_FILE, SpinAppStores, spinAppStoreVariablePath, spinRuntimeConfig,
} from "../../provisioning/jobs/spin-runtime-config";
import { storeLabelError } from "../../provisioning/jobs/spin-store-labels";
import { renderAsConsulTemplate, runtimeConfigErrors } from "../harness/spin-runtime-config-schema";
import { assertValidNomadJob } from "../harness/nomad-job-schema";

const LOCAL: SpinAppStores = {
    keyValue: { default: { type: "spin", path: "/home/u/.spin-cloud/local/app-data/shop/key-value/default.db" }, "cart-items": { type: "spin", path: "/home/u/.spin-cloud/local/app-data/shop/key-value/cart-items.db" } },
    sqlite: { default: { type: "spin", path: "/home/u/.spin-cloud/local/app-data/shop/sqlite/default.db" } },
};
const AWS: SpinAppStores = {
    keyValue: { default: { type: "aws_dynamo", table: "spin-cloud-dev-shop-kv-default", region: "eu-west-1", consistentRead: true } },
    sqlite: { orders: { type: "libsql", url: "http://libsql.service.consul:8080" }, "audit-log": { type: "libsql", url: "https://db.example.com" } },
};
const TOKENS = { [libsqlTokenItem("orders")]: "tok\"en<1>&\\", [libsqlTokenItem("audit-log")]: "t2" };

const BASE: SpinAppJobInput = {
    name: "shop", datacenters: ["dc1"], architecture: "arm64", instances: 2, resources: { cpuMhz: 100, memoryMb: 128 },
    bindle: { baseUrl: bindleApiUrl(), bindleId: "shop/1.0.0", parcels: [{ path: "spin.toml", sha256: "a".repeat(64) }] },
    routing: { kind: "pathPrefix", prefix: "/shop" },
};
/** smol-toml tables have a null prototype; compare plain copies. */
const toml = (text: string): any => JSON.parse(JSON.stringify(parse(text)));
const task = (input: SpinAppJobInput): NomadTask => spinAppJob(input).TaskGroups[0].Tasks[0];

describe("spin runtime config", () => {
    it("maps each local label to a spin file, valid for Spin 3.4's structs", () => {
        const text = renderSpinRuntimeConfigTemplate("app-shop", LOCAL, "raw_exec");
        assert.doesNotMatch(text, /\{\{/, "no secret, no template");
        assert.deepEqual(runtimeConfigErrors(text), []);
        assert.deepEqual(toml(text), {
            key_value_store: {
                "cart-items": { type: "spin", path: "/home/u/.spin-cloud/local/app-data/shop/key-value/cart-items.db" },
                default: { type: "spin", path: "/home/u/.spin-cloud/local/app-data/shop/key-value/default.db" },
            },
            sqlite_database: { default: { type: "spin", path: "/home/u/.spin-cloud/local/app-data/shop/sqlite/default.db" } },
        });
    });

    it("maps AWS labels to aws_dynamo and libsql; the token comes from the store Variable, never the jobspec", () => {
        const template = renderSpinRuntimeConfigTemplate("app-shop", AWS, "exec");
        assert.ok(template.startsWith(`{{ with nomadVar "${spinAppStoreVariablePath("app-shop")}" }}`));
        assert.equal(spinAppStoreVariablePath("app-shop"), "nomad/jobs/app-shop/app/spin");
        for (const secret of Object.values(TOKENS)) assert.ok(!template.includes(secret));
        const rendered = renderAsConsulTemplate(template, TOKENS);
        assert.deepEqual(runtimeConfigErrors(rendered), []);
        const doc = toml(rendered);
        assert.deepEqual(doc.key_value_store, { default: { type: "aws_dynamo", table: "spin-cloud-dev-shop-kv-default", region: "eu-west-1", consistent_read: true } });
        assert.deepEqual(doc.sqlite_database.orders, { type: "libsql", url: "http://libsql.service.consul:8080", token: TOKENS[libsqlTokenItem("orders")] });
        assert.equal(doc.sqlite_database["audit-log"].token, "t2");
        assert.ok(!("access_key" in doc.key_value_store.default), "no static keys in the file");
    });

    it("the transcribed structs refuse what Spin refuses (so the checks above can fail)", () => {
        const cases: [string, RegExp][] = [
            ['[key_value_store.a]\ntype = "aws_dynamo"\ntable = "t"\n', /region: required/],
            ['[key_value_store.a]\ntype = "redis_typo"\n', /not a type Spin 3.4 registers/],
            ['[key_value_store.a]\ntype = "spin"\npth = "/x"\n', /silently ignored/],
            ['[sqlite_database.a]\ntype = "libsql"\nurl = "libsql://x"\ntoken = "t"\n', /does not start with/],
            ['[sqlite_database.a]\ntype = "libsql"\nurl = "https://x"\n', /token: required/],
            ['[sqlite_database.a]\ntype = "spin"\npath = "/x"\nmode = "wal"\n', /refused by Spin/],
            ['[key_value_store.a]\ntype = "aws_dynamo"\ntable = "t"\nregion = "r"\nconsistent_read = "yes"\n', /must be a boolean/],
            ['state = "x"\n', /unused runtime config key/],
        ];
        for (const [text, error] of cases) assert.match(runtimeConfigErrors(text).join("\n"), error, text);
    });

    it("adds the flag, the template (owned by nobody under exec) and the AWS env to the job", () => {
        const t = task({ ...BASE, stores: AWS });
        assertValidNomadJob(spinAppJob({ ...BASE, stores: AWS }), "stores");
        const args = t.Config.args as string[];
        assert.deepEqual(args.slice(-2), ["--runtime-config-file", SPIN_RUNTIME_CONFIG_ARG]);
        const config = t.Templates!.find((x) => x.DestPath === SPIN_RUNTIME_CONFIG_FILE)!;
        assert.deepEqual({ ...config, EmbeddedTmpl: "" }, { EmbeddedTmpl: "", DestPath: SPIN_RUNTIME_CONFIG_FILE, ChangeMode: "noop", Perms: "400", Uid: NOBODY_IDS.uid, Gid: NOBODY_IDS.gid });
        const creds = t.Templates!.find((x) => x.DestPath === SPIN_AWS_CREDENTIALS_ENV_FILE)!;
        assert.equal(creds.Envvars, true);
        // A new key rolls out as a new job version (SpinApp's digest), never as a restart of every instance at once.
        assert.equal(creds.ChangeMode, "noop");
        assert.match(creds.EmbeddedTmpl, new RegExp(`AWS_ACCESS_KEY_ID=\\{\\{ \\.${AWS_KEY_ITEMS.accessKeyId}\\.Value \\| toJSON \\}\\}`));
        assert.match(creds.EmbeddedTmpl, new RegExp(`AWS_SECRET_ACCESS_KEY=\\{\\{ \\.${AWS_KEY_ITEMS.secretAccessKey}\\.Value \\| toJSON \\}\\}`));
        assert.equal(t.Env!.AWS_REGION, "eu-west-1");
        assert.equal(t.Env!.AWS_EC2_METADATA_DISABLED, "true");
        const local = task({ ...BASE, runtime: { driver: "raw_exec", spinBinary: "/opt/spin" }, stores: LOCAL });
        const localConfig = local.Templates!.find((x) => x.DestPath === SPIN_RUNTIME_CONFIG_FILE)!;
        assert.equal(localConfig.Uid, undefined, "raw_exec: the agent's own user");
        assert.equal(local.Env!.AWS_REGION, undefined);
    });

    it("leaves a job without stores exactly as before", () => {
        assert.deepEqual(spinAppJob({ ...BASE, stores: {} }), spinAppJob(BASE));
        assert.ok(!(task(BASE).Config.args as string[]).includes("--runtime-config-file"));
    });

    it("refuses bad labels, backends of the other target, shared files and bad options before building", () => {
        const bad: [SpinAppJobInput, RegExp][] = [
            [{ ...BASE, stores: { keyValue: { "b@d": AWS.keyValue!.default } } }, /store label "b@d" is refused by Spin/],
            [{ ...BASE, stores: { keyValue: { a_b: AWS.keyValue!.default, "a-b_c": AWS.keyValue!.default } } }, /"a-b_c"/],
            [{ ...BASE, stores: LOCAL }, /stores\.keyValue\.cart-items\.type is "spin"; the exec runtime takes aws_dynamo/],
            [{ ...BASE, runtime: { driver: "raw_exec", spinBinary: "/opt/spin" }, stores: AWS }, /stores\.keyValue\.default\.type is "aws_dynamo"; the raw_exec runtime takes spin/],
            [{ ...BASE, runtime: { driver: "raw_exec", spinBinary: "/opt/spin" }, stores: { keyValue: { a: { type: "spin", path: "/d/A.db" } }, sqlite: { a: { type: "spin", path: "/d/a.db" } } } }, /keyValue\.a\.path is "\/d\/A\.db"; must differ from stores\.sqlite\.a\.path \(\/d\/a\.db\), also ignoring case/],
            [{ ...BASE, runtime: { driver: "raw_exec", spinBinary: "/opt/spin" }, stores: { keyValue: { a: { type: "spin", path: "data/a.db" } } } }, /path is "data\/a.db"; must be an absolute/],
            [{ ...BASE, runtime: { driver: "raw_exec", spinBinary: "/opt/spin" }, stores: { keyValue: { a: { type: "spin", path: "/d/../a.db" } } } }, /without \. or \.\./],
            [{ ...BASE, stores: { keyValue: { a: { type: "aws_dynamo", table: "t{{x}}", region: "eu-west-1" } } } }, /table is "t\{\{x\}\}"/],
            [{ ...BASE, stores: { keyValue: { a: { type: "aws_dynamo", table: "tab", region: "eu-west-1" }, b: { type: "aws_dynamo", table: "tab2", region: "us-east-1" } } } }, /one region/],
            [{ ...BASE, stores: { sqlite: { a: { type: "libsql", url: "https://user:pw@db" } } } }, /url is "https:\/\/user:pw@db"/],
            [{ ...BASE, env: { AWS_REGION: "x" }, stores: { keyValue: { a: { type: "aws_dynamo", table: "tab", region: "eu-west-1" } } } }, /env\.AWS_REGION .*set by the job/],
        ];
        for (const [input, error] of bad) assert.throws(() => spinAppJob(input), error);
    });

    it("checks labels exactly as Spin 3.4's kebab_or_snake_case (crates/serde/src/id.rs)", () => {
        // v2.rs tests: default, snake_case, kebab-case pass; b@dlabel and camelCase fail; id.rs test_valid_snake_ids.
        for (const ok of ["default", "snake_case", "kebab-case", "mixed_CASE_words", "letters1_then2_numbers345", "MIXED-case", "a", "A1"]) {
            assert.equal(storeLabelError(ok), undefined, ok);
        }
        for (const no of ["b@dlabel", "camelCase", "", "a-b_c", "1abc", "a--b", "-a", "a_", "Ab", "caf\u00e9", "a b", "a.b"]) {
            assert.notEqual(storeLabelError(no), undefined, JSON.stringify(no));
        }
        assert.equal(spinRuntimeConfig({ keyValue: { "MIXED-case": { type: "spin", path: "/d/m.db" } } }, "raw_exec").key_value_store["MIXED-case"].path, "/d/m.db");
    });
});
