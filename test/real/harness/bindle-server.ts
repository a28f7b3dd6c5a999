/**
 * A real bindle-server started the way the project's `bindle` job starts it: the command line of
 * `bindleServerArgs` (provisioning/jobs/bindle-task.ts) on a BindleServerLocation on 127.0.0.1,
 * with `${NOMAD_SECRETS_DIR}`/`${NOMAD_TASK_DIR}` interpolated as Nomad does (concepts/
 * filesystem.mdx), and the files the project renders: the htpasswd line (htpasswdLine, as
 * BindleServer feeds it a `$2a$`/`$2b$` bcrypt hash), the host signing key file and the keyring
 * (components/bindle/keys.ts). A recording proxy in front counts what the clients send.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { hashSync } from "bcryptjs";
import { BindleKey } from "../../../components/bindle/keys";
import { BINDLE_PUSH_USER, bindleKeys, bindleVariableItems } from "../../../components/platform/bindle-server";
import { BINDLE_TEMPLATE_PATHS, BINDLE_VARIABLE_ITEMS, bindleServerArgs, bindleTask } from "../../../provisioning/jobs/bindle-task";
import { LOOPBACK } from "../../../provisioning/loopback";
import { freePort, onPath, Processes, request, Started, tempDir, waitFor } from "./runtime";

export const BINDLE_VERSIONS = ["0.8.2", "0.9.1"] as const;
export type BindleVersion = (typeof BINDLE_VERSIONS)[number];
export const bindleBinary = (v: BindleVersion) => `bindle-server-${v}`;

export interface RealBindle {
    readonly version: BindleVersion;
    /** API root of the server itself (`/v1`). */
    readonly directUrl: string;
    /** API root through the recording proxy. */
    readonly url: string;
    /** `--directory` of the server: invoices/ and parcels/. */
    readonly store: string;
    readonly username: string;
    readonly password: string;
    readonly creator: BindleKey;
    readonly host: BindleKey;
    readonly process: Started;
    /** Requests seen by the proxy: `METHOD path`. */
    readonly seen: string[];
}

const seed = () => crypto.randomBytes(32).toString("base64");

/** Fresh secrets of the Bindle job's Variable, built as BindleServer builds them (keys, htpasswd, keyring). */
export function bindleJobSecrets(): { items: Record<string, string>; password: string; host: BindleKey; creator: BindleKey } {
    const password = crypto.randomBytes(18).toString("base64url");
    const keys = bindleKeys(seed(), seed());
    return { items: bindleVariableItems(hashSync(password, 5), keys), password, ...keys };
}

/** What is known before the process starts (its files are written, its port chosen). */
export type PreparedBindle = Pick<RealBindle, "version" | "directUrl" | "store" | "username" | "password" | "creator" | "host">;

export interface StartOptions {
    /** Listen on this port (default: a free one). */
    readonly port?: number;
    /** Called once the files are written, before the process starts. */
    readonly onPrepared?: (prepared: PreparedBindle) => void;
    /** Wait this long between onPrepared and starting the process. */
    readonly startDelayMs?: number;
}

/**
 * A started server: `close` stops its proxy; `restart` stops the server process (as Nomad stops the
 * task), calls `whileStopped` and starts it again on the same store, port and files.
 */
export interface StartedBindle extends RealBindle {
    close(): Promise<void>;
    restart(whileStopped?: () => void | Promise<void>): Promise<void>;
}

/** Starts one version; the caller's Processes stops it. */
export async function startBindle(version: BindleVersion, processes: Processes, opts: StartOptions = {}): Promise<StartedBindle> {
    const binary = onPath(bindleBinary(version));
    if (!binary) throw new Error(`${bindleBinary(version)} not on PATH`);
    const root = processes.keepDir(tempDir(`bindle-${version}`));
    const taskDir = path.join(root, "task");
    const secretsDir = path.join(taskDir, "secrets");
    fs.mkdirSync(secretsDir, { recursive: true });
    fs.mkdirSync(path.join(taskDir, "local"), { recursive: true });

    // What BindleServer writes into the Nomad Variable, rendered by the job's templates.
    const { items, password, host, creator } = bindleJobSecrets();
    fs.writeFileSync(path.join(taskDir, BINDLE_TEMPLATE_PATHS.htpasswd), items[BINDLE_VARIABLE_ITEMS.htpasswd], { mode: 0o400 });
    fs.writeFileSync(path.join(taskDir, BINDLE_TEMPLATE_PATHS.signingKeys), items[BINDLE_VARIABLE_ITEMS.signingKeys], { mode: 0o400 });
    fs.writeFileSync(path.join(taskDir, BINDLE_TEMPLATE_PATHS.keyring), items[BINDLE_VARIABLE_ITEMS.keyring]);

    const port = opts.port ?? await freePort();
    const store = path.join(root, "data", "bindles");
    const directUrl = `http://${LOOPBACK}:${port}/v1`;
    opts.onPrepared?.({ version, directUrl, store, username: BINDLE_PUSH_USER, password, creator, host });
    if (opts.startDelayMs) await new Promise((r) => setTimeout(r, opts.startDelayMs));
    const args = bindleServerArgs({ address: `${LOOPBACK}:${port}`, directory: store })
        .map((a) => a.replace("${NOMAD_SECRETS_DIR}", secretsDir).replace("${NOMAD_TASK_DIR}", path.join(taskDir, "local")));
    const env = { ...process.env, ...bindleTask({ driver: "raw_exec", bindleServerBinary: binary, port, dataDir: path.join(root, "data") }, { cpuMhz: 100, memoryMb: 128 }).Env };
    const spawnServer = async (): Promise<Started> => {
        const s = processes.start(`bindle-${version}`, binary, args, { cwd: taskDir, env });
        await waitFor(`bindle-server ${version} /healthz`, async () => {
            if (s.child.exitCode !== null) throw new Error(`exited ${s.child.exitCode}: ${s.log()}`);
            return (await request(`http://${LOOPBACK}:${port}/healthz`)).status === 200 ? true : undefined;
        }, 30_000);
        return s;
    };
    let started = await spawnServer();

    const { url, seen, close } = await recordingProxy(port);
    return {
        version, directUrl, url, store, username: BINDLE_PUSH_USER, password, creator, host, seen, close,
        get process() { return started; },
        async restart(whileStopped) {
            await processes.stop(started);
            await whileStopped?.();
            started = await spawnServer();
        },
    };
}

/** A loopback proxy that forwards every request to `port` and records `METHOD path`. */
async function recordingProxy(port: number): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
        seen.push(`${req.method} ${req.url}`);
        const upstream = http.request({ host: LOOPBACK, port, method: req.method, path: req.url, headers: req.headers }, (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
        });
        upstream.on("error", () => { res.destroy(); });
        req.pipe(upstream);
    });
    await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
    const proxyPort = (server.address() as { port: number }).port;
    return { url: `http://${LOOPBACK}:${proxyPort}/v1`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

/** Parcel uploads among `seen` since index `from`. */
export const parcelPosts = (b: RealBindle, from = 0) => b.seen.slice(from).filter((s) => /^POST \/v1\/_i\/.+@[0-9a-f]{64}$/.test(s));

/**
 * Starts a parcel upload with the full Content-Length, sends `sendBytes` of the body and then
 * destroys the socket: an upload interrupted mid-body (a dropped connection, a killed `pulumi up`).
 */
export function interruptedUpload(b: RealBindle, id: string, sha: string, body: Buffer, sendBytes: number): Promise<void> {
    const url = new URL(`${b.directUrl}/_i/${id}@${sha}`);
    return new Promise((resolve) => {
        const req = http.request(url, {
            method: "POST",
            headers: { "Content-Type": "application/octet-stream", "Content-Length": body.length, Authorization: `Basic ${Buffer.from(`${b.username}:${b.password}`).toString("base64")}` },
        });
        req.on("error", () => resolve());
        req.write(body.subarray(0, sendBytes), () => setTimeout(() => { req.destroy(); resolve(); }, 300));
    });
}
