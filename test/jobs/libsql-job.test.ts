/** The platform libSQL server's job (provisioning/jobs/libsql-job.ts) and its namespace sidecar script. */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { generateKeyPairSync } from "crypto";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import * as path from "path";
import {
    LIBSQL_DEFAULT_RESOURCES, LIBSQL_NAMESPACES_SCRIPT, LIBSQL_READY_SERVICE, LIBSQL_TASKS, LIBSQL_TEMPLATE_PATHS, LIBSQL_VARIABLES, LibsqlJobInput, libsqlJob, renderLibsqlJobspec,
} from "../../provisioning/jobs/libsql-job";
import { libsqlPublicKeyPem } from "../../provisioning/jobs/libsql-databases";
import { SECOND_NS } from "../../provisioning/jobs/nomad-api";
import { LIBSQL_PORTS, SERVICE_NAMES } from "../../provisioning/platform";
import { LIBSQL_SERVER } from "../../provisioning/versions";
import { assertValidNomadJob } from "../harness/nomad-job-schema";
import { shellcheckFiles } from "../harness/validators";

const KEYS = [libsqlPublicKeyPem(Buffer.alloc(32, 2).toString("base64")), libsqlPublicKeyPem(Buffer.alloc(32, 1).toString("base64"))];
const INPUT: LibsqlJobInput = {
    datacenters: ["dc1"], architecture: "arm64", namespaces: ["shop-orders", "blog-posts"], backup: { region: "eu-west-1", databaseId: "spin-cloud-dev" }, jwtPublicKeys: [KEYS[0]],
};
const SCRIPT = path.join(__dirname, "..", "..", "provisioning", "jobs", "libsql-namespaces.sh");

const taskOf = (input: LibsqlJobInput, name: string) => libsqlJob(input).TaskGroups[0].Tasks.find((t) => t.Name === name)!;
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe("libsql job", () => {
    it("is a valid Nomad job: one sqld (no canary, the old one stops first), a poststart sidecar, data on a sticky migrating disk", () => {
        const job = libsqlJob(INPUT);
        assertValidNomadJob(job, "libsql job");
        const [group] = job.TaskGroups;
        assert.equal(job.TaskGroups.length, 1);
        assert.equal(group.Count, 1);
        assert.equal(group.Update?.Canary, 0);
        assert.equal(group.Update?.MaxParallel, 1);
        // What runs is what Pulumi recorded: a failed rotation is not reverted under the apps' new tokens.
        assert.equal(group.Update?.AutoRevert, false);
        assert.deepEqual(group.EphemeralDisk, { SizeMB: LIBSQL_DEFAULT_RESOURCES.diskMb, Sticky: true, Migrate: true });
        assert.ok((group.StopAfterClientDisconnect ?? 0) > 0 && (group.StopAfterClientDisconnect ?? 0) <= 60 * SECOND_NS);
        assert.deepEqual(group.Tasks.map((t) => t.Name), [LIBSQL_TASKS.server, LIBSQL_TASKS.namespaces]);
        const sidecar = taskOf(INPUT, LIBSQL_TASKS.namespaces) as { Lifecycle?: unknown; RestartPolicy?: { Mode: string } };
        assert.deepEqual(sidecar.Lifecycle, { Hook: "poststart", Sidecar: true });
        assert.equal(sidecar.RestartPolicy?.Mode, "delay", "a failed sidecar would kill sqld");
        assert.deepEqual(job.Constraints?.map((c) => c.RTarget), ["spin", "arm64"]);
    });

    it("registers the libsql service with every namespace as a tag (Consul DNS <ns>.libsql.service.consul), sorted, checked on /health", () => {
        const service = libsqlJob(INPUT).TaskGroups[0].Services!.find((x) => x.Name === SERVICE_NAMES.libsql)!;
        assert.equal(service.Name, SERVICE_NAMES.libsql);
        assert.deepEqual(service.Tags, ["blog-posts", "shop-orders"]);
        assert.equal(service.Checks?.[0].Path, "/health");
        assert.deepEqual(libsqlJob({ ...INPUT, namespaces: [...INPUT.namespaces].reverse() }), libsqlJob(INPUT));
        assert.equal(renderLibsqlJobspec(INPUT), renderLibsqlJobspec({ ...INPUT }));
    });

    it("is healthy only once every namespace exists: a script check of the sidecar's ready file, on a service of its own (not libsql's DNS)", () => {
        const services = libsqlJob(INPUT).TaskGroups[0].Services!;
        assert.deepEqual(services.map((x) => x.Name), [SERVICE_NAMES.libsql, LIBSQL_READY_SERVICE]);
        const [check] = services[1].Checks!;
        assert.deepEqual({ Type: check.Type, TaskName: check.TaskName, Command: check.Command, Args: check.Args },
            { Type: "script", TaskName: LIBSQL_TASKS.namespaces, Command: "/bin/sh", Args: ["-c", "test -f /local/namespaces.ready || exit 2"] });
        const args = (taskOf(INPUT, LIBSQL_TASKS.namespaces).Config as { args: string[] }).args;
        assert.equal(args[args.length - 1], "${NOMAD_TASK_DIR}/namespaces.ready", "the file the script writes is the one the check tests");
        assert.equal(libsqlJob(INPUT).TaskGroups[0].Update?.HealthCheck, "checks");
    });

    it("adding a database changes only the service's tags, which Nomad updates in place (no task changes)", () => {
        const before = libsqlJob(INPUT).TaskGroups[0];
        const after = libsqlJob({ ...INPUT, namespaces: [...INPUT.namespaces, "news-items"] }).TaskGroups[0];
        assert.deepEqual(after.Tasks, before.Tasks);
        assert.deepEqual({ ...after, Services: [] }, { ...before, Services: [] });
        assert.notDeepEqual(after.Services, before.Services);
    });

    it("runs the pinned archive of the node's architecture, namespaces on, the admin API on loopback only", () => {
        for (const architecture of ["arm64", "x86_64"] as const) {
            const task = taskOf({ ...INPUT, architecture }, LIBSQL_TASKS.server);
            const pin = LIBSQL_SERVER.artifacts[architecture];
            assert.deepEqual(task.Artifacts, [{ GetterSource: pin.url, GetterOptions: { checksum: `sha256:${pin.sha256}` }, RelativeDest: "local/" }]);
            assert.match(pin.url, /^https:\/\/github\.com\/tursodatabase\/libsql\/releases\/download\/libsql-server-v0\.24\.32\/libsql-server-[a-z0-9_]+-unknown-linux-gnu\.tar\.xz$/);
            assert.equal((task.Config as { command: string }).command, `local/${pin.binary}`);
            const args = (task.Config as { args: string[] }).args;
            for (const flag of ["--enable-namespaces", "--disable-default-namespace", "--enable-bottomless-replication", "--no-welcome"]) assert.ok(args.includes(flag), flag);
            assert.equal(argAfter(args, "--admin-listen-addr"), `127.0.0.1:${LIBSQL_PORTS.admin}`);
            assert.equal(argAfter(args, "--http-listen-addr"), "${NOMAD_ADDR_http}");
            assert.equal(argAfter(args, "--db-path"), "${NOMAD_ALLOC_DIR}/data/sqld");
            assert.equal(argAfter(args, "--auth-jwt-key-file"), "${NOMAD_SECRETS_DIR}/libsql-jwt-keys.pem");
            assert.equal(task.User, "nobody");
            assert.deepEqual(task.Env, { LIBSQL_BOTTOMLESS_AWS_DEFAULT_REGION: "eu-west-1", LIBSQL_BOTTOMLESS_DATABASE_ID: "spin-cloud-dev", SQLD_SHUTDOWN_TIMEOUT: "20", RUST_LOG: "info" });
        }
    });

    it("hands secrets over through Variables only: sqld reads both, the sidecar only the shared one", () => {
        const server = taskOf(INPUT, LIBSQL_TASKS.server);
        const sidecar = taskOf(INPUT, LIBSQL_TASKS.namespaces);
        const env = server.Templates!.find((t) => t.DestPath === LIBSQL_TEMPLATE_PATHS.env)!;
        assert.equal(env.Envvars, true);
        for (const name of ["LIBSQL_ADMIN_AUTH_KEY", "LIBSQL_BOTTOMLESS_BUCKET", "LIBSQL_BOTTOMLESS_AWS_ACCESS_KEY_ID", "LIBSQL_BOTTOMLESS_AWS_SECRET_ACCESS_KEY"]) {
            assert.match(env.EmbeddedTmpl, new RegExp(`^${name}=\\{\\{ with nomadVar "nomad/jobs/libsql[^"]*" \\}\\}\\{\\{ \\.[a-z_]+\\.Value \\| toJSON \\}\\}\\{\\{ end \\}\\}$`, "m"));
        }
        assert.ok(JSON.stringify(server.Templates).includes(LIBSQL_VARIABLES.server.path));
        assert.ok(!JSON.stringify(sidecar).includes(LIBSQL_VARIABLES.server.path), "the sidecar cannot read the S3 key");
        const header = sidecar.Templates!.find((t) => t.DestPath === LIBSQL_TEMPLATE_PATHS.adminHeader)!;
        assert.equal(header.EmbeddedTmpl, `Authorization: Basic {{ with nomadVar "nomad/jobs/libsql" }}{{ .admin_key.Value }}{{ end }}\n`);
        assert.equal(header.Perms, "400");
        for (const t of [...server.Templates!, ...sidecar.Templates!]) assert.match(t.DestPath, /^(secrets|local)\//);
        const paths = new Set([...renderLibsqlJobspec(INPUT).matchAll(/nomadVar \\"([^\\]+)\\"/g)].map((m) => m[1]));
        assert.deepEqual([...paths].sort(), [LIBSQL_VARIABLES.shared.path, LIBSQL_VARIABLES.server.path]);
    });

    it("writes sqld's key file as a literal of the job: every given PEM, in order; another key set changes only that template", () => {
        const keyFile = (input: LibsqlJobInput) => taskOf(input, LIBSQL_TASKS.server).Templates!.find((t) => t.DestPath === LIBSQL_TEMPLATE_PATHS.jwtKeys)!;
        assert.equal(keyFile(INPUT).EmbeddedTmpl, KEYS[0]);
        const two = { ...INPUT, jwtPublicKeys: KEYS };
        assert.equal(keyFile(two).EmbeddedTmpl, KEYS[0] + KEYS[1]);
        assert.equal(keyFile(two).EmbeddedTmpl.match(/^-----BEGIN PUBLIC KEY-----$/gm)?.length, 2);
        assert.ok(!keyFile(two).EmbeddedTmpl.includes("{{"), "no Variable behind it");
        assert.equal(keyFile(two).Perms, "400");
        // A template change is a destructive update (nomad v1.6.3 scheduler/util.go tasksUpdated): checked with the real Nomad in test/real/nomad/libsql-server.test.ts.
        const [a, b] = [libsqlJob(INPUT), libsqlJob(two)];
        const otherTemplates = (job: typeof a) => job.TaskGroups[0].Tasks.map((t) => ({ ...t, Templates: t.Templates!.filter((x) => x.DestPath !== LIBSQL_TEMPLATE_PATHS.jwtKeys) }));
        assert.deepEqual(otherTemplates(b), otherTemplates(a));
        assert.deepEqual({ ...b.TaskGroups[0], Tasks: [] }, { ...a.TaskGroups[0], Tasks: [] });
        assert.notDeepEqual(b, a);
    });

    it("refuses a key set sqld would not verify tokens with: none, a private key, an RSA key, template code, two blocks in one entry, a key twice", () => {
        const privatePem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        const rsaPem = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }).toString();
        const bad: [string[], RegExp][] = [
            [[], /libsql job: jwtPublicKeys is \[\]; at least one PEM PUBLIC KEY: sqld refuses every token without one/],
            [[privatePem], /jwtPublicKeys\[0\] is "-----BEGIN PRIVATE KEY-----.*; must be exactly one PEM PUBLIC KEY block/],
            [[KEYS[0], rsaPem], /jwtPublicKeys\[1\] is .*; must be an Ed25519 public key .*; it is rsa/],
            [[KEYS[0].replace("\n", "\n{{ env \"X\" }}")], /jwtPublicKeys\[0\] is .*; must be PEM text without \{\{ or \}\}/],
            [[KEYS[0] + KEYS[1]], /jwtPublicKeys\[0\] is .*; must be exactly one PEM PUBLIC KEY block/],
            [[KEYS[0].trimEnd()], /jwtPublicKeys\[0\] is .*; must be exactly one PEM PUBLIC KEY block \(SPKI\), ending in a newline/],
            [[KEYS[1], KEYS[1]], /jwtPublicKeys\[1\] is .*; must be given once/],
        ];
        for (const [jwtPublicKeys, error] of bad) assert.throws(() => libsqlJob({ ...INPUT, jwtPublicKeys }), error);
    });

    it("refuses bad input, naming the field, the value and what is allowed", () => {
        const bad: [Partial<LibsqlJobInput>, RegExp][] = [
            [{ datacenters: [] }, /libsql job: datacenters is \[\]; at least one datacenter/],
            [{ namespaces: [] }, /namespaces is \[\]; the server is only built for at least one database/],
            [{ namespaces: ["Shop"] }, /namespaces\[0\] is "Shop"; must be a DNS label/],
            [{ namespaces: ["../x"] }, /namespaces\[0\] is "\.\.\/x"; must be a DNS label/],
            [{ namespaces: ["a", "a"] }, /namespaces\[1\] is "a"; must be given once/],
            [{ backup: { region: "moon", databaseId: "x" } }, /backup\.region is "moon"; must be an AWS region/],
            [{ backup: { region: "eu-west-1", databaseId: "A B" } }, /backup\.databaseId is "A B"/],
            [{ resources: { diskMb: 0 } }, /resources\.diskMb is 0; must be a positive integer/],
        ];
        for (const [override, error] of bad) assert.throws(() => libsqlJob({ ...INPUT, ...override }), error);
    });

    it("stops sqld within Nomad's capped kill timeout, its own shutdown (the last upload) first; never logs at debug", () => {
        const task = taskOf(INPUT, LIBSQL_TASKS.server);
        // Nomad caps kill_timeout at the client's max_kill_timeout, 30 s by default.
        assert.equal(task.KillTimeout, 30 * SECOND_NS);
        assert.equal(task.KillSignal, "SIGTERM");
        assert.ok(Number(task.Env!.SQLD_SHUTDOWN_TIMEOUT) * SECOND_NS < task.KillTimeout!, "sqld gives up before Nomad's SIGKILL");
        assert.equal(task.Env!.RUST_LOG, "info", "at debug the admin API logs the Authorization header");
    });

    it("lets a restore take as long as it takes: the sidecar's admin calls have a connect timeout only", () => {
        const calls = LIBSQL_NAMESPACES_SCRIPT.split("\n").filter((l) => /\bcurl\b/.test(l) && !l.trimStart().startsWith("#"));
        assert.equal(calls.length, 2);
        for (const call of calls) {
            assert.ok(!call.includes("--max-time") && !call.includes(" -m "), call);
            assert.ok(call.includes("--connect-timeout"), call);
        }
        assert.match(LIBSQL_NAMESPACES_SCRIPT, /^rm -f "\$ready"\nwhile :; do$/m, "a ready file that migrated is removed before the first round");
    });

    it("the sidecar script passes through Nomad's template engine verbatim and is shellcheck-clean", () => {
        assert.ok(!/\{\{|\}\}/.test(LIBSQL_NAMESPACES_SCRIPT));
        assert.equal(taskOf(INPUT, LIBSQL_TASKS.namespaces).Templates![0].EmbeddedTmpl, fs.readFileSync(SCRIPT, "utf8"));
        const [[, result]] = [...shellcheckFiles([SCRIPT])];
        assert.ok(result.ok, result.output);
    });
});

/** A stand-in for sqld's admin API with the answers read in admin/mod.rs (the real one: test/real/nomad/libsql-server.test.ts). */
function fakeAdmin(key: string, existing: string[]) {
    const namespaces = new Set(existing);
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => { body += c; });
        req.on("end", () => {
            seen.push(`${req.method} ${req.url}`);
            if (req.headers.authorization !== `Basic ${key}`) return res.writeHead(401).end();
            const m = /^\/v1\/namespaces\/([^/]+)\/(config|create)$/.exec(req.url ?? "");
            if (!m) return res.writeHead(404).end();
            const [, ns, what] = m;
            if (what === "config") return res.writeHead(namespaces.has(ns) ? 200 : 404).end("{}");
            if (req.headers["content-type"] !== "application/json") return res.writeHead(415).end();
            if (namespaces.has(ns)) return res.writeHead(400).end(`{"error":"Namespace \`${ns}\` already exists"}`);
            // What sqld answers when its backup bucket cannot be reached.
            if (ns === "unreachable") return res.writeHead(500).end(`{"error":"Internal Error: service error"}`);
            JSON.parse(body);
            namespaces.add(ns);
            return res.writeHead(200).end();
        });
    });
    return { server, namespaces, seen };
}

describe("libsql-namespaces.sh against an admin API", () => {
    let dir = "";
    beforeEach(() => { dir = fs.mkdtempSync(path.join(tmpdir(), "libsql-namespaces-")); });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("creates each missing namespace once, keeps existing ones, skips names that are not DNS labels, re-reads the list, and is ready only while all exist", async () => {
        const key = "admin-key-value";
        const admin = fakeAdmin(key, ["blog-posts"]);
        await new Promise<void>((done) => admin.server.listen(0, "127.0.0.1", done));
        const url = `http://127.0.0.1:${(admin.server.address() as AddressInfo).port}`;
        const list = path.join(dir, "namespaces.txt");
        const header = path.join(dir, "header");
        fs.writeFileSync(list, "blog-posts\nshop-orders\n../evil\n");
        fs.writeFileSync(header, `Authorization: Basic ${key}\n`);
        const ready = path.join(dir, "namespaces.ready");
        const child = spawn("/bin/sh", [SCRIPT, url, list, header, "0.2", ready], { env: { PATH: process.env.PATH, TMPDIR: dir }, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (c) => { out += c; });
        child.stderr.on("data", (c) => { out += c; });
        try {
            const until = async (pred: () => boolean, what: string) => {
                for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
                assert.ok(pred(), `${what}; output: ${out}`);
            };
            await until(() => admin.namespaces.has("shop-orders"), "shop-orders created");
            fs.writeFileSync(list, "blog-posts\nshop-orders\nnews-items");
            await until(() => admin.namespaces.has("news-items"), "a namespace added to the file (no trailing newline) is created");
            await until(() => out.includes("3 namespaces, 0 not ready") && fs.existsSync(ready), "the state line and the ready file");
            fs.writeFileSync(list, "blog-posts\nshop-orders\nnews-items\nunreachable\n");
            await until(() => !fs.existsSync(ready), "not ready while a namespace cannot be created");
            assert.match(out, /creating unreachable: the admin API answered 500/);
            fs.writeFileSync(list, "blog-posts\nshop-orders\nnews-items\n");
            await until(() => fs.existsSync(ready), "ready again");
        } finally {
            child.kill("SIGKILL");
            admin.server.close();
        }
        assert.deepEqual([...admin.namespaces].sort(), ["blog-posts", "news-items", "shop-orders"]);
        assert.equal(admin.seen.filter((s) => s.startsWith("POST") && !s.includes("unreachable")).length, 2, admin.seen.join("\n"));
        assert.ok(!admin.seen.some((s) => s.includes("evil")), "a name that is not a DNS label never reaches the API");
        assert.match(out, /skipping \.\.\/evil: not a DNS label/);
        assert.match(out, /created shop-orders/);
        assert.ok(!out.includes(key), "the key is never printed");
    });
});
