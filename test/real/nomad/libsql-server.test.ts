/**
 * Issue 16: the platform libSQL server job (provisioning/jobs/libsql-job.ts) on the real programs:
 * Nomad 1.6.3 (exec, as root), Consul 1.16.3 (dev, its DNS), sqld 0.24.32 built from the tag, and
 * s3s-fs as the S3 bottomless writes to. The job is `libsqlJob` as rendered, with the Variables
 * LibsqlServer (components/platform/libsql-server.ts) writes; what changes for this machine is in
 * `runnableHere`, each change commented, and asserted to be the only difference.
 * Checked: the sidecar creates the namespaces; Consul DNS answers each namespace's tag; Hrana with
 * the per-namespace tokens (404 across namespaces, 401 without a token); a namespace added through
 * the Variable and the service tags appears without replacing or restarting sqld; after a purge
 * (a new allocation with an empty data dir) the sidecar's re-create restores the rows from S3;
 * a signing key rotation (the key file, a literal of the job, with the new and the old key) is a
 * destructive update whose deployment brings sqld back on the same data trusting both keys, never
 * answering 401 to the old token meanwhile; no argv ever holds the admin key or the S3 secret.
 * Needs root (exec's chroot and cgroups).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import { existsSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { libsqlDatabaseUrl, libsqlNamespace, libsqlPublicKeyPem, libsqlToken } from "../../../provisioning/jobs/libsql-databases";
import { LIBSQL_NAMESPACES_INTERVAL_SECONDS, LIBSQL_READY_SERVICE, LIBSQL_TASKS, LIBSQL_VARIABLES, libsqlJob } from "../../../provisioning/jobs/libsql-job";
import { NomadJob } from "../../../provisioning/jobs/nomad-api";
import { JOB_IDS, LIBSQL_PORTS, SERVICE_NAMES } from "../../../provisioning/platform";
import { libsqlServerArtifact } from "../../../provisioning/versions";
import { CONSUL_BINARY } from "../harness/consul-agent";
import {
    ConsulDev, consulResolver, FakeS3, filesUnder, hrana, pidsWithArgv, resolveA, rowsOf, S3S_BINARY, serveReleaseArchive, ServedArchive, SQLD_BINARY,
    startConsulDev, startNomadWithConsul, startS3sFs, watchArgv,
} from "../harness/libsql";
import { NOMAD_BINARY, nomadApi, NomadAgent, stopNomadJobs } from "../harness/nomad-dev";
import { freePorts, itWith, onPath, Processes, request, sleep, tempDir, waitFor } from "../harness/runtime";

const BINARIES = [NOMAD_BINARY, CONSUL_BINARY, SQLD_BINARY, S3S_BINARY];
const JOB = JOB_IDS.libsql;
const DC = "dc1"; // nomad-dev.ts's agent keeps Nomad's default datacenter
const BUCKET = "libsql-backup";
const NS = { shop: libsqlNamespace("shop", "orders"), blog: libsqlNamespace("blog", "posts"), wiki: libsqlNamespace("wiki", "pages") };

interface Ports { http: number; admin: number }
interface TaskState { State: string; Restarts: number; StartedAt: string; Events: { Type: string; DisplayMessage: string }[] }
interface Alloc { ID: string; JobVersion: number; ClientStatus: string; PreviousAllocation?: string; TaskStates?: Record<string, TaskState> | null }

/** Every path at which two JSON values differ. */
function differences(a: unknown, b: unknown, at = ""): string[] {
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return a === b ? [] : [at];
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`));
}

/** The rendered job with the only changes a laptop needs (each commented), asserted to be the only ones. */
function runnableHere(rendered: NomadJob, archive: ServedArchive, ports: Ports, s3: FakeS3): NomadJob {
    const job = JSON.parse(JSON.stringify(rendered)) as NomadJob;
    const group = job.TaskGroups[0];
    const [server, sidecar] = group.Tasks;
    assert.deepEqual([server.Name, sidecar.Name], [LIBSQL_TASKS.server, LIBSQL_TASKS.namespaces]);
    // (a) The release archive from 127.0.0.1 (same file name and layout, the local sqld inside), pinned by its own digest.
    const pinned = libsqlServerArtifact("x86_64");
    assert.deepEqual(server.Artifacts, [{ GetterSource: pinned.url, GetterOptions: { checksum: `sha256:${pinned.sha256}` }, RelativeDest: "local/" }]);
    assert.equal(path.basename(archive.url), path.basename(pinned.url));
    server.Artifacts![0].GetterSource = archive.url;
    server.Artifacts![0].GetterOptions.checksum = `sha256:${archive.sha256}`;
    // (b) Free ports instead of the platform's fixed 8090/8091: the reserved ports, sqld's admin listener, the sidecar's admin URL.
    const reserved = group.Networks![0].ReservedPorts!;
    assert.deepEqual(reserved.map((p) => [p.Label, p.Value]), [["http", LIBSQL_PORTS.http], ["admin", LIBSQL_PORTS.admin]]);
    reserved[0].Value = ports.http;
    reserved[1].Value = ports.admin;
    const args = server.Config.args as string[];
    const at = args.indexOf("--admin-listen-addr");
    assert.equal(args[at + 1], `127.0.0.1:${LIBSQL_PORTS.admin}`);
    args[at + 1] = `127.0.0.1:${ports.admin}`;
    const sidecarArgs = sidecar.Config.args as string[];
    assert.equal(sidecarArgs[1], `http://127.0.0.1:${LIBSQL_PORTS.admin}`);
    sidecarArgs[1] = `http://127.0.0.1:${ports.admin}`;
    // (c) Bottomless writes to s3s-fs instead of AWS S3's regional endpoint (the SDK default).
    server.Env = { ...server.Env, LIBSQL_BOTTOMLESS_ENDPOINT: s3.url };
    assert.deepEqual(differences(rendered, job).sort(), [
        `.TaskGroups.0.Networks.0.ReservedPorts.0.Value`, `.TaskGroups.0.Networks.0.ReservedPorts.1.Value`,
        `.TaskGroups.0.Tasks.0.Artifacts.0.GetterOptions.checksum`, `.TaskGroups.0.Tasks.0.Artifacts.0.GetterSource`,
        `.TaskGroups.0.Tasks.0.Config.args.${at + 1}`, `.TaskGroups.0.Tasks.0.Env.LIBSQL_BOTTOMLESS_ENDPOINT`, `.TaskGroups.0.Tasks.1.Config.args.1`,
    ].sort());
    const text = JSON.stringify(job);
    assert.doesNotMatch(text, /https?:\/\/(?!127\.0\.0\.1[:/])/, "every URL in the job is on 127.0.0.1");
    assert.deepEqual([...new Set(text.match(/\b\d{1,3}(\.\d{1,3}){3}\b/g))], ["127.0.0.1"], "every address in the job is 127.0.0.1");
    return job;
}

describe("real Nomad 1.6.3 + Consul + sqld 0.24.32 + s3s-fs: the platform libSQL server job", function () {
    this.timeout(400_000);
    // Made in before(), so that loading this file (a dry run, a skip) leaves no temp dir behind.
    let processes: Processes | undefined;
    let dir = "";
    const secrets = { adminKey: randomBytes(24).toString("hex"), s3Key: `AKIA${randomBytes(8).toString("hex").toUpperCase()}`, s3Secret: randomBytes(30).toString("base64url") };
    const seed = randomBytes(32).toString("base64");
    let consul: ConsulDev | undefined;
    let nomad: NomadAgent | undefined;
    let s3: FakeS3 | undefined;
    let archive: ServedArchive | undefined;
    let ports: Ports;
    let argv: ReturnType<typeof watchArgv> | undefined;

    before(async function () {
        if (process.platform !== "linux" || process.getuid?.() !== 0) {
            console.log("      [skipped: the exec driver needs root on Linux]");
            this.skip();
        }
        if (BINARIES.some((b) => !onPath(b))) return;
        t0 = Date.now();
        processes = new Processes(tempDir("libsql-logs"));
        dir = tempDir("libsql");
        // From before the first secret exists anywhere; s3s-fs takes its key pair as flags: the S3 stand-in, not the platform, is exempt.
        argv = watchArgv([secrets.adminKey, secrets.s3Secret], (a) => a.split(" ")[0].endsWith(S3S_BINARY));
        const [http, admin] = await freePorts(2);
        ports = { http, admin };
        archive = await serveReleaseArchive(dir, path.basename(libsqlServerArtifact("x86_64").url), "sqld", onPath(SQLD_BINARY)!);
        s3 = await startS3sFs(processes, path.join(dir, "s3"), BUCKET, { accessKeyId: secrets.s3Key, secretAccessKey: secrets.s3Secret });
        consul = await startConsulDev(processes, dir);
        nomad = await startNomadWithConsul(processes, dir, consul, { exec: true });
    });

    after(async () => {
        argv?.stop();
        if (nomad) await stopNomadJobs(nomad, dir).catch(() => undefined);
        await processes?.stopAll();
        archive?.server.close();
        if (dir) spawnSync("rm", ["-rf", dir]);
    });

    const n = () => nomad!;
    const job = (namespaces: string[], jwtPublicKeys = [libsqlPublicKeyPem(seed)]) =>
        runnableHere(libsqlJob({ datacenters: [DC], architecture: "x86_64", namespaces, backup: { region: "us-east-1", databaseId: "test" }, jwtPublicKeys }), archive!, ports, s3!);
    /** The shared Variable as LibsqlServer writes it: the admin key, one namespace a line. */
    const putShared = (namespaces: string[]) => nomadApi(n(), "PUT", `/v1/var/${LIBSQL_VARIABLES.shared.path}`, {
        Path: LIBSQL_VARIABLES.shared.path,
        Items: { [LIBSQL_VARIABLES.shared.items.adminKey]: secrets.adminKey, [LIBSQL_VARIABLES.shared.items.namespaces]: [...namespaces].sort().map((ns) => `${ns}\n`).join("") },
    });
    const admin = (ns: string, key = secrets.adminKey) => request(`http://127.0.0.1:${ports.admin}/v1/namespaces/${ns}/config`, { headers: { Authorization: `Basic ${key}` } }, 5_000)
        .then((r) => r.status, () => 0);
    const host = (ns: string) => `${new URL(libsqlDatabaseUrl(ns)).hostname}:${ports.http}`;
    /** Hrana on the namespace's own host name with its own token. */
    const sql = (ns: string, statements: Parameters<typeof hrana>[3]) => hrana(ports.http, host(ns), libsqlToken(ns, seed), statements);
    const allocs = () => nomadApi<Alloc[]>(n(), "GET", `/v1/job/${JOB}/allocations`);
    const alloc = (id: string) => nomadApi<Alloc>(n(), "GET", `/v1/allocation/${id}`);
    /** The allocations' task events and the tail of every task log still on disk, for failure messages. */
    const report = async () => {
        const events = JSON.stringify((await allocs().catch(() => [])).map((a) => [a.ID, a.ClientStatus,
            Object.entries(a.TaskStates ?? {}).map(([t, s]) => [t, s.Events.map((e) => `${e.Type}: ${e.DisplayMessage}`)])]));
        const allocDir = path.join(dir, "nomad-data", "alloc");
        const logs = filesUnder(allocDir).filter((f) => /\/alloc\/logs\/.+\.(stdout|stderr)\.\d+$/.test(f))
            .map((f) => `--- ${f}\n${readFileSync(path.join(allocDir, f), "utf8").slice(-2500)}`);
        return `${events}\n${logs.join("\n")}`;
    };
    const explained = <T>(p: Promise<T>) => p.catch(async (e) => { throw new Error(`${(e as Error).message}\nallocations: ${await report()}`); });
    /** Registers the job and waits for the deployment of the version Nomad gave it to succeed. */
    const deploy = async (spec: NomadJob) => {
        await nomadApi(n(), "PUT", "/v1/jobs", { Job: spec });
        const { Version } = await nomadApi<{ Version: number }>(n(), "GET", `/v1/job/${JOB}`);
        return explained(waitFor(`the deployment of version ${Version}`, async () => {
            const d = await nomadApi<{ Status: string; JobVersion: number; StatusDescription: string } | null>(n(), "GET", `/v1/job/${JOB}/deployment`);
            if (!d || d.JobVersion !== Version) return undefined;
            if (["failed", "cancelled"].includes(d.Status)) throw new Error(`deployment ${d.Status}: ${d.StatusDescription}`);
            return d.Status === "successful" ? Version : undefined;
        }, 150_000, 500));
    };
    /** The pid of the sqld this job runs (its admin listener's argv), from /proc. */
    const sqldPid = () => pidsWithArgv(`--admin-listen-addr 127.0.0.1:${ports.admin}`);
    const dnsA = (ns: string) => resolveA(consulResolver(consul!.dns), `${ns}.${SERVICE_NAMES.libsql}.service.consul`);
    let t0 = 0;
    const figure = (text: string) => console.log(`      ${text}`);

    itWith(BINARIES, "deploys under exec as nobody; the sidecar creates the namespaces; Consul DNS answers each tag; Hrana with per-namespace tokens", async () => {
        const rendered = job([NS.shop, NS.blog]);
        for (const s of Object.values(secrets)) assert.ok(!JSON.stringify(rendered).includes(s), "no secret in the jobspec");
        const { server } = LIBSQL_VARIABLES;
        await putShared([NS.shop, NS.blog]);
        await nomadApi(n(), "PUT", `/v1/var/${server.path}`, { Path: server.path, Items: {
            [server.items.bucket]: BUCKET, [server.items.accessKeyId]: secrets.s3Key, [server.items.secretAccessKey]: secrets.s3Secret,
        } });
        const start = Date.now();
        const deployed = deploy(rendered);
        deployed.catch(() => undefined); // awaited below; a failure meanwhile is not an unhandled rejection
        await explained(waitFor("sqld's /health", async () => ((await request(`http://127.0.0.1:${ports.http}/health`, {}, 2_000).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 120_000, 250));
        const healthyMs = Date.now() - start;
        await explained(waitFor("both namespaces on the admin API", async () => ((await admin(NS.shop)) === 200 && (await admin(NS.blog)) === 200 ? true : undefined), 30_000, 250));
        const namespacesMs = Date.now() - start;
        await deployed;
        const deployMs = Date.now() - start;
        const checks = JSON.parse((await request(`${consul!.url}/v1/health/checks/${SERVICE_NAMES.libsql}`)).body) as { Name: string; Status: string }[];
        assert.deepEqual(checks.map((c) => [c.Name, c.Status]), [["sqld-health", "passing"]]);
        const ready = JSON.parse((await request(`${consul!.url}/v1/health/checks/${LIBSQL_READY_SERVICE}`)).body) as { Name: string; Status: string }[];
        assert.deepEqual(ready.map((c) => [c.Name, c.Status]), [["namespaces-ready", "passing"]], "the sidecar's script check in its chroot");
        assert.ok(archive!.hits() >= 1, "Nomad fetched the archive");
        figure(`sqld healthy ${healthyMs} ms, both namespaces ${namespacesMs} ms, deployment successful ${deployMs} ms after registration`);

        // Chrooted (exec) and as nobody, as rendered.
        const [pid] = sqldPid();
        assert.ok(pid, "sqld runs");
        assert.match(readFileSync(`/proc/${pid}/status`, "utf8"), /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, "sqld runs as nobody");
        const [a] = await allocs();
        // Its root is the task dir (readlink shows "/" from another mount namespace, so compare inodes).
        const taskDir = path.join(dir, "nomad-data", "alloc", a.ID, LIBSQL_TASKS.server);
        assert.equal(statSync(`/proc/${pid}/root/local`).ino, statSync(path.join(taskDir, "local")).ino, "sqld's root is its task dir");

        assert.equal(await admin(NS.shop, "wrong"), 401, "the admin API takes only the Variable's key");
        assert.equal(await admin("nosuch"), 404);
        for (const ns of [NS.shop, NS.blog]) assert.deepEqual(await dnsA(ns), ["127.0.0.1"], `${ns}.libsql.service.consul`);
        const none = await dnsA("nosuch");
        assert.ok(!Array.isArray(none) && ["ENOTFOUND", "ENODATA"].includes(none.code), JSON.stringify(none));
        figure(`nosuch.libsql.service.consul: ${JSON.stringify(none)}`);

        const created = await sql(NS.shop, ["CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT)", { sql: "INSERT INTO orders(item) VALUES (?)", args: ["tea"] }, "SELECT id, item FROM orders"]);
        assert.deepEqual(rowsOf(created, 2), [["1", "tea"]]);
        const blog = await sql(NS.blog, ["CREATE TABLE posts(t TEXT)", "SELECT count(*) FROM sqlite_master WHERE name = 'orders'"]);
        assert.deepEqual(rowsOf(blog, 1), [["0"]], "separate databases");
        const across = await hrana(ports.http, host(NS.blog), libsqlToken(NS.shop, seed), ["SELECT 1"]);
        assert.equal(across.status, 404, across.body);
        const anonymous = await hrana(ports.http, host(NS.shop), undefined, ["SELECT 1"]);
        assert.equal(anonymous.status, 401, anonymous.body);
        assert.equal((await request(`http://127.0.0.1:${ports.http}/health`)).status, 200);
    });

    itWith(BINARIES, "a third namespace (Variable + service tag) is created in place: same allocation, sqld not restarted", async () => {
        const [before] = await allocs();
        const sqldBefore = before.TaskStates![LIBSQL_TASKS.server];
        const [pidBefore] = sqldPid();
        const three = job([NS.shop, NS.blog, NS.wiki]);
        const plan = await nomadApi<{ Annotations: { DesiredTGUpdates: Record<string, Record<string, number>> } }>(n(), "PUT", `/v1/job/${JOB}/plan`, { Job: three, Diff: true });
        const updates = plan.Annotations.DesiredTGUpdates.libsql;
        assert.deepEqual([updates.InPlaceUpdate, updates.DestructiveUpdate ?? 0, updates.Place ?? 0], [1, 0, 0], `Nomad's plan: ${JSON.stringify(updates)}`);
        const start = Date.now();
        await putShared([NS.shop, NS.blog, NS.wiki]);
        const version = deploy(three);
        version.catch(() => undefined); // awaited below
        const bound = (2 * LIBSQL_NAMESPACES_INTERVAL_SECONDS + 10) * 1000;
        const [createdMs, dnsMs] = await Promise.all([
            explained(waitFor(`${NS.wiki} on the admin API`, async () => ((await admin(NS.wiki)) === 200 ? true : undefined), bound, 250)).then(() => Date.now() - start),
            waitFor(`${NS.wiki}.libsql.service.consul`, async () => { const r = await dnsA(NS.wiki); return Array.isArray(r) && r[0] === "127.0.0.1" ? r : undefined; }, bound, 250)
                .then(() => Date.now() - start),
        ]);
        const v = await version;
        const after = await alloc(before.ID);
        const listed = await allocs();
        assert.deepEqual(listed.map((a) => a.ID), [before.ID], "the same allocation");
        assert.equal(listed[0].JobVersion, v, "running the new job version");
        const sqldAfter = after.TaskStates![LIBSQL_TASKS.server];
        assert.deepEqual([sqldAfter.Restarts, sqldAfter.StartedAt, sqldAfter.State], [0, sqldBefore.StartedAt, "running"]);
        assert.deepEqual(sqldAfter.Events.map((e) => e.Type).filter((t) => /Restart|Kill|Signal|Terminated/.test(t)), []);
        assert.deepEqual(sqldPid(), [pidBefore], "the same sqld process");
        assert.equal(after.TaskStates![LIBSQL_TASKS.namespaces].Restarts, 0, "the sidecar re-reads its list without a restart");
        assert.deepEqual(rowsOf(await sql(NS.shop, ["SELECT item FROM orders"]), 0), [["tea"]]);
        assert.deepEqual(rowsOf(await sql(NS.wiki, ["SELECT 1"]), 0), [["1"]]);
        figure(`third namespace created ${createdMs} ms after the Variable changed (bound ${bound} ms), DNS ${dnsMs} ms; plan in-place 1; ` +
            `alloc ${before.ID.slice(0, 8)} kept (version ${before.JobVersion} -> ${v}), sqld pid ${pidBefore}, restarts 0, StartedAt ${sqldBefore.StartedAt}`);
    });

    itWith(BINARIES, "after a purge, a new allocation with an empty data dir gets the rows back from S3; no argv held a secret", async () => {
        const rows = ["tea", "cake", "jam", "scone"];
        const put = await sql(NS.shop, rows.slice(1).map((item) => ({ sql: "INSERT INTO orders(item) VALUES (?)", args: [item] })));
        assert.equal(put.status, 200, put.body);
        await sleep(20_000); // bottomless uploads every 15 s (LIBSQL_BOTTOMLESS_BATCH_INTERVAL_SECS)
        const objects = filesUnder(path.join(s3!.root, BUCKET));
        if (!objects.some((o) => o.startsWith(`ns-test:${NS.shop}-`))) assert.fail(`no bottomless objects of ${NS.shop} in [${objects.join(", ")}]\n${await report()}`);
        const [old] = await allocs();
        const [oldPid] = sqldPid();
        const logOf = (allocId: string, task: string) => ["stdout", "stderr"].map((k) => {
            try { return readFileSync(path.join(dir, "nomad-data", "alloc", allocId, "alloc", "logs", `${task}.${k}.0`), "utf8"); } catch { return ""; }
        }).join("");
        // Bottomless stages its batches under sqld's working directory (here the task dir), not in alloc/data.
        const stagingDir = path.join(dir, "nomad-data", "alloc", old.ID, LIBSQL_TASKS.server, BUCKET);
        const staged = existsSync(stagingDir) ? `${filesUnder(stagingDir).length} files pending in <task dir>/${BUCKET}/` : `no <task dir>/${BUCKET}/`;
        let shutdown = "";
        let t = Date.now();
        const stop = spawnSync(NOMAD_BINARY, ["job", "stop", "-purge", "-detach", JOB], { env: { ...process.env, NOMAD_ADDR: n().url }, encoding: "utf8", timeout: 30_000 });
        assert.equal(stop.status, 0, stop.stderr);
        let last = "";
        await waitFor("the old sqld to exit and its allocation to be gone or terminal", async () => {
            const running = sqldPid().includes(oldPid);
            const a = await request(`${n().url}/v1/allocation/${old.ID}`);
            const status = a.status === 200 ? (JSON.parse(a.body) as Alloc).ClientStatus : `HTTP ${a.status}`;
            last = `sqld ${oldPid} ${running ? "running" : "gone"}, allocation ${status}`;
            shutdown = /shutdown gracefully/.test(logOf(old.ID, LIBSQL_TASKS.server)) ? "logged a graceful shutdown" : shutdown || "log gone before read";
            return !running && !["running", "pending"].includes(status) ? true : undefined;
        }, 90_000, 250).catch(async (e) => { throw new Error(`${e.message}: ${last}\n${await report()}`); });
        const oldGone = last;
        const stopMs = Date.now() - t;
        t = Date.now();
        await nomadApi(n(), "PUT", "/v1/jobs", { Job: job([NS.shop, NS.blog, NS.wiki]) });
        const fresh = await explained(waitFor("a new running allocation", async () => (await allocs()).find((a) => a.ClientStatus === "running"), 120_000, 250));
        const runningMs = Date.now() - t;
        assert.notEqual(fresh.ID, old.ID, "a new allocation");
        assert.ok(!(await alloc(fresh.ID)).PreviousAllocation, "no previous allocation: nothing migrated, the data dir starts empty");
        const restored = await explained(waitFor(`${NS.shop}'s rows`, async () => {
            const r = await sql(NS.shop, ["SELECT item FROM orders ORDER BY id"]);
            return r.status === 200 ? rowsOf(r, 0) : undefined;
        }, 90_000, 250));
        const restoreMs = Date.now() - t;
        assert.deepEqual(restored, rows.map((r) => [r]), "every row written before the stop is back");
        // The task log is written by Nomad's logmon behind the task: bounded wait for the line.
        await explained(waitFor("the sidecar's log line of the re-create", async () =>
            (new RegExp(`libsql-namespaces: created ${NS.shop}\\b`).test(logOf(fresh.ID, LIBSQL_TASKS.namespaces)) ? true : undefined), 10_000, 250));
        assert.match(logOf(fresh.ID, LIBSQL_TASKS.server), /Restoring from generation/, "sqld restored it from the bucket");
        for (const ns of [NS.blog, NS.wiki]) await waitFor(`${ns} re-created`, async () => ((await admin(ns)) === 200 ? true : undefined), 30_000, 250);
        assert.deepEqual(rowsOf(await sql(NS.blog, ["SELECT count(*) FROM sqlite_master WHERE name = 'posts'"]), 0), [["1"]], "blog's table is back too");
        const seen = argv!.stop();
        assert.ok(seen.samples > 100, `argv samples: ${seen.samples}`);
        assert.deepEqual(seen.hits, [], "no process argv held the admin key or the S3 secret");
        figure(`bottomless staging before the stop: ${staged}`);
        figure(`stop -purge until the old sqld exited ${stopMs} ms (${oldGone}; old sqld ${shutdown}); re-register until the new allocation runs ${runningMs} ms, until ${rows.length} rows read back ${restoreMs} ms (${NS.shop}, from ${objects.length} S3 objects); ` +
            `argv: ${seen.samples} samples of ${seen.processesSeen} process argvs, no secret; whole suite ${Math.round((Date.now() - t0) / 1000)} s`);
    });

    itWith(BINARIES, "a key rotation (new + old key in the job) replaces sqld on the same data; the old token is never refused, the new one works after", async () => {
        const [before] = (await allocs()).filter((a) => a.ClientStatus === "running");
        const next = randomBytes(32).toString("base64");
        const rotated = job([NS.shop, NS.blog, NS.wiki], [libsqlPublicKeyPem(next), libsqlPublicKeyPem(seed)]);
        const plan = await nomadApi<{ Annotations: { DesiredTGUpdates: Record<string, Record<string, number>> } }>(n(), "PUT", `/v1/job/${JOB}/plan`, { Job: rotated, Diff: true });
        const updates = plan.Annotations.DesiredTGUpdates.libsql;
        assert.deepEqual([updates.DestructiveUpdate ?? 0, updates.InPlaceUpdate ?? 0], [1, 0], `a template change is destructive (scheduler/util.go tasksUpdated): ${JSON.stringify(updates)}`);
        // The old token, as an app that has not rolled yet sends it, every 100 ms through the rollout.
        const answers: number[] = [];
        let rolling = true;
        const poll = (async () => {
            while (rolling) {
                answers.push(await sql(NS.shop, ["SELECT count(*) FROM orders"]).then((r) => r.status, () => 0));
                await sleep(100);
            }
        })();
        const start = Date.now();
        await deploy(rotated).finally(() => { rolling = false; });
        const deployMs = Date.now() - start;
        await poll;
        const fresh = (await allocs()).find((a) => a.ClientStatus === "running")!;
        assert.notEqual(fresh.ID, before.ID, "a new allocation");
        assert.equal((await alloc(fresh.ID)).PreviousAllocation, before.ID, "the sticky disk came along");
        assert.deepEqual(answers.filter((s) => s !== 200 && s !== 0), [], `only 200 or no connection while sqld was replaced: ${JSON.stringify(answers)}`);
        for (const key of [seed, next]) assert.equal((await hrana(ports.http, host(NS.shop), libsqlToken(NS.shop, key), ["SELECT count(*) FROM orders"])).status, 200);
        assert.deepEqual(rowsOf(await hrana(ports.http, host(NS.shop), libsqlToken(NS.shop, next), ["SELECT item FROM orders ORDER BY id"]), 0), [["tea"], ["cake"], ["jam"], ["scone"]]);
        const stranger = await hrana(ports.http, host(NS.shop), libsqlToken(NS.shop, randomBytes(32).toString("base64")), ["SELECT 1"]);
        assert.equal(stranger.status, 401, "a key in neither generation");
        const down = answers.filter((s) => s === 0).length;
        figure(`key rotation: plan destructive 1; deployment successful ${deployMs} ms after registration; old token answered ${answers.length - down}x 200, ` +
            `${down}x no connection (about ${down * 100} ms plus request time), 0x 401; rows kept (alloc ${before.ID.slice(0, 8)} -> ${fresh.ID.slice(0, 8)})`);
    });

    itWith(BINARIES, "a wrong S3 key: /health stays 200 but a namespace cannot be created, so the readiness check goes critical while libsql's DNS stays up", async () => {
        const checksOf = async (service: string) => (JSON.parse((await request(`${consul!.url}/v1/health/checks/${service}`)).body) as { Name: string; Status: string }[])
            .map((c) => [c.Name, c.Status]);
        const { server } = LIBSQL_VARIABLES;
        const serverItems = (secret: string) => ({ Path: server.path, Items: {
            [server.items.bucket]: BUCKET, [server.items.accessKeyId]: secrets.s3Key, [server.items.secretAccessKey]: secret,
        } });
        // From passing: the new allocation of the previous test reports its first check result within an interval.
        await explained(waitFor("namespaces-ready passing", async () => {
            const c = await checksOf(LIBSQL_READY_SERVICE);
            return c.length === 1 && c[0][1] === "passing" ? c : undefined;
        }, 60_000, 500));
        const start = Date.now();
        // The env template's change_mode is restart: sqld comes back with the wrong key.
        await nomadApi(n(), "PUT", `/v1/var/${server.path}`, serverItems(`${secrets.s3Secret}x`));
        await putShared([NS.shop, NS.blog, NS.wiki, "fault-check"]);
        const critical = await explained(waitFor("namespaces-ready critical", async () => {
            const c = await checksOf(LIBSQL_READY_SERVICE);
            return c.length === 1 && c[0][1] === "critical" ? c : undefined;
        }, 90_000, 500));
        const criticalMs = Date.now() - start;
        assert.equal((await request(`http://127.0.0.1:${ports.http}/health`)).status, 200, "/health does not see the backup");
        const faulty = await admin("fault-check");
        assert.ok([404, 500].includes(faulty), `the namespace could not be created (config answers ${faulty})`);
        assert.deepEqual(await checksOf(SERVICE_NAMES.libsql), [["sqld-health", "passing"]]);
        assert.deepEqual(await dnsA(NS.shop), ["127.0.0.1"], "apps still resolve the server");
        figure(`wrong S3 key: namespaces-ready ${JSON.stringify(critical)} ${criticalMs} ms after the Variables changed; /health 200; fault-check config ${faulty}; sqld-health passing`);
    });
});
