import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readSpinApp } from "../../components/apps/manifest";
import { checkedAppStores, isPlatformLibsql } from "../../components/apps/stores";

const HELLO = path.join(__dirname, "..", "fixtures", "apps", "hello");

/** A copy of the hello fixture whose components use the given store lines. */
function appWith(web: string, api = ""): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spin-stores-"));
    fs.cpSync(HELLO, dir, { recursive: true });
    const file = path.join(dir, "spin.toml");
    const toml = fs.readFileSync(file, "utf8")
        .replace('[component.web]\n', `[component.web]\n${web}\n`)
        .replace('[component.api]\n', `[component.api]\n${api}\n`);
    fs.writeFileSync(file, toml);
    return dir;
}

describe("app stores from spin.toml", () => {
    it("reads each component's key_value_stores and sqlite_databases, and the app's union", () => {
        const pkg = readSpinApp(appWith('key_value_stores = ["default", "cart-items", "default"]\nsqlite_databases = ["orders"]', 'key_value_stores = ["sessions_v2"]'));
        const byId = Object.fromEntries(pkg.components.map((c) => [c.id, c]));
        assert.deepEqual(byId.web.keyValueStores, ["cart-items", "default"]);
        assert.deepEqual(byId.web.sqliteDatabases, ["orders"]);
        assert.deepEqual(byId.api.keyValueStores, ["sessions_v2"]);
        assert.deepEqual(byId.api.sqliteDatabases, []);
        assert.deepEqual(pkg.keyValueStores, ["cart-items", "default", "sessions_v2"]);
        assert.deepEqual(pkg.sqliteDatabases, ["orders"]);
        assert.deepEqual(readSpinApp(HELLO).keyValueStores, []);
    });

    it("refuses labels Spin refuses, naming the manifest file, component and rule", () => {
        for (const [line, bad] of [['key_value_stores = ["b@dlabel"]', "b@dlabel"], ['sqlite_databases = ["camelCase"]', "camelCase"], ['key_value_stores = ["a-b_c"]', "a-b_c"]]) {
            const dir = appWith(line);
            assert.throws(() => readSpinApp(dir), (e: Error) => {
                assert.ok(e.message.startsWith(path.join(dir, "spin.toml")), e.message);
                assert.match(e.message, /component "web" (key_value_stores|sqlite_databases): store label/);
                assert.ok(e.message.includes(JSON.stringify(bad)) && e.message.includes("kebab-case or snake_case"), e.message);
                return true;
            });
        }
        assert.throws(() => readSpinApp(appWith('key_value_stores = "default"')), /key_value_stores must be an array of strings/);
    });

    it("fills defaults per target and keeps data unless a store opts in to deletion", () => {
        const s = checkedAppStores("shop", { keyValue: ["default", "cart"], sqlite: ["orders"] }, { keyValue: { cart: { retainOnDelete: false } } }, "local");
        assert.deepEqual(s.keyValue, [{ label: "cart", args: { backend: "spin", retainOnDelete: false } }, { label: "default", args: { backend: "spin", retainOnDelete: true } }]);
        assert.deepEqual(s.sqlite, [{ label: "orders", args: { backend: "spin", retainOnDelete: true } }]);
        const aws = checkedAppStores("shop", { keyValue: ["default"], sqlite: [] }, undefined, "aws");
        assert.deepEqual(aws.keyValue, [{ label: "default", args: { backend: "aws_dynamo", retainOnDelete: true } }]);
        // The app's access key: generation 1 unless bumped; none where there is no key.
        assert.equal(aws.accessKeyGeneration, 1);
        assert.equal(checkedAppStores("shop", { keyValue: ["default"], sqlite: [] }, { accessKeyGeneration: 3 }, "aws").accessKeyGeneration, 3);
        assert.equal(s.accessKeyGeneration, undefined);
        assert.equal(checkedAppStores("shop", { keyValue: [], sqlite: ["orders"] }, { sqlite: { orders: { backend: "libsql", url: "https://db", token: "t" } } }, "aws").accessKeyGeneration, undefined);
    });

    it("AWS SQLite defaults to the platform libSQL server; a server of your own takes url and token", () => {
        const declared = { keyValue: [], sqlite: ["orders"] };
        const platform = checkedAppStores("shop", declared, undefined, "aws").sqlite[0];
        assert.deepStrictEqual(platform, { label: "orders", args: { backend: "libsql", retainOnDelete: true } });
        assert.ok(isPlatformLibsql(platform.args));
        const own = checkedAppStores("shop", declared, { sqlite: { orders: { url: "https://db.internal", token: "t" } } }, "aws").sqlite[0];
        assert.strictEqual(isPlatformLibsql(own.args), false);
        assert.strictEqual(checkedAppStores("shop", declared, undefined, "local").sqlite[0].args.backend, "spin");
    });

    it("refuses an undeclared store, a backend or option of the other target, and half a libSQL server", () => {
        const declared = { keyValue: ["default"], sqlite: ["orders"] };
        const bad: [() => unknown, RegExp][] = [
            [() => checkedAppStores("shop", declared, { keyValue: { carts: { backend: "spin" } } }, "local"), /SpinApp shop: stores\.keyValue\.carts is "carts"; the manifest declares no such label in any component's key_value_stores \(declared: default\)/],
            [() => checkedAppStores("shop", declared, { keyValue: { default: { backend: "aws_dynamo" } } }, "local"), /stores\.keyValue\.default\.backend is "aws_dynamo"; is a aws backend; on local use spin/],
            [() => checkedAppStores("shop", declared, { keyValue: { default: { consistentRead: true } } as never }, "local"), /stores\.keyValue\.default\.consistentRead is true; is not an option of the spin backend/],
            [() => checkedAppStores("shop", declared, { keyValue: { default: { backend: "spin" } } }, "aws"), /backend is "spin"; is a local backend; on aws use aws_dynamo/],
            [() => checkedAppStores("shop", declared, { sqlite: { orders: { backend: "libsql", url: "https://db" } } }, "aws"), /stores\.sqlite\.orders is \["backend","url"\]; a libsql database takes url and token together \(a server you run\), or neither/],
            [() => checkedAppStores("shop", declared, { sqlite: { orders: { token: "t" } } }, "aws"), /takes url and token together/],
            [() => checkedAppStores("shop", declared, { sqlite: { orders: { retainOnDelete: false } } }, "aws"), /stores\.sqlite\.orders\.retainOnDelete is false; the platform libSQL server never deletes a database/],
            [() => checkedAppStores("shop", declared, { keyValue: { default: { retainOnDelete: "no" as never } } }, "aws"), /retainOnDelete is "no"; must be a boolean/],
            [() => checkedAppStores("shop", { keyValue: ["b@d"], sqlite: [] }, undefined, "local"), /store label "b@d" is refused by Spin/],
            [() => checkedAppStores("shop", declared, { keyValue: { default: { deletionProtection: true } } as never }, "local"), /deletionProtection is true; is not an option of the spin backend \(backend, retainOnDelete, shareWith\); it is an option of the aws_dynamo backend \(aws\)/],
            [() => checkedAppStores("shop", declared, { sqlite: { orders: { backend: "spin", url: "https://db" } as never } }, "local"), /sqlite\.orders\.url is "https:\/\/db"; .*it is an option of the libsql backend \(aws\)/],
            [() => checkedAppStores("shop", declared, { accessKeyGeneration: 2 }, "local"), /stores\.accessKeyGeneration is 2; is an aws option/],
            [() => checkedAppStores("shop", { keyValue: ["default"], sqlite: [] }, { accessKeyGeneration: 0 }, "aws"), /stores\.accessKeyGeneration is 0; must be an integer of at least 1/],
            [() => checkedAppStores("shop", { keyValue: ["default"], sqlite: [] }, { accessKeyGeneration: "2" as never }, "aws"), /stores\.accessKeyGeneration is "2"; must be an integer/],
            [() => checkedAppStores("shop", declared, { tables: {} } as never, "aws"), /SpinApp shop: stores\.tables is \{\}; is not a stores option \(keyValue, sqlite, accessKeyGeneration\)/],
        ];
        for (const [fn, error] of bad) assert.throws(fn, error);
    });
});
