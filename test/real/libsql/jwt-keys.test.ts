/**
 * Issue 16, signing key rotation: what sqld 0.24.32 does with the key file the `libsql` job
 * writes (provisioning/jobs/libsql-job.ts, the `jwtKeys` template). sqld alone on 127.0.0.1 with
 * the job's flags (namespaces on, no default namespace), a temp dir, no backup. Checked: a file of
 * two PEM blocks (generation 2: the new key and the old one) lets tokens of either key in and
 * answers 401 to a third key's; sqld reads the file once, at start; an EMPTY key file starts sqld
 * with JWT authentication and no key, so every token gets 401 (libsqlJob refuses an empty set).
 */
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import { writeFileSync } from "fs";
import * as path from "path";
import { libsqlDatabaseUrl, libsqlNamespace, libsqlPublicKeyPem, libsqlToken } from "../../../provisioning/jobs/libsql-databases";
import { LIBSQL_TASKS, LIBSQL_TEMPLATE_PATHS, libsqlJob } from "../../../provisioning/jobs/libsql-job";
import { hrana, SQLD_BINARY } from "../harness/libsql";
import { freePorts, itWith, onPath, Processes, request, Started, tempDir, waitFor } from "../harness/runtime";

const NS = libsqlNamespace("shop", "orders");
const seeds = { old: randomBytes(32).toString("base64"), next: randomBytes(32).toString("base64"), stranger: randomBytes(32).toString("base64") };

/** The key file exactly as the job renders it for these keys (a literal template: no Variable behind it). */
function keyFileOf(seedList: string[]): string {
    const job = libsqlJob({
        datacenters: ["dc1"], architecture: "x86_64", namespaces: [NS], backup: { region: "eu-west-1", databaseId: "test" }, jwtPublicKeys: seedList.map(libsqlPublicKeyPem),
    });
    const sqld = job.TaskGroups[0].Tasks.find((t) => t.Name === LIBSQL_TASKS.server)!;
    const template = sqld.Templates!.find((t) => t.DestPath === LIBSQL_TEMPLATE_PATHS.jwtKeys)!;
    assert.ok(!template.EmbeddedTmpl.includes("{{"));
    return template.EmbeddedTmpl;
}

interface Sqld { started: Started; http: number; admin: number }

describe("real sqld 0.24.32: the JWT key file of a signing key rotation", function () {
    this.timeout(120_000);
    let processes: Processes | undefined;
    let dir = "";
    const adminKey = randomBytes(24).toString("hex");
    let t0 = 0;
    const figure = (text: string) => console.log(`      ${text}`);

    before(() => {
        if (!onPath(SQLD_BINARY)) return;
        t0 = Date.now();
        dir = tempDir("libsql-keys");
        processes = new Processes(path.join(dir));
    });
    after(async () => {
        await processes?.stopAll();
        if (t0) figure(`whole file ${Date.now() - t0} ms`);
    });

    /** sqld with the job's flags and `keyFile`, its admin key from the env (never argv), on free loopback ports; resolves once /health answers. */
    async function startSqld(name: string, keyFile: string): Promise<Sqld> {
        const [http, admin] = await freePorts(2);
        const started = processes!.start(name, onPath(SQLD_BINARY)!, [
            "--no-welcome", "--db-path", path.join(dir, `${name}-db`), "--http-listen-addr", `127.0.0.1:${http}`, "--admin-listen-addr", `127.0.0.1:${admin}`,
            "--enable-namespaces", "--disable-default-namespace", "--auth-jwt-key-file", keyFile,
        ], { cwd: dir, env: { PATH: process.env.PATH, LIBSQL_ADMIN_AUTH_KEY: adminKey, RUST_LOG: "info" } });
        await waitFor(`${name}'s /health`, async () => {
            if (started.child.exitCode !== null) throw new Error(`sqld exited ${started.child.exitCode}:\n${started.log().slice(-2000)}`);
            return (await request(`http://127.0.0.1:${http}/health`, {}, 2_000).catch(() => ({ status: 0 }))).status === 200 ? true : undefined;
        }, 20_000, 100);
        const create = await request(`http://127.0.0.1:${admin}/v1/namespaces/${NS}/create`, {
            method: "POST", headers: { Authorization: `Basic ${adminKey}`, "Content-Type": "application/json" }, body: "{}",
        });
        assert.equal(create.status, 200, create.body);
        return { started, http, admin };
    }
    /** The Hrana status of `SELECT 1` on the namespace's own host name, with a token of `seed` (none: no header). */
    const select = (s: Sqld, seed?: string) => hrana(s.http, `${new URL(libsqlDatabaseUrl(NS)).hostname}:${s.http}`, seed === undefined ? undefined : libsqlToken(NS, seed), ["SELECT 1"])
        .then((r) => r.status);

    itWith([SQLD_BINARY], "trusts both keys of a two-block file (generation 2), refuses a third key's token and none with 401; reads the file only at start", async () => {
        const file = path.join(dir, "two.pem");
        const text = keyFileOf([seeds.next, seeds.old]);
        assert.equal(text.match(/-----BEGIN PUBLIC KEY-----/g)?.length, 2);
        writeFileSync(file, text, { mode: 0o400 });
        const start = Date.now();
        const sqld = await startSqld("two-keys", file);
        const startMs = Date.now() - start;
        const answers = { next: await select(sqld, seeds.next), old: await select(sqld, seeds.old), stranger: await select(sqld, seeds.stranger), none: await select(sqld) };
        assert.deepEqual(answers, { next: 200, old: 200, stranger: 401, none: 401 });
        // The file is read once: rewritten to the stranger's key alone, sqld still trusts what it read.
        writeFileSync(file, keyFileOf([seeds.stranger]));
        const after = { stranger: await select(sqld, seeds.stranger), old: await select(sqld, seeds.old) };
        assert.deepEqual(after, { stranger: 401, old: 200 });
        figure(`two keys: healthy with the namespace ${startMs} ms after start; ${JSON.stringify(answers)}; after rewriting the file: ${JSON.stringify(after)}`);
    });

    itWith([SQLD_BINARY], "an EMPTY key file: sqld starts with JWT authentication and no key, answers 401 to every token; libsqlJob refuses an empty set", async () => {
        const file = path.join(dir, "empty.pem");
        writeFileSync(file, "", { mode: 0o400 });
        const sqld = await startSqld("empty-keys", file);
        const answers = { old: await select(sqld, seeds.old), next: await select(sqld, seeds.next), none: await select(sqld) };
        assert.deepEqual(answers, { old: 401, next: 401, none: 401 }, "no token gets in: authentication is not off");
        assert.equal((await request(`http://127.0.0.1:${sqld.http}/health`)).status, 200, "and /health still says healthy");
        assert.match(sqld.started.log(), /Using JWT-based authentication/);
        assert.equal(sqld.started.child.exitCode, null, "it keeps running");
        assert.throws(() => keyFileOf([]), /jwtPublicKeys is \[\]; at least one PEM PUBLIC KEY/);
        figure(`empty key file: sqld runs ("Using JWT-based authentication"), /health 200, ${JSON.stringify(answers)}`);
    });
});
