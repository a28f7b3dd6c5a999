/** The bindle job's prestart repair (provisioning/jobs/bindle-repair.ts and bindle-repair.sh). */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import { tmpdir } from "os";
import * as path from "path";
import {
    BINDLE_REPAIR_SCRIPT, BINDLE_REPAIR_SCRIPT_PATH, BINDLE_REPAIR_SHELL, BINDLE_REPAIR_TASK, bindleRepairTask,
} from "../../provisioning/jobs/bindle-repair";
import { bindleTask, BindleRuntime } from "../../provisioning/jobs/bindle-task";
import { assertValidNomadJob } from "../harness/nomad-job-schema";
import { shellcheckFiles } from "../harness/validators";

const SCRIPT = path.join(__dirname, "..", "..", "provisioning", "jobs", "bindle-repair.sh");
const LOCAL: BindleRuntime = { driver: "raw_exec", bindleServerBinary: "/usr/local/bin/bindle-server", port: 8085, dataDir: "/home/u/.spin-cloud/local/bindle" };
const EXEC: BindleRuntime = { driver: "exec", architecture: "arm64" };
const RESOURCES = { cpuMhz: 100, memoryMb: 128 };
const sha = (c: string) => c.repeat(64);

/** `--directory` of the server task for the runtime. */
const serverStore = (runtime: BindleRuntime) => {
    const args = bindleTask(runtime, RESOURCES).Config.args as string[];
    return args[args.indexOf("--directory") + 1];
};

describe("bindleRepairTask", () => {
    for (const runtime of [LOCAL, EXEC]) {
        it(`${runtime.driver}: a prestart task (not a sidecar) running the script on the server's own store, as the server's user and volume`, () => {
            const task = bindleRepairTask(runtime);
            const server = bindleTask(runtime, RESOURCES);
            assert.equal(task.Name, BINDLE_REPAIR_TASK);
            assert.deepEqual(task.Lifecycle, { Hook: "prestart", Sidecar: false });
            assert.deepEqual(task.Config, { command: BINDLE_REPAIR_SHELL, args: ["${NOMAD_TASK_DIR}/bindle-repair.sh", serverStore(runtime)] });
            assert.equal(task.Driver, server.Driver);
            assert.equal(task.User, server.User);
            assert.deepEqual(task.VolumeMounts, server.VolumeMounts);
            assert.deepEqual(task.Templates, [{ EmbeddedTmpl: fs.readFileSync(SCRIPT, "utf8"), DestPath: BINDLE_REPAIR_SCRIPT_PATH, ChangeMode: "noop", Perms: "0444" }]);
            assertValidNomadJob({
                ID: "bindle", Name: "bindle", Type: "service", Datacenters: ["dc1"],
                TaskGroups: [{ Name: "bindle", Count: 1, Tasks: [task, server] }],
            }, `${runtime.driver} repair task`);
        });
    }

    it("the script is rendered verbatim by Nomad's template engine (no {{ }}) and is shellcheck-clean", () => {
        assert.ok(!/\{\{|\}\}/.test(BINDLE_REPAIR_SCRIPT));
        const [[, result]] = [...shellcheckFiles([SCRIPT])];
        assert.ok(result.ok, result.output);
    });
});

describe("bindle-repair.sh on a store", () => {
    let root = "";
    beforeEach(() => { root = fs.mkdtempSync(path.join(tmpdir(), "bindle-repair-")); });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    const run = (...args: string[]) => spawnSync("sh", [SCRIPT, ...args], { encoding: "utf8" });
    const parcel = (name: string, files: Record<string, string> = {}, ageMinutes = 0) => {
        const dir = path.join(root, "parcels", name);
        fs.mkdirSync(dir, { recursive: true });
        const old = new Date(Date.now() - ageMinutes * 60_000);
        for (const [f, content] of Object.entries(files)) {
            fs.writeFileSync(path.join(dir, f), content);
            fs.utimesSync(path.join(dir, f), old, old);
        }
        return dir;
    };

    it("removes parcel directories without parcel.dat, keeps complete ones, uploads being written and anything else", () => {
        const complete = parcel(sha("a"), { "parcel.dat": "data" });
        const empty = parcel(sha("b"));
        const killed = parcel(sha("c"), { "parcel.dat.part": "half" }, 5);
        const writing = parcel(sha("d"), { "parcel.dat.part": "half" });
        const completeWithPart = parcel(sha("e"), { "parcel.dat": "data", "parcel.dat.part": "x" }, 5);
        const notSha = parcel("lost+found");
        const short = parcel("abc");
        fs.writeFileSync(path.join(root, "parcels", sha("f")), "a file, not a directory");
        fs.mkdirSync(path.join(root, "invoices", sha("1")), { recursive: true });

        const result = run(root);
        assert.equal(result.status, 0, result.stderr);
        for (const gone of [empty, killed]) assert.ok(!fs.existsSync(gone), gone);
        for (const kept of [complete, writing, completeWithPart, notSha, short, path.join(root, "parcels", sha("f")), path.join(root, "invoices", sha("1"))]) {
            assert.ok(fs.existsSync(kept), kept);
        }
        assert.equal(fs.readFileSync(path.join(complete, "parcel.dat"), "utf8"), "data");
        assert.deepEqual(result.stdout.trim().split("\n"), [
            `bindle-repair: removed parcels/${sha("b")} (no parcel.dat: an interrupted upload)`,
            `bindle-repair: removed parcels/${sha("c")} (no parcel.dat: an interrupted upload)`,
            `bindle-repair: kept parcels/${sha("d")} (an upload is being written)`,
            "bindle-repair: 2 removed, 2 complete",
        ]);
    });

    it("a store the server has not created yet is nothing to repair; a missing argument is a usage error", () => {
        const fresh = run(path.join(root, "bindles"));
        assert.equal(fresh.status, 0, fresh.stderr);
        assert.match(fresh.stdout, /nothing to repair/);
        const empty = (fs.mkdirSync(path.join(root, "parcels")), run(root));
        assert.equal(empty.status, 0);
        assert.equal(empty.stdout.trim(), "bindle-repair: 0 removed, 0 complete");
        const usage = run();
        assert.equal(usage.status, 2);
        assert.match(usage.stderr, /usage: bindle-repair\.sh <bindle store directory>/);
    });
});
