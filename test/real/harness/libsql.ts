/**
 * What the libSQL server test (test/real/nomad/libsql-server.test.ts) needs beside Nomad: a dev
 * Consul on free loopback ports (DNS included), a Nomad agent of nomad-dev.ts joined to it,
 * s3s-fs as the S3 that bottomless writes to, the release archive layout served on 127.0.0.1,
 * Hrana requests with a chosen Host header, and a /proc sampler that looks for secrets in argv.
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { promises as dnsPromises } from "dns";
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "fs";
import { createServer, request as httpRequest, Server } from "http";
import * as path from "path";
import { CONSUL_BINARY } from "./consul-agent";
import { NomadAgent, NomadDevOptions, startNomadDev } from "./nomad-dev";
import { freePort, freePorts, Processes, request, Started, waitFor } from "./runtime";

export const S3S_BINARY = "s3s-fs";
/** sqld of tag libsql-server-v0.24.32 (docs/libsql.md "The binary, pinned"), under its versioned name. */
export const SQLD_BINARY = "sqld-0.24.32";

export interface ConsulDev { readonly started: Started; readonly http: number; readonly dns: number; readonly url: string }

/**
 * `consul agent -dev` (in-memory, server, no ACLs: DNS answers every service), every listener on
 * 127.0.0.1 and a free port, gRPC off (nothing here uses Connect). Flags: agent/config/flags.go
 * of hashicorp/consul v1.16.3.
 */
export async function startConsulDev(processes: Processes, dir: string): Promise<ConsulDev> {
    const [http, dns, server, serfLan, serfWan] = await freePorts(5);
    const started = processes.start("consul", CONSUL_BINARY, [
        "agent", "-dev", "-node", "libsql-test", "-bind", "127.0.0.1", "-client", "127.0.0.1", "-log-level", "info",
        `-http-port=${http}`, `-dns-port=${dns}`, `-server-port=${server}`, `-serf-lan-port=${serfLan}`, `-serf-wan-port=${serfWan}`,
        "-grpc-port=-1", "-grpc-tls-port=-1", "-https-port=-1",
    ], { cwd: dir });
    const url = `http://127.0.0.1:${http}`;
    await waitFor("a Consul dev leader", async () => {
        if (started.child.exitCode !== null) throw new Error(`consul exited ${started.child.exitCode}:\n${started.log().slice(-3000)}`);
        const leader = await request(`${url}/v1/status/leader`, {}, 2_000);
        return leader.status === 200 && leader.body.length > 4 ? true : undefined;
    }, 30_000, 250);
    return { started, http, dns, url };
}

/**
 * nomad-dev.ts's agent (server + client, node class `spin`, loopback, exec allowed) joined to
 * `consul`: its `consul.address` default is the Consul API client's default, which reads
 * CONSUL_HTTP_ADDR (nomad/structs/config/consul.go `DefaultConsulConfig` in hashicorp/nomad
 * v1.6.3), so the agent gets that variable in its environment. Resolves once the client has
 * fingerprinted Consul (`consul.version`, which a job with a Consul service is constrained on).
 */
export async function startNomadWithConsul(processes: Processes, dir: string, consul: ConsulDev, options: NomadDevOptions): Promise<NomadAgent> {
    const before = process.env.CONSUL_HTTP_ADDR;
    process.env.CONSUL_HTTP_ADDR = `127.0.0.1:${consul.http}`;
    let agent: NomadAgent;
    try {
        agent = await startNomadDev(processes, dir, options);
    } finally {
        if (before === undefined) delete process.env.CONSUL_HTTP_ADDR; else process.env.CONSUL_HTTP_ADDR = before;
    }
    await waitFor("the Nomad client's Consul fingerprint", async () => {
        const [stub] = JSON.parse((await request(`${agent.url}/v1/nodes`, {}, 2_000)).body) as { ID: string }[];
        const node = JSON.parse((await request(`${agent.url}/v1/node/${stub.ID}`, {}, 2_000)).body) as { Attributes: Record<string, string> };
        return node.Attributes["consul.version"] ? true : undefined;
    }, 60_000, 500);
    return agent;
}

export interface FakeS3 {
    readonly started: Started;
    readonly url: string;
    readonly root: string;
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
}

/**
 * s3s-fs (Nugine/s3s crates/s3s-fs: buckets are directories of `root`, SigV4 checked against the
 * one key pair). It takes its key only as flags (`--access-key`, `--secret-key`), so its own argv
 * holds the secret: it is the stand-in for AWS S3, not part of the platform.
 */
export async function startS3sFs(processes: Processes, root: string, bucket: string, key: { accessKeyId: string; secretAccessKey: string }): Promise<FakeS3> {
    mkdirSync(path.join(root, bucket), { recursive: true });
    const port = await freePort();
    const started = processes.start("s3s-fs", S3S_BINARY, [
        "--host", "127.0.0.1", "--port", String(port), "--access-key", key.accessKeyId, "--secret-key", key.secretAccessKey, root,
    ], { env: { ...process.env, RUST_LOG: "warn" } });
    const url = `http://127.0.0.1:${port}`;
    // Unsigned requests are answered (403), which is enough to know it listens.
    await waitFor("s3s-fs to listen", async () => {
        if (started.child.exitCode !== null) throw new Error(`s3s-fs exited ${started.child.exitCode}:\n${started.log().slice(-3000)}`);
        return (await request(`${url}/`, {}, 2_000)).status > 0 ? true : undefined;
    }, 20_000, 100);
    return { started, url, root, ...key };
}

/** Every file under `dir`, relative, sorted. */
export function filesUnder(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p); else out.push(path.relative(dir, p));
        }
    };
    try { walk(dir); } catch { /* not there yet */ }
    return out.sort();
}

export interface ServedArchive { readonly server: Server; readonly url: string; readonly sha256: string; readonly hits: () => number }

/**
 * A cargo-dist style archive (`<name>.tar.xz` holding `<name>/<binary>`, docs/libsql.md "The binary, pinned")
 * of the local binary, served at `http://127.0.0.1:<port>/<name>.tar.xz`.
 */
export async function serveReleaseArchive(dir: string, archiveName: string, binary: string, fromPath: string): Promise<ServedArchive> {
    const root = archiveName.replace(/\.tar\.xz$/, "");
    const pack = path.join(dir, "pack");
    mkdirSync(path.join(pack, root), { recursive: true });
    copyFileSync(fromPath, path.join(pack, root, binary));
    const file = path.join(dir, archiveName);
    // xz -0: the fastest preset; the layout and format are what matter, not the ratio.
    const tar = spawnSync("tar", ["-C", pack, "-I", "xz -0 -T2", "-cf", file, `${root}/${binary}`], { encoding: "utf8" });
    if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
    const body = readFileSync(file);
    const sha256 = createHash("sha256").update(body).digest("hex");
    let hits = 0;
    const server = createServer((req, res) => {
        if (req.url === `/${archiveName}`) { hits++; res.end(body); } else { res.statusCode = 404; res.end(); }
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return { server, url: `http://127.0.0.1:${port}/${archiveName}`, sha256, hits: () => hits };
}

export interface HranaResult { status: number; body: string; json?: { results?: { type: string; response?: { result?: { rows?: { type: string; value?: string }[][] } }; error?: { message: string } }[] } }

/**
 * `POST /v2/pipeline` (Hrana 2 over HTTP, libsql-hrana/src/proto.rs) sent to 127.0.0.1:`port` with
 * `Host: <host>` (sqld picks the namespace from its first label, db_factory.rs), as a client that
 * resolved `host` to this address would send it. node:http, since fetch does not let a caller set Host.
 */
export function hrana(port: number, host: string, token: string | undefined, sql: (string | { sql: string; args: string[] })[]): Promise<HranaResult> {
    const requests = [...sql.map((s) => typeof s === "string"
        ? { type: "execute", stmt: { sql: s } }
        : { type: "execute", stmt: { sql: s.sql, args: s.args.map((value) => ({ type: "text", value })) } }), { type: "close" }];
    const payload = JSON.stringify({ requests });
    return new Promise((resolve, reject) => {
        const req = httpRequest({
            host: "127.0.0.1", port, method: "POST", path: "/v2/pipeline", timeout: 20_000,
            headers: { Host: host, "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => {
                let json: HranaResult["json"];
                try { json = JSON.parse(body); } catch { /* an error text */ }
                resolve({ status: res.statusCode ?? 0, body, json });
            });
        });
        req.on("timeout", () => req.destroy(new Error("hrana request timed out")));
        req.on("error", reject);
        req.end(payload);
    });
}

/** The rows of the `i`-th result as plain values, or an error naming the answer. */
export function rowsOf(r: HranaResult, i: number): (string | undefined)[][] {
    const result = r.json?.results?.[i];
    if (r.status !== 200 || result?.type !== "ok") throw new Error(`hrana answered ${r.status}: ${r.body.slice(0, 500)}`);
    return (result.response?.result?.rows ?? []).map((row) => row.map((v) => v.value));
}

/** A resolver asking only 127.0.0.1:`port` (Consul's DNS), one try, bounded. */
export function consulResolver(port: number): dnsPromises.Resolver {
    const resolver = new dnsPromises.Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    return resolver;
}

/** The A records of `name`, or the DNS error code (ENOTFOUND = NXDOMAIN, ENODATA = no answer). */
export async function resolveA(resolver: dnsPromises.Resolver, name: string): Promise<string[] | { code: string }> {
    try {
        return await resolver.resolve4(name);
    } catch (e) {
        return { code: (e as NodeJS.ErrnoException).code ?? String(e) };
    }
}

/** Every process's pid and argv (NUL-separated arguments joined by spaces), from /proc. */
export function processArgvs(): [number, string][] {
    const out: [number, string][] = [];
    for (const d of readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        try { out.push([Number(d), readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ").trim()]); } catch { /* gone */ }
    }
    return out;
}

/** The pids whose argv contains `part`. */
export const pidsWithArgv = (part: string): number[] => processArgvs().filter(([, a]) => a.includes(part)).map(([pid]) => pid);

/**
 * Samples every process's argv (/proc/<pid>/cmdline) every `intervalMs` until `stop`, recording
 * any that contains one of `secrets`; `exempt(pid, argv)` leaves out a process on purpose.
 */
export function watchArgv(secrets: readonly string[], exempt: (argv: string) => boolean, intervalMs = 100) {
    const hits = new Map<string, string>();
    let samples = 0;
    let processesSeen = 0;
    const scan = () => {
        samples++;
        for (const [pid, argv] of processArgvs()) {
            processesSeen++;
            if (exempt(argv)) continue;
            for (const s of secrets) if (argv.includes(s)) hits.set(String(pid), argv.split(s).join("<secret>").slice(0, 300));
        }
    };
    const timer = setInterval(scan, intervalMs);
    timer.unref();
    return {
        stop() { clearInterval(timer); scan(); return { samples, processesSeen, hits: [...hits.entries()] }; },
    };
}
