import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { AwsAppStores } from "../../components/aws/app-stores";
import { appStoresPolicy, appStoresPolicyMaxLength, appStoreUserName, DYNAMO_ACTIONS, DYNAMO_TABLE_MAX, dynamoTableName } from "../../components/aws/app-store-iam";
import { checkedAppStores } from "../../components/apps/stores";
import { nomadProvider } from "../../components/nomad";
import { AWS_KEY_ITEMS, libsqlTokenItem, renderSpinRuntimeConfigTemplate, spinAppStoreVariablePath } from "../../provisioning/jobs/spin-runtime-config";
import { evaluateStack, isSecretInput, MockResource, MockRun, ofType, unwrapSecrets } from "../harness/mocks";
import { renderAsConsulTemplate, runtimeConfigErrors } from "../harness/spin-runtime-config-schema";

const ARGS = { clusterName: "spin-cloud-dev", region: "eu-west-1", deletionProtection: false };
const SHOP = { keyValue: ["default", "cart"], sqlite: [] };
const BLOG = { keyValue: ["default"], sqlite: ["posts"] };

async function evaluate(deletionProtection = false) {
    return evaluateStack("dev", () => {
        const stores = new AwsAppStores("app-stores", { ...ARGS, deletionProtection });
        const component = (type: string, name: string) => new pulumi.ComponentResource(type, name, {});
        const nomad = { provider: nomadProvider("nomad", { address: "https://nomad.test:4646", caPem: "ca", secretId: "t" }), leader: component("test:index:Leader", "leader") };
        const shop = checkedAppStores("shop", SHOP, { keyValue: { cart: { retainOnDelete: false, consistentRead: false } } }, "aws");
        const blog = checkedAppStores("blog", BLOG, { sqlite: { posts: { backend: "libsql", url: "https://db.example.com", token: pulumi.secret("libsql-token-value") } } }, "aws");
        stores.provision("shop", "app-shop", shop, nomad, component("test:index:App", "shop"));
        stores.provision("blog", "app-blog", blog, nomad, component("test:index:App", "blog"));
        return { shop: stores.backends("shop", shop), blog: stores.backends("blog", blog) };
    });
}

const policyOf = (resources: MockResource[], app: string) => {
    const p = resources.find((r) => r.type === "aws:iam/userPolicy:UserPolicy" && r.name === `${app}-stores`)!;
    return JSON.parse(p.inputs.policy as string) as ReturnType<typeof appStoresPolicy>;
};

describe("AWS app stores", () => {
    it("creates one encrypted table per store, point-in-time recovery on, deletion protection where asked", async () => {
        const r = await evaluate();
        const tables = ofType(r, "aws:dynamodb/table:Table");
        assert.deepEqual(tables.map((t) => t.inputs.name).sort(), ["spin-cloud-dev-blog-kv-default", "spin-cloud-dev-shop-kv-cart", "spin-cloud-dev-shop-kv-default"]);
        const [key] = ofType(r, "aws:kms/key:Key");
        for (const t of tables) {
            assert.deepEqual(t.inputs.serverSideEncryption, { enabled: true, kmsKeyArn: key.state.arn });
            assert.deepEqual(t.inputs.pointInTimeRecovery, { enabled: true });
            assert.equal(t.inputs.hashKey, "PK");
            assert.deepEqual(t.inputs.attributes, [{ name: "PK", type: "S" }]);
            assert.equal(t.inputs.deletionProtectionEnabled, false);
        }
        assert.equal(key.inputs.enableKeyRotation, true);
        const prod = await evaluate(true);
        for (const t of ofType(prod, "aws:dynamodb/table:Table")) assert.equal(t.inputs.deletionProtectionEnabled, true, `${t.name} protected in prod`);
    });

    it("gives each app a policy naming only its own tables, the key only through DynamoDB", async () => {
        const r = await evaluate();
        const arns = (app: string) => ofType(r, "aws:dynamodb/table:Table").filter((t) => t.name.startsWith(`${app}-`)).map((t) => t.state.arn as string).sort();
        for (const app of ["shop", "blog"]) {
            const policy = policyOf(r.resources, app);
            const tables = policy.Statement.find((s) => s.Sid === "AppTables")!;
            assert.deepEqual(tables.Resource, arns(app));
            assert.deepEqual(tables.Action, [...DYNAMO_ACTIONS]);
            const other = app === "shop" ? "blog" : "shop";
            const text = JSON.stringify(policy);
            for (const a of arns(other)) assert.ok(!text.includes(a), `${app}'s policy does not name ${a}`);
            for (const st of policy.Statement) assert.ok(st.Resource.every((res) => !res.includes("*")), `${st.Sid}: no wildcard resource`);
            const kms = policy.Statement.find((s) => s.Sid === "AppDataKeyThroughDynamoDB")!;
            assert.deepEqual(kms.Condition, { StringEquals: { "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com" } });
        }
        assert.throws(() => appStoresPolicy(["arn:aws:dynamodb:eu-west-1:1:table/*"], "k", "eu-west-1"), /wildcards/);
    });

    it("puts keys and tokens in the app's store Variable as secrets; the rendered config passes Spin's structs", async () => {
        const r = await evaluate();
        const vars = Object.fromEntries(ofType(r, "nomad:index/variable:Variable").map((v) => [v.inputs.path, v]));
        assert.deepEqual(Object.keys(vars).sort(), [spinAppStoreVariablePath("app-blog"), spinAppStoreVariablePath("app-shop")]);
        const shop = vars[spinAppStoreVariablePath("app-shop")];
        assert.ok(isSecretInput(shop.inputs.items) || Object.values(shop.inputs.items as object).some(isSecretInput));
        const shopItems = unwrapSecrets(shop.inputs.items) as Record<string, string>;
        assert.deepEqual(Object.keys(shopItems).sort(), [AWS_KEY_ITEMS.accessKeyId, AWS_KEY_ITEMS.secretAccessKey]);
        const [accessKey] = ofType(r, "aws:iam/accessKey:AccessKey").filter((k) => k.name === "shop-stores");
        // The mock's access key id (AKIA + 16) and its invented secret (test/harness/mocks.ts).
        assert.match(shopItems[AWS_KEY_ITEMS.accessKeyId], /^AKIA[0-9A-F]{16}$/);
        assert.equal(shopItems[AWS_KEY_ITEMS.secretAccessKey], accessKey.state.secret);
        assert.ok(r.secretValues.includes(shopItems[AWS_KEY_ITEMS.secretAccessKey]));
        const blogItems = unwrapSecrets(vars[spinAppStoreVariablePath("app-blog")].inputs.items) as Record<string, string>;
        assert.equal(blogItems[libsqlTokenItem("posts")], "libsql-token-value");
        const backends = r.outputs as Record<string, Parameters<typeof renderSpinRuntimeConfigTemplate>[1]>;
        assert.equal(backends.shop.keyValue!.cart.type === "aws_dynamo" && backends.shop.keyValue!.cart.consistentRead, false);
        assert.equal(backends.shop.keyValue!.default.type === "aws_dynamo" && backends.shop.keyValue!.default.consistentRead, true);
        for (const [app, items] of [["shop", shopItems], ["blog", blogItems]] as const) {
            const template = renderSpinRuntimeConfigTemplate(`app-${app}`, backends[app], "exec");
            assert.ok(!template.includes("libsql-token-value"));
            assert.deepEqual(runtimeConfigErrors(renderAsConsulTemplate(template, items)), []);
        }
        const users = ofType(r, "aws:iam/user:User");
        assert.deepEqual(users.map((u) => u.inputs.name).sort(), ["spin-cloud-dev-app-blog", "spin-cloud-dev-app-shop"]);
    });

    it("rotates an app's key by generation: a new AccessKey resource, the old one left to be deleted last", async () => {
        const run = (generation?: number) => evaluateStack("dev", () => {
            const stores = new AwsAppStores("app-stores", ARGS);
            const nomad = { provider: nomadProvider("nomad", { address: "https://nomad.test:4646", caPem: "ca", secretId: "t" }), leader: new pulumi.ComponentResource("test:index:Leader", "leader") };
            const shop = checkedAppStores("shop", SHOP, generation === undefined ? undefined : { accessKeyGeneration: generation }, "aws");
            const out = stores.provision("shop", "app-shop", shop, nomad, new pulumi.ComponentResource("test:index:App", "shop"));
            return { secrets: out.secrets, resources: pulumi.all(out.resources.map((x) => x.urn)) };
        });
        const items = (r: MockRun) => unwrapSecrets(ofType(r, "nomad:index/variable:Variable")[0].inputs.items) as Record<string, string>;
        const [first, again, second] = [await run(), await run(1), await run(2)];
        // Generation 1 keeps the name the key always had: no rotation on upgrade.
        assert.deepEqual(ofType(first, "aws:iam/accessKey:AccessKey").map((k) => k.name), ["shop-stores"]);
        assert.deepEqual(ofType(second, "aws:iam/accessKey:AccessKey").map((k) => k.name), ["shop-stores-key-2"]);
        assert.deepEqual(items(again), items(first));
        assert.notEqual(items(second)[AWS_KEY_ITEMS.accessKeyId], items(first)[AWS_KEY_ITEMS.accessKeyId]);
        assert.notEqual(items(second)[AWS_KEY_ITEMS.secretAccessKey], items(first)[AWS_KEY_ITEMS.secretAccessKey]);
        // The same items the Variable gets are what SpinApp digests into the job.
        assert.deepEqual(Object.keys(unwrapSecrets(second.outputs.secrets) as object).sort(), [AWS_KEY_ITEMS.accessKeyId, AWS_KEY_ITEMS.secretAccessKey]);
        // The job waits for the store Variable and for the user's policy (the key reaches the tables only then).
        assert.deepEqual((second.outputs.resources as string[]).map((urn) => urn.split("::")[2]), ["test:index:App$nomad:index/variable:Variable", "test:index:App$aws:iam/userPolicy:UserPolicy"]);
    });

    it("refuses two stores that would be one table (names holding -kv-), before the second app registers", async () => {
        await evaluateStack("dev", () => {
            const stores = new AwsAppStores("app-stores", ARGS);
            stores.backends("a", checkedAppStores("a", { keyValue: ["b-kv-c"], sqlite: [] }, undefined, "aws"));
            assert.doesNotThrow(() => stores.backends("a", checkedAppStores("a", { keyValue: ["b-kv-c"], sqlite: [] }, undefined, "aws")), "the same store again");
            assert.throws(() => stores.backends("a-kv-b", checkedAppStores("a-kv-b", { keyValue: ["c"], sqlite: [] }, undefined, "aws")),
                /SpinApp a-kv-b stores\.keyValue\.c: DynamoDB table is "spin-cloud-dev-a-kv-b-kv-c", already the table of SpinApp a stores\.keyValue\.b-kv-c; one table cannot back two stores/);
            return {};
        });
    });

    it("refuses an app whose stores' policy could exceed IAM's 2048 characters for a user's inline policies, before it registers", async () => {
        const labels = (n: number) => Array.from({ length: n }, (_, i) => `store${i}`);
        await evaluateStack("dev", () => {
            const stores = new AwsAppStores("app-stores", ARGS);
            assert.doesNotThrow(() => stores.backends("shop", checkedAppStores("shop", { keyValue: labels(17), sqlite: [] }, undefined, "aws")));
            assert.throws(() => stores.backends("shop2", checkedAppStores("shop2", { keyValue: labels(18), sqlite: [] }, undefined, "aws")),
                /^Error: SpinApp shop2: stores\.keyValue has 18 DynamoDB stores \(its own and shared\); its IAM user's policy, which names each table, would take up to (\d+) characters, over IAM's 2048/);
            return {};
        });
        // The bound is the real document's length with the longest partition, account and key id.
        const names = labels(3).map((l) => dynamoTableName("spin-cloud-dev", "shop", l));
        const real = JSON.stringify(appStoresPolicy(names.map((n) => `arn:aws:dynamodb:eu-west-1:123456789012:table/${n}`), "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "eu-west-1")).length;
        assert.equal(appStoresPolicyMaxLength(names, "eu-west-1"), real + "-us-gov".length * 4);
    });

    it("keeps names within AWS limits, deterministic and distinct", () => {
        const long = "x".repeat(300);
        const a = dynamoTableName("c", "app", long);
        assert.equal(a.length, DYNAMO_TABLE_MAX);
        assert.notEqual(a, dynamoTableName("c", "app", long + "y"));
        assert.equal(a, dynamoTableName("c", "app", long));
        assert.match(a, /^[A-Za-z0-9_.-]+$/);
        assert.ok(appStoreUserName("spin-cloud-" + "p".repeat(60), "app").length <= 64);
    });
});
