/**
 * The AWS `bindle` job (provisioning/jobs/bindle-job.ts, exec runtime) under the real Nomad 1.6.3:
 * the 0.9.1 release tarball is an artifact checked against the release's sums file by Nomad's own
 * go-getter (v1.7.0, checksum.go `checksumFromFile`), unpacked into `local/`, run chrooted by exec
 * with the store on the host volume; a sums file that does not match stops the download (issue 13
 * "Bindle's image may not exist for the nodes' architecture", issue 14 "unsigned invoices").
 *
 * The tarball is built here from the bindle-server 0.9.1 on PATH, laid out as deislabs/bindle's
 * v0.9.1 release.yaml packs it, and served on 127.0.0.1. Harness changes to the rendered job, each
 * only to run it on this machine: the artifact URLs point at that server (same file names); the
 * service uses Nomad's provider (the harness starts no Consul agent); the static port is a free one; the task user is
 * `nobody` with the templates owned by it (the `bindle` user with uid 8085 is created by install.sh
 * on the clients, not here). Needs root (exec's chroot and cgroups).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { chownSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { createServer, Server } from "http";
import * as path from "path";
import { parseInvoice, renderInvoice, signInvoice } from "../../../components/bindle/invoice";
import { BINDLE_PUSH_USER } from "../../../components/platform/bindle-server";
import { BINDLE_HTTP_PATHS, bindleJob } from "../../../provisioning/jobs/bindle-job";
import { NomadJob } from "../../../provisioning/jobs/nomad-api";
import { BINDLE_HOST_VOLUME, JOB_IDS, jobVariablePath } from "../../../provisioning/platform";
import { BINDLE } from "../../../provisioning/versions";
import { NOMAD_BINARY, nomadApi, NomadAgent, startNomadDev, stopNomadJobs } from "../harness/nomad-dev";
import { freePort, itWith, onPath, Processes, request, tempDir, waitFor } from "../harness/runtime";
import { bindleJobSecrets } from "../harness/bindle-server";

const BINDLE_BINARY = "bindle-server-0.9.1";
const NOBODY = { uid: 65534, gid: 65534 };

/** Serves `dir` on 127.0.0.1 (GET of a file name), counting requests per path. */
async function serveDir(dir: string): Promise<{ server: Server; url: string; hits: Map<string, number> }> {
    const port = await freePort();
    const hits = new Map<string, number>();
    const server = createServer((req, res) => {
        const name = path.basename(req.url ?? "");
        hits.set(name, (hits.get(name) ?? 0) + 1);
        try { res.end(readFileSync(path.join(dir, name))); } catch { res.statusCode = 404; res.end(); }
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return { server, url: `http://127.0.0.1:${port}`, hits };
}

/** The rendered job with the harness changes of the file comment. */
function runnableHere(job: NomadJob, releaseUrl: string, sumsUrl: string, port: number, datacenter: string): NomadJob {
    const copy = JSON.parse(JSON.stringify(job)) as NomadJob;
    copy.Datacenters = [datacenter];
    const group = copy.TaskGroups[0];
    group.Networks![0].ReservedPorts![0].Value = port;
    for (const service of group.Services ?? []) (service as { Provider: string }).Provider = "nomad";
    // Every task (the repair prestart and the server): no download may leave 127.0.0.1.
    assert.deepEqual(group.Tasks.map((t) => t.Name), ["bindle-repair", "bindle"]);
    for (const task of group.Tasks) {
        if (task.User !== undefined) task.User = "nobody";
        for (const t of task.Templates ?? []) if (t.Uid !== undefined) { t.Uid = NOBODY.uid; t.Gid = NOBODY.gid; }
        for (const a of task.Artifacts ?? []) {
            const [source, query] = a.GetterSource.split("?");
            assert.equal(query, `checksum=file:${BINDLE.sumsUrl}`, "the rendered job checks the tarball against the release's sums file");
            a.GetterSource = `${releaseUrl}/${path.basename(source)}?checksum=file:${sumsUrl}`;
        }
    }
    assert.doesNotMatch(JSON.stringify(copy), /https?:\/\/(?!127\.0\.0\.1)/, "every URL in the job is on 127.0.0.1");
    return copy;
}

describe("real Nomad 1.6.3: the AWS Bindle job under exec, from the checksummed 0.9.1 tarball", function () {
    const processes = new Processes(tempDir("bindle-exec-logs"));
    const dir = tempDir("bindle-exec");
    let nomad: NomadAgent | undefined;
    let release: Awaited<ReturnType<typeof serveDir>> | undefined;
    const volume = path.join(dir, "bindle-volume");

    before(async function () {
        if (process.platform !== "linux" || process.getuid?.() !== 0) {
            console.log("      [skipped: the exec driver needs root on Linux]");
            this.skip();
        }
        if (!onPath(NOMAD_BINARY) || !onPath(BINDLE_BINARY)) return;
        // The tarball as release.yaml packs it: README.md LICENSE.txt bindle bindle-server.
        const pack = path.join(dir, "pack");
        const served = path.join(dir, "release");
        mkdirSync(pack);
        mkdirSync(served);
        copyFileSync(onPath(BINDLE_BINARY)!, path.join(pack, "bindle-server"));
        for (const f of ["README.md", "LICENSE.txt", "bindle"]) writeFileSync(path.join(pack, f), `${f}\n`);
        const tarball = path.basename(BINDLE.artifacts.x86_64.url);
        assert.equal(tarball, "bindle-v0.9.1-linux-amd64.tar.gz");
        const tar = spawnSync("tar", ["czf", path.join(served, tarball), "-C", pack, "README.md", "LICENSE.txt", "bindle", "bindle-server"]);
        assert.equal(tar.status, 0, String(tar.stderr));
        const sha = createHash("sha256").update(readFileSync(path.join(served, tarball))).digest("hex");
        // `sha256sum * > checksums-v0.9.1.txt`: every asset of the release, ours among them.
        writeFileSync(path.join(served, path.basename(BINDLE.sumsUrl)),
            `${"1".repeat(64)}  bindle-v0.9.1-linux-aarch64.tar.gz\n${sha}  ${tarball}\n${"2".repeat(64)}  bindle-v0.9.1-macos-amd64.tar.gz\n`);
        writeFileSync(path.join(served, "wrong-sums.txt"), `${"3".repeat(64)}  ${tarball}\n`);
        release = await serveDir(served);
        mkdirSync(volume, { mode: 0o750 });
        chownSync(volume, NOBODY.uid, NOBODY.gid);
        nomad = await startNomadDev(processes, dir, { exec: true, hostVolumes: { [BINDLE_HOST_VOLUME.name]: volume } });
    });

    after(async () => {
        if (nomad) await stopNomadJobs(nomad, dir).catch(() => undefined);
        await processes.stopAll();
        release?.server.close();
        spawnSync("rm", ["-rf", dir]);
    });

    const variable = async (agent: NomadAgent) => {
        const { items, password, creator } = bindleJobSecrets();
        const p = jobVariablePath(JOB_IDS.bindle);
        await nomadApi(agent, "PUT", `/v1/var/${p}`, { Path: p, Items: items });
        return { password, creator };
    };

    itWith([NOMAD_BINARY, BINDLE_BINARY], "refuses the download when the sums file's line for the tarball does not match", async () => {
        const agent = nomad!;
        await variable(agent);
        const rendered = bindleJob({ datacenters: ["dc1"], architecture: "x86_64" });
        const job = { ...runnableHere(rendered, release!.url, `${release!.url}/wrong-sums.txt`, await freePort(), "dc1"), ID: "bindle-wrong-sums", Name: "bindle-wrong-sums" };
        await nomadApi(agent, "PUT", "/v1/jobs", { Job: job });
        const failure = await waitFor("the artifact download to fail", async () => {
            const allocs = await nomadApi<{ ID: string }[]>(agent, "GET", `/v1/job/${job.ID}/allocations`);
            for (const a of allocs) {
                const alloc = await nomadApi<{ TaskStates?: Record<string, { Events: { Type: string; DisplayMessage: string }[] }> }>(agent, "GET", `/v1/allocation/${a.ID}`);
                // The server task downloads; the repair prestart before it has no artifact.
                const event = alloc.TaskStates?.bindle?.Events.find((e) => e.Type === "Failed Artifact Download");
                if (event) return event.DisplayMessage;
            }
            return undefined;
        }, 60_000, 500);
        // go-getter checksum.go: "Checksums did not match for <file>" (the expected value from the sums file).
        assert.match(failure, /Checksums did not match/, failure);
        assert.match(failure, new RegExp("3".repeat(64)), failure);
        await nomadApi(agent, "DELETE", `/v1/job/${job.ID}?purge=true`);
    });

    itWith([NOMAD_BINARY, BINDLE_BINARY], "downloads the tarball checked against the sums file, runs it chrooted on the volume, and the server refuses unsigned invoices", async () => {
        const agent = nomad!;
        const { password, creator } = await variable(agent);
        const port = await freePort();
        const rendered = bindleJob({ datacenters: ["dc1"], architecture: "x86_64" });
        assert.deepEqual(rendered.TaskGroups[0].Tasks.map((t) => t.Driver), ["exec", "exec"]);
        const job = runnableHere(rendered, release!.url, `${release!.url}/${path.basename(BINDLE.sumsUrl)}`, port, "dc1");
        await nomadApi(agent, "PUT", "/v1/jobs", { Job: job });
        const base = `http://127.0.0.1:${port}`;
        await waitFor("bindle-server's /healthz under exec", async () => ((await request(`${base}${BINDLE_HTTP_PATHS.health}`, {}, 2_000).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 120_000, 500);
        assert.ok((release!.hits.get(path.basename(BINDLE.sumsUrl)) ?? 0) >= 1, "go-getter fetched the sums file");
        assert.ok((release!.hits.get("bindle-v0.9.1-linux-amd64.tar.gz") ?? 0) >= 1);
        const health = await request(`${base}${BINDLE_HTTP_PATHS.health}`);
        assert.match(health.body, /0\.9\.1/, "0.9.1 answers its version on /healthz");

        const auth = `Basic ${Buffer.from(`${BINDLE_PUSH_USER}:${password}`).toString("base64")}`;
        const unsigned = "bindleVersion = \"1.0.0\"\n\n[bindle]\nname = \"exec-test\"\nversion = \"0.1.0\"\n";
        const post = await request(`${base}/v1/_i`, { method: "POST", body: unsigned, headers: { "content-type": "application/toml", authorization: auth } });
        assert.equal(post.status, 400, `an unsigned invoice is refused by 0.9.1: ${post.body}`);
        const anonymous = await request(`${base}/v1/_i`, { method: "POST", body: unsigned, headers: { "content-type": "application/toml" } });
        assert.equal(anonymous.status, 403);
        // A signed invoice is stored, on the host volume (`--directory` under the mount), by the task user.
        const signed = renderInvoice(signInvoice(parseInvoice(unsigned), { by: "spin-cloud pulumi", privateKey: creator.keypair }));
        const stored = await request(`${base}/v1/_i`, { method: "POST", body: signed, headers: { "content-type": "application/toml", authorization: auth } });
        assert.equal(stored.status, 201, stored.body);
        const entries = spawnSync("find", [volume, "-name", "invoice.toml", "-printf", "%P %U\\n"], { encoding: "utf8" }).stdout;
        assert.match(entries, new RegExp(`^bindles/invoices/[0-9a-f]{64}/invoice\\.toml ${NOBODY.uid}$`, "m"), entries);
    });
});
