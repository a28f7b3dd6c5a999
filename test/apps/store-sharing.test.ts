/**
 * Sharing a store between apps (components/apps/store-sharing.ts): refused in every way the
 * owner cannot serve it, before anything registers; served as the owner's table, file or libSQL
 * namespace, with the sharer's IAM policy naming exactly the shared table and its user tagged so.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { AppDeclaration, platformLibsqlDatabases } from "../../components/apps/app-declarations";
import { SpinApp } from "../../components/apps/spin-app";
import { checkStoreSharing, SharingApp } from "../../components/apps/store-sharing";
import { checkedAppStores } from "../../components/apps/stores";
import { appStoreIam, SHARED_WITH_TAG, SHARES_TAG } from "../../components/aws/app-store-iam";
import { spinCloudProgram } from "../../components/program";
import { AWS_KEY_ITEMS, libsqlTokenItem, spinAppStoreVariablePath } from "../../provisioning/jobs/spin-runtime-config";
import { fakeCloud } from "../harness/fake-cloud";
import { evaluateStack, lastRegistered, ofType, unwrapSecrets } from "../harness/mocks";
import { captureRegistration } from "../harness/registrations";
import { ROOT } from "../harness/stack-config";

const STATEFUL = path.join(ROOT, "test", "fixtures", "apps", "stateful");
const DECLARED = { keyValue: ["default", "cache"], sqlite: ["default"] };
const app = (name: string, stores?: SharingApp["stores"], declared = DECLARED): SharingApp => ({ name, declared, stores });
const WIKI_STORES = { keyValue: { cache: { sharedFrom: "shop" } }, sqlite: { default: { sharedFrom: "shop" } } };
/** shop's consent: both stores wiki shares. */
const SHOP_STORES = { keyValue: { cache: { shareWith: ["wiki"] } }, sqlite: { default: { shareWith: ["wiki"] } } };
const SHOP = app("shop", SHOP_STORES);

/** `<type> <name>` of what the job of `app` waits for. */
const jobDependencies = (app: string) => captureRegistration("nomad:index/job:Job", app).dependsOn;

describe("store sharing between apps", () => {
    it("refuses a sharedFrom the owner cannot serve, naming the app, the field, the value and the fix", () => {
        const cases: [SharingApp[], RegExp][] = [
            [[SHOP, app("wiki", { keyValue: { cache: { sharedFrom: 3 as unknown as string } } })], /^Error: SpinApp wiki: stores\.keyValue\.cache\.sharedFrom is 3; must be the name of the app whose store this is$/],
            // Given, but undefined: still a shared entry, refused as one.
            [[SHOP, app("wiki", { keyValue: { cache: { sharedFrom: undefined as unknown as string } } })], /sharedFrom is undefined; must be the name of the app whose store this is$/],
            [[SHOP, app("wiki", { keyValue: { cache: { sharedFrom: "shop" } } }, { keyValue: ["default"], sqlite: [] })],
                /sharedFrom is "shop"; app wiki's manifest declares no key_value_stores label "cache", so it would never use the store/],
            [[app("shop"), app("wiki", { keyValue: { cache: { sharedFrom: "shop" } } })],
                /^Error: SpinApp wiki: stores\.keyValue\.cache\.sharedFrom is "shop"; app shop does not share it with wiki: add "wiki" to shop's stores\.keyValue\.cache\.shareWith \(both apps say so\)$/],
            [[app("shop", { keyValue: { cache: { shareWith: ["wiki", "blog"] } } }), app("wiki", { keyValue: { cache: { sharedFrom: "shop" } } })],
                /^Error: SpinApp shop: stores\.keyValue\.cache\.shareWith names "blog", an app the program does not declare; list only the apps that share the store$/],
            [[app("shop", { keyValue: { cache: { shareWith: ["wiki"] } } }), app("wiki")], /shareWith names "wiki", whose stores\.keyValue\.cache does not say sharedFrom: "shop"/],
            [[app("wiki", { keyValue: { cache: { sharedFrom: "wiki" } } })], /sharedFrom is "wiki"; an app does not share from itself/],
            [[SHOP, app("wiki", { keyValue: { cache: { sharedFrom: "shpo" } } })], /sharedFrom is "shpo"; no app named "shpo" is declared in the program/],
            [[app("shop", undefined, { keyValue: ["default"], sqlite: [] }), app("wiki", { keyValue: { cache: { sharedFrom: "shop" } } })],
                /app shop's manifest declares no key_value_stores label "cache" \(its labels: default\), so it has no such store to share/],
            // A sqlite label of the owner is no key-value store.
            [[app("shop", undefined, { keyValue: [], sqlite: ["cache"] }), app("wiki", { keyValue: { cache: { sharedFrom: "shop" } } })], /declares no key_value_stores label "cache" \(its labels: none\)/],
            [[app("shop", { keyValue: { cache: { shareWith: ["blog"] } } }), app("blog", { keyValue: { cache: { sharedFrom: "shop" } } }), app("wiki", { keyValue: { cache: { sharedFrom: "blog" } } })],
                /^Error: SpinApp wiki: stores\.keyValue\.cache\.sharedFrom is "blog"; app blog does not own that store either \(it shares it from "shop"\): share from "shop", the owner$/],
            [[app("shop", { sqlite: { default: { sharedFrom: "wiki" } }, keyValue: { cache: { shareWith: ["wiki"] } } }), app("wiki", { keyValue: { cache: { sharedFrom: "shop" } }, sqlite: { default: { shareWith: ["shop"] } } })],
                /^Error: SpinApp shop: stores are shared in a circle \(shop shares from wiki shares from shop\); one app must own/],
        ];
        for (const [apps, message] of cases) assert.throws(() => checkStoreSharing(apps), message);
    });

    it("orders owners before the apps that share from them, otherwise keeps the declared order", () => {
        assert.deepEqual(checkStoreSharing([app("wiki", WIKI_STORES), app("blog"), SHOP]), ["shop", "wiki", "blog"]);
        assert.deepEqual(checkStoreSharing([app("a", { sqlite: { default: { shareWith: ["c"] } } }), app("b", { keyValue: { cache: { sharedFrom: "c" } } }),
            app("c", { sqlite: { default: { sharedFrom: "a" } }, keyValue: { cache: { shareWith: ["b"] } } })]), ["a", "c", "b"]);
    });

    it("a shared store takes no option of its own, and is resolved only against a cloud's apps", () => {
        const declared = { keyValue: ["cache"], sqlite: [] };
        assert.throws(() => checkedAppStores("shop", declared, { keyValue: { cache: { shareWith: ["shop"] } } }, "aws"), /^Error: SpinApp shop: stores\.keyValue\.cache\.shareWith is \["shop"\]; an app does not share a store with itself$/);
        assert.throws(() => checkedAppStores("shop", declared, { keyValue: { cache: { shareWith: "wiki" as never } } }, "aws"), /shareWith is "wiki"; must be a list of app names/);
        assert.throws(() => checkedAppStores("shop", declared, { keyValue: { cache: { shareWith: ["wiki", "wiki"] } } }, "aws"), /names "wiki" twice/);
        assert.throws(() => checkedAppStores("wiki", declared, { keyValue: { cache: { sharedFrom: "shop", consistentRead: false } as never } }, "aws", () => { throw new Error("not reached"); }),
            /^Error: SpinApp wiki: stores\.keyValue\.cache\.consistentRead is false; a shared store takes no option but sharedFrom: its backend and options are the owner's \(app "shop"\)$/);
        assert.throws(() => checkedAppStores("wiki", declared, { keyValue: { cache: { sharedFrom: "shop" } } }, "aws"), /resolved against the apps of a cloud/);
        const owned = { label: "cache", args: { backend: "aws_dynamo" as const, consistentRead: false, retainOnDelete: true } };
        const s = checkedAppStores("wiki", declared, { keyValue: { cache: { sharedFrom: "shop" } } }, "aws", (sharer, kind, label) => {
            assert.deepEqual([sharer.name, kind, label], ["wiki", "keyValue", "cache"]);
            return owned;
        });
        assert.deepEqual(s.keyValue, [{ ...owned, sharedFrom: "shop" }]);
        assert.equal(s.accessKeyGeneration, 1, "the sharer reaches DynamoDB with a key of its own");
    });

    it("AWS: the owner's table and namespace, a policy naming exactly the shared table, the user tagged, no store of the sharer's own", async () => {
        const r = await evaluateStack("dev", () => {
            const waits = jobDependencies("wiki");
            const variables = ["shop", "wiki"].map((a) => captureRegistration("nomad:index/variable:Variable", `${a}-stores`).dependsOn);
            const cloud = fakeCloud({}, { libsqlDatabases: [{ app: "shop", label: "default" }] });
            new SpinApp("shop", { cloud, source: STATEFUL, stores: SHOP_STORES });
            new SpinApp("wiki", { cloud, source: STATEFUL, stores: WIKI_STORES });
            return { waits: waits(), variableWaits: variables.map((v) => v()) };
        });
        // Both apps' tokens are written once the server trusts their key (a rotation rolls sqld first).
        for (const deps of r.outputs.variableWaits as string[][]) assert.ok(deps.includes("spin-cloud:platform:LibsqlServer fake-app-stores-libsql"), JSON.stringify(deps));
        // wiki's job starts once its Variable, its policy, shop's table and the libSQL server exist.
        for (const dep of ["nomad:index/variable:Variable wiki-stores", "aws:iam/userPolicy:UserPolicy wiki-stores", "aws:dynamodb/table:Table shop-kv-cache", "spin-cloud:platform:LibsqlServer fake-app-stores-libsql"]) {
            assert.ok((r.outputs.waits as string[]).includes(dep), `${dep} in ${JSON.stringify(r.outputs.waits)}`);
        }
        const tables = ofType(r, "aws:dynamodb/table:Table");
        assert.deepEqual(tables.map((t) => t.name).sort(), ["shop-kv-cache", "shop-kv-default", "wiki-kv-default"]);
        const arn = (name: string) => tables.find((t) => t.name === name)!.state.arn;
        const policy = JSON.parse(String(ofType(r, "aws:iam/userPolicy:UserPolicy").find((p) => p.name === "wiki-stores")!.inputs.policy));
        assert.deepEqual(policy.Statement.find((s: { Sid: string }) => s.Sid === "AppTables").Resource, [arn("shop-kv-cache"), arn("wiki-kv-default")].sort());
        const users = Object.fromEntries(ofType(r, "aws:iam/user:User").map((u) => [u.name, u.inputs.tags as Record<string, string>]));
        assert.equal(users["wiki-stores"][SHARES_TAG], "shop/cache");
        assert.equal(users["shop-stores"][SHARES_TAG], undefined);
        const tableTags = Object.fromEntries(tables.map((t) => [t.name, (t.inputs.tags as Record<string, string>)[SHARED_WITH_TAG]]));
        assert.deepEqual(tableTags, { "shop-kv-cache": "wiki", "shop-kv-default": undefined, "wiki-kv-default": undefined }, "the owner's consent on the shared table only");
        // One marker (the owner's), one namespace; wiki's token is one for shop's namespace.
        assert.deepEqual(ofType(r, "spin-cloud:stores:LibsqlDatabase").map((d) => d.name), ["shop-sqlite-default"]);
        const items = unwrapSecrets(ofType(r, "nomad:index/variable:Variable").find((v) => v.inputs.path === spinAppStoreVariablePath("app-wiki"))!.inputs.items) as Record<string, string>;
        assert.deepEqual(Object.keys(items).sort(), [AWS_KEY_ITEMS.accessKeyId, AWS_KEY_ITEMS.secretAccessKey, libsqlTokenItem("default")].sort());
        assert.equal(JSON.parse(Buffer.from(items[libsqlTokenItem("default")].split(".")[1], "base64url").toString()).id, "shop-default");
        const wikiJob = String(ofType(r, "nomad:index/job:Job").find((j) => j.name === "wiki")!.inputs.jobspec);
        assert.ok(wikiJob.includes("fake-shop-kv-cache") && wikiJob.includes("fake-wiki-kv-default") && !wikiJob.includes("fake-wiki-kv-cache"), "wiki's runtime config names shop's cache table");
        assert.ok(wikiJob.includes("http://shop-default.libsql.service.consul:8090") && !wikiJob.includes("wiki-default.libsql"), "and shop's namespace");
    });

    it("refuses a sharer constructed before its owner on the cloud, before it registers, naming the fix", async () => {
        await assert.rejects(evaluateStack("dev", () => {
            const cloud = fakeCloud();
            new SpinApp("wiki", { cloud, source: STATEFUL, stores: { keyValue: { cache: { sharedFrom: "shop" } } } });
            return {};
        }), /SpinApp wiki: stores\.keyValue\.cache\.sharedFrom is "shop"; no app named "shop" is declared on this cloud before it \(declare the owner first/);
        assert.deepEqual(lastRegistered().filter((x) => x.type === "spin-cloud:apps:SpinApp").map((x) => x.name), []);
    });

    it("the program: a sharer declared first still runs on its owner's stores; the platform server holds only the owner's database", async () => {
        const apps: AppDeclaration[] = [{ name: "wiki", source: STATEFUL, stores: WIKI_STORES }, { name: "shop", source: STATEFUL, stores: SHOP_STORES }];
        assert.deepEqual(platformLibsqlDatabases([], apps), [{ app: "shop", label: "default" }]);
        const stateDir = "/home/u/.spin-cloud/local";
        const r = await evaluateStack("local", () => {
            const waits = jobDependencies("wiki");
            return { ...spinCloudProgram({ apps }), waits: waits() };
        }, { config: { localStateDir: stateDir, localCacheDir: "/home/u/.cache/spin-cloud" } });
        for (const step of ["shop-kv-cache-data", "shop-sqlite-default-data", "wiki-kv-default-data"]) {
            assert.ok((r.outputs.waits as string[]).includes(`command:local:Command ${step}`), `wiki's job waits for ${step}: ${JSON.stringify(r.outputs.waits)}`);
        }
        const steps = ofType(r, "command:local:Command").map((c) => c.name).filter((n) => n.endsWith("-data"));
        assert.deepEqual(steps.sort(), ["shop-kv-cache-data", "shop-kv-default-data", "shop-sqlite-default-data", "wiki-kv-default-data"]);
        const wikiJob = String(ofType(r, "nomad:index/job:Job").find((j) => j.name === "wiki")!.inputs.jobspec);
        for (const [file, used] of [["shop/key-value/cache.db", true], ["shop/sqlite/default.db", true], ["wiki/key-value/default.db", true], ["wiki/key-value/cache.db", false], ["wiki/sqlite/default.db", false]] as const) {
            assert.equal(wikiJob.includes(`${stateDir}/app-data/${file}`), used, file);
        }
        await assert.rejects(evaluateStack("local", () => spinCloudProgram({ apps: [{ name: "wiki", source: STATEFUL, stores: WIKI_STORES }] }), { config: { localStateDir: stateDir, localCacheDir: "/c" } }),
            /no app named "shop" is declared in the program/);
        assert.deepEqual(lastRegistered().filter((x) => x.type !== "pulumi:pulumi:Stack"), [], "nothing registered");
    });

    it("keeps both tags within AWS's 256 characters, or says which limit, before the program registers anything", async () => {
        const owner = "o".repeat(30);
        // `<owner>/<label>` with a 30-character owner and labels store-a..: 39 characters each, 40 with the space.
        const shares = (n: number) => Array.from({ length: n }, (_, i) => ({ label: `store-${String.fromCharCode(97 + i)}${"x".repeat(1)}`, sharedFrom: owner }));
        assert.equal(appStoreIam("c", "eu-west-1", "wiki", shares(2)).sharesTag, `${owner}/store-ax ${owner}/store-bx`);
        assert.equal(appStoreIam("c", "eu-west-1", "wiki", []).sharesTag, undefined);
        // 6 entries: 6 × 39 + 5 = 239 characters; 7: 279.
        assert.equal(appStoreIam("c", "eu-west-1", "wiki", shares(6)).sharesTag!.length, 239);
        assert.throws(() => appStoreIam("c", "eu-west-1", "wiki", shares(7)), /^Error: SpinApp wiki: stores\.keyValue's sharedFrom makes the tag spin-cloud:shares 279 characters \(7 entries\); AWS holds a tag value to 256/);
        const apps = (n: number) => Array.from({ length: n }, (_, i) => `app-${String(i).padStart(3, "0")}`);
        // 32 names of 7 characters and 31 spaces: 255; 33: 263.
        assert.equal(appStoreIam("c", "eu-west-1", "shop", [{ label: "cache", shareWith: apps(32) }]).sharedWithTags.cache.length, 255);
        assert.throws(() => appStoreIam("c", "eu-west-1", "shop", [{ label: "cache", shareWith: apps(33) }]), /stores\.keyValue\.cache\.shareWith makes the tag spin-cloud:shared-with 263 characters/);
        // The program checks every declared app's names before SpinCloud registers anything.
        const many = Array.from({ length: 18 }, (_, i) => `store${i}`);
        await assert.rejects(evaluateStack("dev", () => spinCloudProgram({ apps: [{ name: "shop", bindle: { id: "shop/1.0.0", parcels: [] }, stores: { keyValue: Object.fromEntries(many.map((l) => [l, {}])) } }] })),
            /SpinApp shop: stores\.keyValue has 18 DynamoDB stores \(its own and shared\); its IAM user's policy, which names each table, would take up to \d+ characters, over IAM's 2048/);
        assert.deepEqual(lastRegistered().filter((x) => x.type !== "pulumi:pulumi:Stack"), [], "nothing registered");
    });
});
