/**
 * A fake release host for provisioning/local/scripts/local-install.sh: an HTTP server on 127.0.0.1 that
 * serves in-memory files and records every request, plus builders for what it serves: zip and
 * tar.gz archives, sha256sum-format checksum files, fake binaries that print a version, and a
 * throw-away GnuPG home whose keys sign checksum files.
 *
 * The server runs in the test's own process: run the installer with an async spawn, never
 * spawnSync (which would block the event loop the server answers on).
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { crc32 } from "zlib";

export class ReleaseServer {
    /** Path → content; change it freely between runs. */
    readonly files = new Map<string, Buffer>();
    /** Paths requested since the last `requests.length = 0`, in order. */
    readonly requests: string[] = [];

    private constructor(private readonly server: http.Server, readonly base: string) {}

    static async start(): Promise<ReleaseServer> {
        let self: ReleaseServer | undefined;
        const server = http.createServer((req, res) => {
            const urlPath = (req.url ?? "/").split("?")[0];
            self!.requests.push(urlPath);
            const body = self!.files.get(urlPath);
            if (req.method !== "GET" || body === undefined) {
                res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
                return;
            }
            res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length }).end(body);
        });
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(0, "127.0.0.1", () => resolve());
        });
        const port = (server.address() as AddressInfo).port;
        self = new ReleaseServer(server, `http://127.0.0.1:${port}`);
        return self;
    }

    /**
     * The URL this server answers for an https:// URL: `https://host/path` is served at
     * `/host/path`, so the real release URLs map one to one.
     */
    mirror(httpsUrl: string): string {
        if (!httpsUrl.startsWith("https://")) {
            throw new Error(`not an https URL: ${httpsUrl}`);
        }
        return `${this.base}/${httpsUrl.slice("https://".length)}`;
    }

    /** Serves `content` at the mirror of `httpsUrl`. */
    publish(httpsUrl: string, content: Buffer | string): void {
        this.files.set(new URL(this.mirror(httpsUrl)).pathname, Buffer.from(content));
    }

    close(): Promise<void> {
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}

export const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** `sha256sum` output for the given files (`<hex>  <name>` lines). */
export function sumsFile(files: Readonly<Record<string, Buffer | string>>): string {
    return Object.entries(files).map(([name, data]) => `${sha256(data)}  ${name}\n`).join("");
}

/** A POSIX shell script that prints `lines`, whatever its arguments. */
export function fakeBinary(lines: readonly string[]): Buffer {
    return Buffer.from(`#!/bin/sh\ncat <<'EOF'\n${lines.join("\n")}\nEOF\n`);
}

export interface ArchiveEntry {
    readonly name: string;
    readonly data: Buffer;
    readonly mode: number;
}

/** A zip (stored, no compression) of regular files, with their Unix modes. */
export function zipArchive(entries: readonly ArchiveEntry[]): Buffer {
    const locals: Buffer[] = [];
    const centrals: Buffer[] = [];
    let offset = 0;
    for (const entry of entries) {
        const name = Buffer.from(entry.name);
        const crc = crc32(entry.data);
        const local = Buffer.alloc(30);
        local.writeUInt32LE(0x04034b50, 0);
        local.writeUInt16LE(20, 4); // version needed
        local.writeUInt16LE(0, 6); // flags
        local.writeUInt16LE(0, 8); // method: stored
        local.writeUInt32LE(0, 10); // time, date
        local.writeUInt32LE(crc, 14);
        local.writeUInt32LE(entry.data.length, 18);
        local.writeUInt32LE(entry.data.length, 22);
        local.writeUInt16LE(name.length, 26);
        local.writeUInt16LE(0, 28);
        const central = Buffer.alloc(46);
        central.writeUInt32LE(0x02014b50, 0);
        central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix
        central.writeUInt16LE(20, 6);
        central.writeUInt16LE(0, 8);
        central.writeUInt16LE(0, 10);
        central.writeUInt32LE(0, 12);
        central.writeUInt32LE(crc, 16);
        central.writeUInt32LE(entry.data.length, 20);
        central.writeUInt32LE(entry.data.length, 24);
        central.writeUInt16LE(name.length, 28);
        central.writeUInt16LE(0, 30); // extra
        central.writeUInt16LE(0, 32); // comment
        central.writeUInt16LE(0, 34); // disk
        central.writeUInt16LE(0, 36); // internal attributes
        central.writeUInt32LE(((0o100000 | entry.mode) << 16) >>> 0, 38); // external: Unix mode
        central.writeUInt32LE(offset, 42);
        locals.push(local, name, entry.data);
        centrals.push(central, name);
        offset += local.length + name.length + entry.data.length;
    }
    const centralSize = centrals.reduce((n, b) => n + b.length, 0);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(centralSize, 12);
    end.writeUInt32LE(offset, 16);
    return Buffer.concat([...locals, ...centrals, end]);
}

function run(command: string, args: readonly string[], options: { cwd?: string; input?: Buffer } = {}) {
    const result = spawnSync(command, args, { cwd: options.cwd, input: options.input, maxBuffer: 64 * 1024 * 1024 });
    if (result.error || result.status !== 0) {
        throw new Error(`${command} ${args.join(" ")} failed: ${result.error?.message ?? `exit ${result.status}`}\n${result.stderr}`);
    }
    return result.stdout;
}

/** A tar.gz of regular files at the archive root (made with the system `tar`). */
export function tarGzArchive(entries: readonly ArchiveEntry[]): Buffer {
    const dir = mkdtempSync(path.join(tmpdir(), "release-tar-"));
    try {
        for (const entry of entries) {
            writeFileSync(path.join(dir, entry.name), entry.data, { mode: entry.mode });
        }
        const out = path.join(dir, "..", `${path.basename(dir)}.tar.gz`);
        run("tar", ["-czf", out, "-C", dir, ...entries.map((e) => e.name)]);
        const data = readFileSync(out);
        rmSync(out, { force: true });
        return data;
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/** A throw-away GnuPG home with ed25519 signing keys; `dispose()` stops its agent and deletes it. */
export class TestGnupg {
    readonly home = mkdtempSync(path.join(tmpdir(), "gpg-"));

    private gpg(args: readonly string[], input?: Buffer): Buffer {
        return run("gpg", ["--batch", "--homedir", this.home, "--pinentry-mode", "loopback", "--passphrase", "", ...args], { input });
    }

    /** Generates a key and returns its primary fingerprint (40 uppercase hex). */
    generateKey(uid: string): string {
        this.gpg(["--quick-gen-key", uid, "ed25519", "sign", "never"]);
        const colons = this.gpg(["--with-colons", "--fingerprint", "--list-keys", uid]).toString();
        const fprs = colons.split("\n").filter((l) => l.startsWith("fpr:")).map((l) => l.split(":")[9]);
        if (fprs.length !== 1) {
            throw new Error(`expected one key for ${uid}, found ${fprs.length}`);
        }
        return fprs[0];
    }

    /** The ASCII-armored public keys. */
    exportPublic(...fingerprints: string[]): Buffer {
        return this.gpg(["--armor", "--export", ...fingerprints]);
    }

    /** A detached binary signature (as HashiCorp's `_SHA256SUMS.sig`). */
    detachSign(fingerprint: string, data: Buffer | string): Buffer {
        return this.gpg(["--local-user", fingerprint, "--detach-sign", "--output", "-"], Buffer.from(data));
    }

    dispose(): void {
        spawnSync("gpgconf", ["--homedir", this.home, "--kill", "all"]);
        rmSync(this.home, { recursive: true, force: true });
    }
}
