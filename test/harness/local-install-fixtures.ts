/**
 * Fixtures for the tests of provisioning/local/scripts/local-install.sh: the script and the bash to run
 * it with, a Nomad and a Traefik release (fake binaries in a zip and a tar.gz) served by the fake
 * release host (./local-release-server.ts) with their checksum files, signatures and key file, the
 * installer argv installArgs() builds with its URLs mirrored to that host, and a sandbox (HOME,
 * TMPDIR, a PATH of the tools the script may call) to run the installer in.
 *
 * One LocalInstallFixture serves one suite: `startSuite`/`endSuite` in before/after,
 * `startTest`/`endTest` in beforeEach/afterEach. Its helpers are arrow functions, so they can be
 * taken off the object.
 */
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import {
    LOCAL_PLATFORMS, LOCAL_RELEASES, LocalProduct, hostPlatform, installArgs, localArtifact, localBinaryPath, platformKey,
} from "../../provisioning/local/releases";
import { ReleaseServer, TestGnupg, fakeBinary, sha256, sumsFile, tarGzArchive, zipArchive } from "./local-release-server";

export const INSTALL_SCRIPT = path.join(__dirname, "..", "..", "provisioning", "local", "scripts", "local-install.sh");
/** /bin/bash: bash 3.2 on macOS, the oldest the script must run on. */
export const BASH = existsSync("/bin/bash") ? "/bin/bash" : "bash";
/** What the script may call; the sandbox PATH holds only these (so no real nomad/traefik is found). */
const TOOLS = [
    "awk", "cat", "chmod", "cp", "curl", "dirname", "gpg", "grep", "gzip", "head", "ln", "mkdir", "mktemp", "mv", "rm",
    "sed", "sha256sum", "shasum", "tar", "tr", "unzip",
];

export interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

export const isSymlink = (p: string) => {
    try {
        return lstatSync(p).isSymbolicLink();
    } catch {
        return false;
    }
};

export interface PublishNomadOptions {
    readonly zip?: Buffer;
    readonly sums?: string;
    readonly signer?: string;
    readonly servedKeys?: string[];
    readonly tamper?: (sums: string) => string;
}

export class LocalInstallFixture {
    readonly platform = hostPlatform();
    readonly key = platformKey(this.platform);
    server!: ReleaseServer;
    gnupg!: TestGnupg;
    /** The fingerprint of the key standing in for HashiCorp's. */
    trusted!: string;
    /** Another key, which must not be accepted. */
    attacker!: string;
    suiteDir!: string;
    toolsDir!: string;
    /** The test's HOME; the rest of the sandbox is under it. */
    tmp!: string;
    cache!: string;
    /** The script's TMPDIR. */
    scriptTmp!: string;
    /** First on the script's PATH: where putOnPath puts commands. */
    pathDir!: string;

    readonly nomadBinary = fakeBinary(["Nomad v1.11.2", "BuildDate 2026-02-11T10:00:00Z", "Revision 0123456789abcdef"]);
    readonly nomadZip = zipArchive([
        { name: "LICENSE.txt", data: Buffer.from("license\n"), mode: 0o644 },
        { name: "nomad", data: this.nomadBinary, mode: 0o755 },
    ]);
    readonly traefikBinary = fakeBinary(["Version:      3.7.12", "Codename:     test", "Go version:   go1.24", "Built:        now", "OS/Arch:      x/y"]);
    traefikArchive!: Buffer;

    // gpg runs are slow; the same inputs give interchangeable outputs.
    private readonly signatures = new Map<string, Buffer>();
    private readonly keyFiles = new Map<string, Buffer>();

    /** before(): the release host, the GnuPG keys, the Traefik archive and the tools directory. */
    readonly startSuite = async () => {
        this.server = await ReleaseServer.start();
        this.gnupg = new TestGnupg();
        this.trusted = this.gnupg.generateKey("Release Signing (test) <release@example.invalid>");
        this.attacker = this.gnupg.generateKey("Someone Else (test) <else@example.invalid>");
        this.traefikArchive = this.traefikTar();
        this.suiteDir = mkdtempSync(path.join(tmpdir(), "local-install-suite-"));
        this.toolsDir = path.join(this.suiteDir, "tools");
        mkdirSync(this.toolsDir);
        const found = spawnSync("sh", ["-c", 'for t in "$@"; do command -v "$t" || true; done', "sh", ...TOOLS], { encoding: "utf8" });
        for (const tool of found.stdout.split("\n").filter((l) => l.startsWith("/"))) {
            symlinkSync(tool, path.join(this.toolsDir, path.basename(tool)));
        }
    };

    /** after() */
    readonly endSuite = async () => {
        await this.server?.close();
        this.gnupg?.dispose();
        if (this.suiteDir) rmSync(this.suiteDir, { recursive: true, force: true });
    };

    /** beforeEach(): a fresh sandbox, and a release host that serves nothing and heard nothing. */
    readonly startTest = () => {
        this.tmp = mkdtempSync(path.join(tmpdir(), "local-install-"));
        this.cache = path.join(this.tmp, "cache");
        this.scriptTmp = path.join(this.tmp, "script-tmp");
        this.pathDir = path.join(this.tmp, "path");
        for (const dir of [this.scriptTmp, this.pathDir]) {
            mkdirSync(dir);
        }
        this.server.files.clear();
        this.server.requests.length = 0;
    };

    /** afterEach() */
    readonly endTest = () => {
        rmSync(this.tmp, { recursive: true, force: true });
    };

    readonly nomadArtifact = () => localArtifact("nomad", this.platform);
    readonly nomadZipName = () => this.nomadArtifact().url.split("/").pop()!;
    readonly nomadVerification = () => {
        const v = LOCAL_RELEASES.nomad.verification;
        assert.strictEqual(v.kind, "hashicorp-signed-sums");
        return v as Extract<typeof v, { kind: "hashicorp-signed-sums" }>;
    };
    /** A SHA256SUMS that lists every platform's zip (the others with made-up content). */
    readonly nomadSums = (zip: Buffer = this.nomadZip) => sumsFile(Object.fromEntries(LOCAL_PLATFORMS.map((p) => {
        const name = localArtifact("nomad", p).url.split("/").pop()!;
        return [name, platformKey(p) === this.key ? zip : `other ${name}`];
    })));

    /** Serves a Nomad release: the zip, its SHA256SUMS signed by `signer`, and `servedKeys` as the key file. */
    readonly publishNomad = (options: PublishNomadOptions = {}) => {
        const zip = options.zip ?? this.nomadZip;
        const sums = options.sums ?? this.nomadSums(zip);
        const v = this.nomadVerification();
        this.server.publish(this.nomadArtifact().url, zip);
        this.server.publish(v.signatureUrl, this.signature(options.signer ?? this.trusted, sums));
        this.server.publish(v.sumsUrl, options.tamper ? options.tamper(sums) : sums);
        this.server.publish(v.keyUrl, this.keyFile(options.servedKeys ?? [this.trusted]));
    };

    private signature(signer: string, data: string): Buffer {
        const id = `${signer}:${sha256(data)}`;
        if (!this.signatures.has(id)) this.signatures.set(id, this.gnupg.detachSign(signer, data));
        return this.signatures.get(id)!;
    }

    private keyFile(fingerprints: string[]): Buffer {
        const id = fingerprints.join(",");
        if (!this.keyFiles.has(id)) this.keyFiles.set(id, this.gnupg.exportPublic(...fingerprints));
        return this.keyFiles.get(id)!;
    }

    private traefikTar(): Buffer {
        return tarGzArchive([
            { name: "LICENSE.md", data: Buffer.from("license\n"), mode: 0o644 },
            { name: "CHANGELOG.md", data: Buffer.from("changes\n"), mode: 0o644 },
            { name: "traefik", data: this.traefikBinary, mode: 0o755 },
        ]);
    }

    /** Serves a Traefik release: the tar.gz and `sums` (by default a checksums file that lists it) as its checksums file. */
    readonly publishTraefik = (sums?: string) => {
        const artifact = localArtifact("traefik", this.platform);
        this.server.publish(artifact.url, this.traefikArchive);
        this.server.publish(LOCAL_RELEASES.traefik.verification.sumsUrl, sums ?? sumsFile({
            "traefik_v3.7.12_windows_amd64.zip": "windows",
            [artifact.url.split("/").pop()!]: this.traefikArchive,
        }));
    };

    /**
     * installArgs() with every https URL mirrored to the fake host; `sha256` replaces the pinned
     * value (null drops it) and `keyFingerprint` the pinned key (the test key stands in for HashiCorp's).
     */
    readonly argsFor = (product: LocalProduct, overrides: { sha256?: string | null; keyFingerprint?: string } = {}): string[] => {
        const args = installArgs(product, this.platform, this.cache).map((a) => (a.startsWith("https://") ? this.server.mirror(a) : a));
        const set = (flag: string, value: string | null | undefined) => {
            if (value === undefined) return;
            const i = args.indexOf(flag);
            if (value === null) {
                if (i >= 0) args.splice(i, 2);
            } else if (i >= 0) {
                args[i + 1] = value;
            } else {
                args.splice(args.indexOf("--sums-url"), 0, flag, value);
            }
        };
        set("--sha256", overrides.sha256);
        set("--key-fingerprint", overrides.keyFingerprint);
        return args;
    };

    /** Runs the installer asynchronously (the fake host answers on this process's event loop). */
    readonly install = (args: readonly string[]): Promise<Run> => {
        return new Promise((resolve, reject) => {
            const child = spawn(BASH, [INSTALL_SCRIPT, ...args], {
                env: { HOME: this.tmp, LANG: "C", PATH: `${this.pathDir}:${this.toolsDir}`, TMPDIR: this.scriptTmp },
                stdio: ["ignore", "pipe", "pipe"],
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            const timer = setTimeout(() => child.kill("SIGKILL"), 15000);
            child.on("error", reject);
            child.on("close", (status) => {
                clearTimeout(timer);
                resolve({ status, stdout, stderr });
            });
        });
    };

    readonly nomadDest = () => localBinaryPath(this.cache, "nomad");

    /** A failed run: exit 1, the error line, nothing at DEST, no temp files. */
    readonly assertFailed = (run: Run, message: RegExp, dest = this.nomadDest()) => {
        assert.strictEqual(run.status, 1, `${run.stdout}${run.stderr}`);
        assert.match(run.stderr, message);
        assert.ok(!existsSync(dest) && !isSymlink(dest), `nothing at ${dest}`);
        if (existsSync(path.dirname(dest))) {
            assert.deepStrictEqual(readdirSync(path.dirname(dest)), [], "no partial file next to DEST");
        }
        assert.deepStrictEqual(readdirSync(this.scriptTmp), [], "temporary directory removed");
    };

    /** Puts a fake `name` that prints `lines` first on the script's PATH; returns its path. */
    readonly putOnPath = (name: string, lines: string[]): string => {
        const file = path.join(this.pathDir, name);
        writeFileSync(file, fakeBinary(lines), { mode: 0o755 });
        return file;
    };
}
