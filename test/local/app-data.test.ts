import { strict as assert } from "assert";
import { execSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalAppData } from "../../components/local/app-data";
import { checkedAppStores } from "../../components/apps/stores";
import { stateDirCommands } from "../../provisioning/local/commands";
import { appDataCommands, appDataRoot, localStorePaths, SQLITE_SIDE_FILES, storeDataCommands } from "../../provisioning/local/app-data";
import { shellcheckSources } from "../harness/validators";
import { localLayout } from "../../provisioning/local/node";
import { renderSpinRuntimeConfigTemplate } from "../../provisioning/jobs/spin-runtime-config";
import { evaluateStack, ofType } from "../harness/mocks";
import { runtimeConfigErrors } from "../harness/spin-runtime-config-schema";

const sh = (cmd: string) => execSync(cmd, { shell: "/bin/bash", stdio: "pipe" });
/** As @pulumi/command's local provider runs a command: `/bin/sh -c`. */
const posix = (cmd: string) => execSync(cmd, { shell: "/bin/sh", stdio: "pipe" });

describe("local app data", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "spin-app-data-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("puts every store outside the allocations and the agents' data, one file per kind and label", () => {
        const layout = localLayout(`${dir}/state`);
        const stores = localStorePaths(appDataRoot(layout.root), "shop", { keyValue: ["default", "cart"], sqlite: ["default"] });
        const paths = [...Object.values(stores.keyValue!), ...Object.values(stores.sqlite!)].map((b) => (b.type === "spin" ? b.path : ""));
        assert.deepEqual(paths, [`${layout.root}/app-data/shop/key-value/default.db`, `${layout.root}/app-data/shop/key-value/cart.db`, `${layout.root}/app-data/shop/sqlite/default.db`]);
        // The agents' state step deletes these (and Nomad keeps allocations under its data dir): none holds a store.
        for (const p of paths) for (const d of [layout.nomad.dataDir, layout.consul.dataDir, layout.bindleData]) assert.ok(!p.startsWith(`${d}/`), `${p} outside ${d}`);
        assert.deepEqual(runtimeConfigErrors(renderSpinRuntimeConfigTemplate("app-shop", stores, "raw_exec")), []);
        assert.throws(() => localStorePaths(appDataRoot(layout.root), "shop", { keyValue: ["cart", "CART"], sqlite: [] }), /"cart" and "CART" differ only in case/);
    });

    it("survives a redeploy and an agent restart, and is removed by destroy (the steps' commands, run)", () => {
        const layout = localLayout(`${dir}/state`);
        const agents = stateDirCommands(layout.root, [layout.consul.dataDir, layout.nomad.dataDir, layout.bindleData]);
        const appData = appDataCommands(layout.root);
        sh(agents.create);
        sh(appData.create);
        assert.equal(fs.statSync(appDataRoot(layout.root)).mode & 0o777, 0o700);
        // Stand-in for Spin: the task opens its store under the app's directory (Spin creates the parents).
        const store = localStorePaths(appDataRoot(layout.root), "shop", { keyValue: ["default"], sqlite: [] }).keyValue!.default;
        assert.equal(store.type, "spin");
        const file = store.type === "spin" ? store.path : "";
        const alloc = `${layout.nomad.dataDir}/alloc/1111/spin/local`;
        const runTask = (value: string) => { fs.mkdirSync(alloc, { recursive: true }); fs.mkdirSync(path.dirname(file), { recursive: true }); fs.appendFileSync(file, value); };
        // (A byte log rather than SQLite: what matters is which directory each step creates and removes.)
        runTask("v1;");
        // Redeploy: the old allocation's directory goes, a new one comes; the store stays.
        fs.rmSync(`${layout.nomad.dataDir}/alloc/1111`, { recursive: true });
        runTask("v2;");
        // Agent restart (restartCommand replaces the agent steps, not the state or app-data steps) and a second `pulumi up`: create again is harmless.
        sh(appData.create);
        assert.equal(fs.readFileSync(file, "utf8"), "v1;v2;");
        // Destroy: the agents' state step removes their data dirs, the app-data step removes the stores.
        sh(agents.delete);
        assert.ok(fs.existsSync(file), "the agents' delete leaves app data to its own step");
        sh(appData.delete);
        assert.ok(!fs.existsSync(appDataRoot(layout.root)));
        assert.ok(fs.existsSync(layout.root), "the state directory itself (logs) stays");
    });

    it("deletes one store's files with its step (the opt-in), leaving the app's other stores, then empty directories (the step's commands, run)", () => {
        const layout = localLayout(`${dir}/state`);
        const root = appDataRoot(layout.root);
        posix(appDataCommands(layout.root).create);
        const stores = localStorePaths(root, "shop", { keyValue: ["cart", "default"], sqlite: ["orders"] });
        const pathOf = (b: { type: string; path?: string }) => b.path!;
        const [cart, kvDefault, orders] = [pathOf(stores.keyValue!.cart), pathOf(stores.keyValue!.default), pathOf(stores.sqlite!.orders)];
        const steps = Object.fromEntries([cart, kvDefault, orders].map((p) => [p, storeDataCommands(root, p)]));
        for (const p of [cart, kvDefault, orders]) {
            posix(steps[p].create);
            // Stand-in for Spin: the database and the side files an app in WAL mode leaves.
            for (const suffix of ["", ...SQLITE_SIDE_FILES]) fs.writeFileSync(`${p}${suffix}`, "data");
        }
        const other = localStorePaths(root, "blog", { keyValue: ["cart"], sqlite: [] }).keyValue!.cart;
        fs.mkdirSync(path.dirname(pathOf(other)), { recursive: true });
        fs.writeFileSync(pathOf(other), "blog's");
        posix(steps[cart].delete);
        for (const suffix of ["", ...SQLITE_SIDE_FILES]) assert.ok(!fs.existsSync(`${cart}${suffix}`), `${cart}${suffix} removed`);
        assert.equal(fs.readFileSync(kvDefault, "utf8"), "data", "another store of the same app stays");
        assert.equal(fs.readFileSync(pathOf(other), "utf8"), "blog's", "another app's store of the same label stays");
        posix(steps[cart].delete);
        posix(steps[kvDefault].delete);
        assert.ok(!fs.existsSync(path.dirname(kvDefault)), "the emptied key-value directory goes");
        assert.ok(fs.existsSync(orders) && fs.existsSync(`${root}/shop`), "the app directory stays while a store is in it");
        posix(steps[orders].delete);
        assert.ok(!fs.existsSync(`${root}/shop`), "the app's last store removed: its directory goes");
        assert.ok(fs.existsSync(pathOf(other)) && fs.statSync(root).isDirectory(), "the root and other apps stay");
    });

    it("builds store steps only for a store file under the root, quoted, shellcheck-clean as /bin/sh runs them", () => {
        const root = "/home/u/.spin-cloud/local/app-data";
        const c = storeDataCommands(`${root}/`, `${root}/shop/sqlite/default.db`);
        assert.equal(c.create, `mkdir -p '${root}/shop/sqlite'`);
        assert.ok(c.delete.startsWith(`rm -f -- '${root}/shop/sqlite/default.db' '${root}/shop/sqlite/default.db-journal'`), c.delete);
        const sources = (["create", "delete"] as const).map((k) => ({ name: `store-${k}.sh`, content: `#!/bin/sh\n${c[k]}\n` }));
        for (const [name, result] of shellcheckSources(sources, "sh")) assert.ok(result.ok, `${name}: ${result.output}`);
        for (const bad of [`${root}/shop/default.db`, `${root}/../x/sqlite/a.db`, `/etc/shop/sqlite/a.db`, `${root}/shop/sqlite/a.txt`, `${root}/shop/sqlite/a b.db`, `${root}/shop/sqlite/`]) {
            assert.throws(() => storeDataCommands(root, bad), /local app data: store path .* must be <root>\/<app>\/<kind>\/<label>\.db under/, bad);
        }
    });

    it("registers one step with exactly those commands and no triggers, and backs an app's labels", async () => {
        const stateDir = "/home/u/.spin-cloud/local";
        const r = await evaluateStack("local", () => {
            const data = new LocalAppData("spin-cloud-app-data", { stateDir });
            const s = checkedAppStores("shop", { keyValue: ["default"], sqlite: ["orders"] }, undefined, "local");
            return { backends: data.backends("shop", s), root: data.root };
        });
        const [step] = ofType(r, "command:local:Command");
        assert.equal(step.name, "spin-cloud-app-data-dir");
        assert.deepEqual({ create: step.inputs.create, delete: step.inputs.delete }, appDataCommands(stateDir));
        assert.equal(step.inputs.triggers, undefined);
        assert.deepEqual(r.outputs.backends, {
            keyValue: { default: { type: "spin", path: `${stateDir}/app-data/shop/key-value/default.db` } },
            sqlite: { orders: { type: "spin", path: `${stateDir}/app-data/shop/sqlite/orders.db` } },
        });
    });
});
