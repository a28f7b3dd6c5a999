/**
 * The local target's installer: provisioning/local-releases.ts (release data, paths, the argv) and
 * provisioning/scripts/local-install.sh, run for real against a fake release host on 127.0.0.1
 * (test/harness/local-release-server.ts) with the argv installArgs() builds, its https URLs
 * mirrored to the fake host, and a throw-away GnuPG key standing in for HashiCorp's.
 */
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import {
    HASHICORP_RELEASE_KEY, LOCAL_PLATFORMS, LOCAL_PRODUCTS, LOCAL_RELEASES, LocalPlatform, LocalProduct, hostPlatform, installArgs,
    localArtifact, localBinaries, localBinaryPath, parsePlatform, platformKey, reportsPinnedVersion, verificationLevel, versionCheck,
} from "../provisioning/local-releases";
import { BINDLE, CONSUL, NOMAD, SPIN, TRAEFIK } from "../provisioning/versions";
import { ReleaseServer, TestGnupg, fakeBinary, sha256, sumsFile, tarGzArchive, zipArchive } from "./harness/local-release-server";
import { shellcheckFiles } from "./validators";

const SCRIPT = path.join(__dirname, "..", "provisioning", "scripts", "local-install.sh");
/** /bin/bash: bash 3.2 on macOS, the oldest the script must run on. */
const BASH = existsSync("/bin/bash") ? "/bin/bash" : "bash";
/** What the script may call; the sandbox PATH holds only these (so no real nomad/traefik is found). */
const TOOLS = [
    "awk", "cat", "chmod", "cp", "curl", "dirname", "gpg", "grep", "gzip", "head", "ln", "mkdir", "mktemp", "mv", "rm",
    "sed", "sha256sum", "shasum", "tar", "tr", "unzip",
];

const PINNED_VERSIONS: Record<LocalProduct, string> = {
    consul: CONSUL.version,
    nomad: NOMAD.version,
    traefik: TRAEFIK.version,
    bindleServer: BINDLE.version,
    spin: SPIN.version,
};

/** Sample first lines of each binary's version output, per the sources cited in versionCheck. */
const SAMPLE_OUTPUT: Record<LocalProduct, string> = {
    nomad: "Nomad v1.11.2\nBuildDate 2026-02-11T10:00:00Z\nRevision 0123456789abcdef",
    consul: "Consul v1.22.0\nRevision 0123456789ab\nBuild Date 2025-10-24T00:00:00Z\nProtocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)",
    traefik: "Version:      3.7.12\nCodename:     ramequin\nGo version:   go1.24.0\nBuilt:        2026-01-01T00:00:00Z\nOS/Arch:      linux/amd64",
    bindleServer: "bindle-server 0.8.2",
    spin: "spin 3.4.0 (0123456 2025-09-01)",
};

describe("local-releases.ts", () => {
    it("has a release for every product on all four platforms, at the versions in versions.ts", () => {
        assert.deepStrictEqual([...LOCAL_PRODUCTS].sort(), Object.keys(LOCAL_RELEASES).sort());
        for (const product of LOCAL_PRODUCTS) {
            const release = LOCAL_RELEASES[product];
            assert.strictEqual(release.version, PINNED_VERSIONS[product], product);
            assert.deepStrictEqual(Object.keys(release.artifacts).sort(), ["darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64"], product);
            for (const platform of LOCAL_PLATFORMS) {
                const artifact = localArtifact(product, platform);
                const file = artifact.url.split("/").pop()!;
                assert.match(artifact.url, /^https:\/\/[a-z0-9.-]+\/\S+$/, `${product} ${platformKey(platform)}`);
                assert.ok(file.includes(`${release.version}`), `${artifact.url} names ${release.version}`);
                assert.ok(file.endsWith(`.${artifact.archive}`), `${artifact.url} is a ${artifact.archive}`);
                assert.strictEqual(artifact.binaryInArchive, release.binary);
            }
            assert.ok(release.verification.sumsUrl.startsWith("https://") && release.verification.sumsUrl.includes(release.version), product);
        }
    });

    it("names the archives of each platform as the vendors do", () => {
        const names = (product: LocalProduct) => LOCAL_PLATFORMS.map((p) => localArtifact(product, p).url.split("/").pop());
        assert.deepStrictEqual(names("nomad"), ["nomad_1.11.2_linux_amd64.zip", "nomad_1.11.2_linux_arm64.zip", "nomad_1.11.2_darwin_amd64.zip", "nomad_1.11.2_darwin_arm64.zip"]);
        assert.deepStrictEqual(names("consul"), ["consul_1.22.0_linux_amd64.zip", "consul_1.22.0_linux_arm64.zip", "consul_1.22.0_darwin_amd64.zip", "consul_1.22.0_darwin_arm64.zip"]);
        assert.deepStrictEqual(names("spin"), ["spin-v3.4.0-linux-amd64.tar.gz", "spin-v3.4.0-linux-aarch64.tar.gz", "spin-v3.4.0-macos-amd64.tar.gz", "spin-v3.4.0-macos-aarch64.tar.gz"]);
        assert.deepStrictEqual(names("traefik"), ["traefik_v3.7.12_linux_amd64.tar.gz", "traefik_v3.7.12_linux_arm64.tar.gz", "traefik_v3.7.12_darwin_amd64.tar.gz", "traefik_v3.7.12_darwin_arm64.tar.gz"]);
        assert.deepStrictEqual(names("bindleServer"), ["bindle-v0.8.2-linux-amd64.tar.gz", "bindle-v0.8.2-linux-aarch64.tar.gz", "bindle-v0.8.2-macos-amd64.tar.gz", "bindle-v0.8.2-macos-aarch64.tar.gz"]);
        assert.strictEqual(LOCAL_RELEASES.spin.verification.sumsUrl, "https://github.com/spinframework/spin/releases/download/v3.4.0/checksums-v3.4.0.txt");
        assert.strictEqual(LOCAL_RELEASES.traefik.verification.sumsUrl, "https://github.com/traefik/traefik/releases/download/v3.7.12/traefik_v3.7.12_checksums.txt");
        assert.strictEqual(LOCAL_RELEASES.bindleServer.verification.sumsUrl, "https://bindle.blob.core.windows.net/releases/checksums-v0.8.2.txt");
    });

    it("pins sha256 only as 64 lowercase hex, and leaves exactly the unsourced ones null", () => {
        const unpinned: string[] = [];
        for (const product of LOCAL_PRODUCTS) {
            for (const platform of LOCAL_PLATFORMS) {
                const { sha256: pin } = localArtifact(product, platform);
                if (pin === null) {
                    unpinned.push(`${product} ${platformKey(platform)}`);
                } else {
                    assert.match(pin, /^[0-9a-f]{64}$/, `${product} ${platformKey(platform)}`);
                }
            }
        }
        assert.deepStrictEqual(unpinned, ["traefik darwin_amd64", "bindleServer linux_arm64", "bindleServer darwin_amd64", "bindleServer darwin_arm64"]);
        // The linux values are the ones the cloud install already uses.
        assert.strictEqual(localArtifact("spin", { os: "linux", arch: "amd64" }).sha256, SPIN.artifacts.x86_64.sha256);
        assert.strictEqual(localArtifact("traefik", { os: "linux", arch: "arm64" }).sha256, TRAEFIK.artifacts.arm64.sha256);
    });

    it("verifies HashiCorp downloads with the signed SHA256SUMS and the pinned release key", () => {
        assert.match(HASHICORP_RELEASE_KEY.fingerprint, /^[0-9A-F]{40}$/);
        assert.strictEqual(HASHICORP_RELEASE_KEY.fingerprint, "C874011F0AB405110D02105534365D9472D7468F");
        for (const product of ["nomad", "consul"] as const) {
            const v = LOCAL_RELEASES[product].verification;
            assert.strictEqual(v.kind, "hashicorp-signed-sums");
            if (v.kind !== "hashicorp-signed-sums") continue;
            const base = `https://releases.hashicorp.com/${product}/${PINNED_VERSIONS[product]}/${product}_${PINNED_VERSIONS[product]}`;
            assert.strictEqual(v.sumsUrl, `${base}_SHA256SUMS`);
            assert.strictEqual(v.signatureUrl, `${base}_SHA256SUMS.72D7468F.sig`);
            assert.strictEqual(v.keyUrl, "https://www.hashicorp.com/.well-known/pgp-key.txt");
            assert.strictEqual(v.keyFingerprint, HASHICORP_RELEASE_KEY.fingerprint);
        }
        for (const product of ["traefik", "bindleServer", "spin"] as const) {
            assert.strictEqual(LOCAL_RELEASES[product].verification.kind, "published-sums");
        }
        assert.strictEqual(verificationLevel("nomad", { os: "darwin", arch: "arm64" }), "pinned+signed-sums");
        assert.strictEqual(verificationLevel("traefik", { os: "darwin", arch: "amd64" }), "published-sums");
        assert.strictEqual(verificationLevel("bindleServer", { os: "linux", arch: "amd64" }), "pinned+published-sums");
    });

    it("puts each binary at one deterministic path under the cache", () => {
        assert.deepStrictEqual(localBinaries("/home/u/.cache/spin-cloud/"), {
            consul: "/home/u/.cache/spin-cloud/consul/1.22.0/consul",
            nomad: "/home/u/.cache/spin-cloud/nomad/1.11.2/nomad",
            traefik: "/home/u/.cache/spin-cloud/traefik/3.7.12/traefik",
            bindleServer: "/home/u/.cache/spin-cloud/bindle/0.8.2/bindle-server",
            spin: "/home/u/.cache/spin-cloud/spin/3.4.0/spin",
        });
        assert.strictEqual(localBinaryPath("/c", "nomad", "1.10.0"), "/c/nomad/1.10.0/nomad");
        for (const bad of ["relative/dir", "/with space", "/a/../b", ""]) {
            assert.throws(() => localBinaryPath(bad, "nomad"), /absolute path/, bad);
        }
        assert.throws(() => localBinaryPath("/c", "nomad", "../x"), /version/);
    });

    it("maps the host and preflight's platform names", () => {
        assert.deepStrictEqual(hostPlatform("linux", "x64"), { os: "linux", arch: "amd64" });
        assert.deepStrictEqual(hostPlatform("darwin", "arm64"), { os: "darwin", arch: "arm64" });
        assert.throws(() => hostPlatform("win32", "x64"), /unsupported host/);
        assert.throws(() => hostPlatform("linux", "ia32"), /unsupported host/);
        assert.deepStrictEqual(parsePlatform("darwin_amd64\n"), { os: "darwin", arch: "amd64" });
        assert.throws(() => parsePlatform("linux_x86_64"), /unsupported platform/);
        assert.throws(() => platformKey({ os: "freebsd", arch: "amd64" } as unknown as LocalPlatform), /unsupported platform/);
    });

    it("recognises exactly the pinned version in each binary's version output (JS and grep -Ex alike)", () => {
        const expectedArgs: Record<LocalProduct, string[]> = {
            nomad: ["version"], consul: ["version"], traefik: ["version"], bindleServer: ["--version"], spin: ["--version"],
        };
        const near: Record<LocalProduct, string[]> = {
            nomad: ["Nomad v1.11.20", "Nomad v1.11.2+ent", "Nomad v1.11.2-dev", "Nomad v1x11x2", "Nomad v1.11.1"],
            consul: ["Consul v1.22.0+ent", "Consul v1.22.01", "Consul v1.21.0"],
            traefik: ["Version:      3.7.120", "Version:      v3.7.12", "Version:3.7.12"],
            bindleServer: ["bindle-server 0.8.20", "bindle 0.8.2", "bindle-server 0.8.1"],
            spin: ["spin 3.4.00", "spin 3.4.0-pre0 (abc 2025-01-01)", "spin 3.3.0 (abc 2025-01-01)"],
        };
        for (const product of LOCAL_PRODUCTS) {
            const check = versionCheck(product);
            assert.deepStrictEqual(check.args, expectedArgs[product], product);
            assert.ok(reportsPinnedVersion(product, SAMPLE_OUTPUT[product]), `${product}: ${SAMPLE_OUTPUT[product]}`);
            for (const wrong of near[product]) {
                assert.ok(!reportsPinnedVersion(product, wrong), `${product} must not accept ${wrong}`);
            }
            // The script matches with grep -Ex: only the pinned line of the sample may match.
            const grep = spawnSync("grep", ["-Ex", "-e", check.linePattern], { input: [SAMPLE_OUTPUT[product], ...near[product], ""].join("\n"), encoding: "utf8" });
            assert.deepStrictEqual(grep.stdout.split("\n").filter(Boolean), SAMPLE_OUTPUT[product].split("\n").filter((l) => reportsPinnedVersion(product, l)), `${product}: grep -Ex '${check.linePattern}'`);
            assert.strictEqual(grep.stdout.split("\n").filter(Boolean).length, 1, product);
        }
        assert.ok(reportsPinnedVersion("spin", "spin 3.4.0"));
    });

    it("builds installer argv that local-install.sh parses back to the same plan (--dry-run)", () => {
        const cache = "/home/u/.cache/spin-cloud";
        for (const product of LOCAL_PRODUCTS) {
            for (const platform of LOCAL_PLATFORMS) {
                const release = LOCAL_RELEASES[product];
                const artifact = localArtifact(product, platform);
                const out = spawnSync(BASH, [SCRIPT, ...installArgs(product, platform, cache), "--dry-run"], { encoding: "utf8" });
                assert.strictEqual(out.status, 0, out.stderr);
                const v = release.verification;
                assert.deepStrictEqual(JSON.parse(out.stdout), {
                    name: release.name,
                    version: release.version,
                    dest: localBinaryPath(cache, product),
                    url: artifact.url,
                    archive: artifact.archive,
                    member: artifact.binaryInArchive,
                    sha256: artifact.sha256,
                    sumsUrl: v.sumsUrl,
                    signatureUrl: v.kind === "hashicorp-signed-sums" ? v.signatureUrl : null,
                    keyUrl: v.kind === "hashicorp-signed-sums" ? v.keyUrl : null,
                    keyFingerprint: v.kind === "hashicorp-signed-sums" ? v.keyFingerprint : null,
                    versionArgs: versionCheck(product).args,
                    versionPattern: versionCheck(product).linePattern,
                    archiveName: artifact.url.split("/").pop(),
                    command: release.binary,
                }, `${product} ${platformKey(platform)}`);
            }
        }
    });
});

interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

describe("local-install.sh", function () {
    this.timeout(20000);
    const platform = hostPlatform();
    const key = platformKey(platform);
    let server: ReleaseServer;
    let gnupg: TestGnupg;
    let trusted: string;
    let attacker: string;
    let suiteDir: string;
    let toolsDir: string;
    let tmp: string;
    let cache: string;
    let scriptTmp: string;
    let pathDir: string;

    const nomadBinary = fakeBinary(["Nomad v1.11.2", "BuildDate 2026-02-11T10:00:00Z", "Revision 0123456789abcdef"]);
    const nomadZip = zipArchive([
        { name: "LICENSE.txt", data: Buffer.from("license\n"), mode: 0o644 },
        { name: "nomad", data: nomadBinary, mode: 0o755 },
    ]);
    const nomadArtifact = () => localArtifact("nomad", platform);
    const nomadZipName = () => nomadArtifact().url.split("/").pop()!;
    const nomadVerification = () => {
        const v = LOCAL_RELEASES.nomad.verification;
        assert.strictEqual(v.kind, "hashicorp-signed-sums");
        return v as Extract<typeof v, { kind: "hashicorp-signed-sums" }>;
    };
    /** A SHA256SUMS that lists every platform's zip (the others with made-up content). */
    const nomadSums = (zip: Buffer = nomadZip) => sumsFile(Object.fromEntries(LOCAL_PLATFORMS.map((p) => {
        const name = localArtifact("nomad", p).url.split("/").pop()!;
        return [name, platformKey(p) === key ? zip : `other ${name}`];
    })));

    /** Serves a Nomad release: the zip, its SHA256SUMS signed by `signer`, and `servedKeys` as the key file. */
    function publishNomad(options: { zip?: Buffer; sums?: string; signer?: string; servedKeys?: string[]; tamper?: (sums: string) => string } = {}) {
        const zip = options.zip ?? nomadZip;
        const sums = options.sums ?? nomadSums(zip);
        const v = nomadVerification();
        server.publish(nomadArtifact().url, zip);
        server.publish(v.signatureUrl, signature(options.signer ?? trusted, sums));
        server.publish(v.sumsUrl, options.tamper ? options.tamper(sums) : sums);
        server.publish(v.keyUrl, keyFile(options.servedKeys ?? [trusted]));
    }

    // gpg runs are slow; the same inputs give interchangeable outputs.
    const signatures = new Map<string, Buffer>();
    const signature = (signer: string, data: string) => {
        const id = `${signer}:${sha256(data)}`;
        if (!signatures.has(id)) signatures.set(id, gnupg.detachSign(signer, data));
        return signatures.get(id)!;
    };
    const keyFiles = new Map<string, Buffer>();
    const keyFile = (fingerprints: string[]) => {
        const id = fingerprints.join(",");
        if (!keyFiles.has(id)) keyFiles.set(id, gnupg.exportPublic(...fingerprints));
        return keyFiles.get(id)!;
    };

    const traefikBinary = fakeBinary(["Version:      3.7.12", "Codename:     test", "Go version:   go1.24", "Built:        now", "OS/Arch:      x/y"]);
    const traefikTar = () => tarGzArchive([
        { name: "LICENSE.md", data: Buffer.from("license\n"), mode: 0o644 },
        { name: "CHANGELOG.md", data: Buffer.from("changes\n"), mode: 0o644 },
        { name: "traefik", data: traefikBinary, mode: 0o755 },
    ]);
    let traefikArchive: Buffer;

    function publishTraefik(sums?: string) {
        const artifact = localArtifact("traefik", platform);
        server.publish(artifact.url, traefikArchive);
        server.publish(LOCAL_RELEASES.traefik.verification.sumsUrl, sums ?? sumsFile({
            "traefik_v3.7.12_windows_amd64.zip": "windows",
            [artifact.url.split("/").pop()!]: traefikArchive,
        }));
    }

    /**
     * installArgs() with every https URL mirrored to the fake host; `sha256` replaces the pinned
     * value (null drops it) and `keyFingerprint` the pinned key (the test key stands in for HashiCorp's).
     */
    function argsFor(product: LocalProduct, overrides: { sha256?: string | null; keyFingerprint?: string } = {}): string[] {
        const args = installArgs(product, platform, cache).map((a) => (a.startsWith("https://") ? server.mirror(a) : a));
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
    }

    /** Runs the installer asynchronously (the fake host answers on this process's event loop). */
    function install(args: readonly string[]): Promise<Run> {
        return new Promise((resolve, reject) => {
            const child = spawn(BASH, [SCRIPT, ...args], {
                env: { HOME: tmp, LANG: "C", PATH: `${pathDir}:${toolsDir}`, TMPDIR: scriptTmp },
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
    }

    const nomadDest = () => localBinaryPath(cache, "nomad");

    /** A failed run: exit 1, the error line, nothing at DEST, no temp files. */
    function assertFailed(run: Run, message: RegExp, dest = nomadDest()) {
        assert.strictEqual(run.status, 1, `${run.stdout}${run.stderr}`);
        assert.match(run.stderr, message);
        assert.ok(!existsSync(dest) && !isSymlink(dest), `nothing at ${dest}`);
        if (existsSync(path.dirname(dest))) {
            assert.deepStrictEqual(readdirSync(path.dirname(dest)), [], "no partial file next to DEST");
        }
        assert.deepStrictEqual(readdirSync(scriptTmp), [], "temporary directory removed");
    }

    const isSymlink = (p: string) => {
        try {
            return lstatSync(p).isSymbolicLink();
        } catch {
            return false;
        }
    };

    function putOnPath(name: string, lines: string[]): string {
        const file = path.join(pathDir, name);
        writeFileSync(file, fakeBinary(lines), { mode: 0o755 });
        return file;
    }

    before(async () => {
        server = await ReleaseServer.start();
        gnupg = new TestGnupg();
        trusted = gnupg.generateKey("Release Signing (test) <release@example.invalid>");
        attacker = gnupg.generateKey("Someone Else (test) <else@example.invalid>");
        traefikArchive = traefikTar();
        suiteDir = mkdtempSync(path.join(tmpdir(), "local-install-suite-"));
        toolsDir = path.join(suiteDir, "tools");
        mkdirSync(toolsDir);
        const found = spawnSync("sh", ["-c", 'for t in "$@"; do command -v "$t" || true; done', "sh", ...TOOLS], { encoding: "utf8" });
        for (const tool of found.stdout.split("\n").filter((l) => l.startsWith("/"))) {
            symlinkSync(tool, path.join(toolsDir, path.basename(tool)));
        }
    });

    after(async () => {
        await server?.close();
        gnupg?.dispose();
        if (suiteDir) rmSync(suiteDir, { recursive: true, force: true });
    });

    beforeEach(() => {
        tmp = mkdtempSync(path.join(tmpdir(), "local-install-"));
        cache = path.join(tmp, "cache");
        scriptTmp = path.join(tmp, "script-tmp");
        pathDir = path.join(tmp, "path");
        for (const dir of [scriptTmp, pathDir]) {
            mkdirSync(dir);
        }
        server.files.clear();
        server.requests.length = 0;
    });

    afterEach(() => {
        rmSync(tmp, { recursive: true, force: true });
    });

    it("installs a HashiCorp zip checked against the pinned sha256 and the signed SHA256SUMS", async () => {
        publishNomad();
        const run = await install(argsFor("nomad", { sha256: sha256(nomadZip), keyFingerprint: trusted }));
        assert.strictEqual(run.status, 0, run.stderr);
        const dest = nomadDest();
        assert.match(run.stdout, new RegExp(`^nomad 1\\.11\\.2 installed at ${dest} \\(sha256 ${sha256(nomadZip)}, verified against the pinned sha256 and signed checksums file \\(key ${trusted}\\)\\)$`, "m"));
        const stat = lstatSync(dest);
        assert.ok(stat.isFile(), "a regular file");
        assert.strictEqual(stat.mode & 0o777, 0o755);
        assert.match(spawnSync(dest, ["version"], { encoding: "utf8" }).stdout, /^Nomad v1\.11\.2$/m);
        const v = nomadVerification();
        assert.deepStrictEqual([...server.requests].sort(), [nomadArtifact().url, v.sumsUrl, v.keyUrl, v.signatureUrl].map((u) => new URL(server.mirror(u)).pathname).sort());
        assert.deepStrictEqual(readdirSync(path.dirname(dest)), ["nomad"]);
        assert.deepStrictEqual(readdirSync(scriptTmp), []);
    });

    it("installs without a pinned sha256 when the signed SHA256SUMS matches", async () => {
        publishNomad();
        const run = await install(argsFor("nomad", { sha256: null, keyFingerprint: trusted }));
        assert.strictEqual(run.status, 0, run.stderr);
        assert.match(run.stdout, /verified against the signed checksums file/);
        assert.ok(statSync(nomadDest()).isFile());
    });

    it("refuses an archive that differs from the pinned sha256", async () => {
        publishNomad();
        const pinned = "0".repeat(64);
        const run = await install(argsFor("nomad", { sha256: pinned, keyFingerprint: trusted }));
        assertFailed(run, new RegExp(`^error: nomad 1\\.11\\.2: archive sha256 is ${sha256(nomadZip)}, not the pinned ${pinned} \\(http://127\\.0\\.0\\.1:\\d+/releases\\.hashicorp\\.com/\\S+\\.zip\\)$`, "m"));
    });

    it("refuses an archive the (signed) SHA256SUMS does not list", async () => {
        const sums = nomadSums().split("\n").filter((line) => !line.endsWith(nomadZipName())).join("\n");
        publishNomad({ sums });
        const run = await install(argsFor("nomad", { sha256: null, keyFingerprint: trusted }));
        assertFailed(run, new RegExp(`^error: nomad 1\\.11\\.2: ${nomadZipName().replace(/\./g, "\\.")} is not listed in the checksums file \\(http://127\\.0\\.0\\.1:\\d+/\\S+_SHA256SUMS\\)$`, "m"));
    });

    it("refuses an archive whose signed SHA256SUMS entry differs, even if it matches the pin", async () => {
        publishNomad({ sums: nomadSums(Buffer.from("another zip")) });
        const run = await install(argsFor("nomad", { sha256: sha256(nomadZip), keyFingerprint: trusted }));
        assertFailed(run, /^error: nomad 1\.11\.2: archive sha256 is [0-9a-f]{64}, but the checksums file lists [0-9a-f]{64} \(http:\/\/127\.0\.0\.1:\d+\/\S+\.zip\)$/m);
    });

    it("refuses a SHA256SUMS changed after it was signed", async () => {
        publishNomad({ tamper: (sums) => `${sums}${"f".repeat(64)}  extra.zip\n` });
        const run = await install(argsFor("nomad", { sha256: null, keyFingerprint: trusted }));
        assertFailed(run, new RegExp(`^error: nomad 1\\.11\\.2: the checksums file's signature does not verify with key ${trusted}: .*\\(http://127\\.0\\.0\\.1:\\d+/\\S+_SHA256SUMS\\.72D7468F\\.sig\\)$`, "m"));
    });

    it("refuses a key file whose key is not the pinned fingerprint", async () => {
        // A swapped release: sums signed by another key, and that key served as the key file.
        publishNomad({ signer: attacker, servedKeys: [attacker] });
        const run = await install(argsFor("nomad", { sha256: null, keyFingerprint: trusted }));
        assertFailed(run, new RegExp(`^error: nomad 1\\.11\\.2: the key file's primary key is '${attacker}', not the pinned fingerprint ${trusted} \\(http://127\\.0\\.0\\.1:\\d+/www\\.hashicorp\\.com/\\.well-known/pgp-key\\.txt\\)$`, "m"));
    });

    it("refuses a key file that carries another key next to the pinned one", async () => {
        publishNomad({ signer: attacker, servedKeys: [trusted, attacker] });
        const run = await install(argsFor("nomad", { sha256: null, keyFingerprint: trusted }));
        assertFailed(run, /^error: nomad 1\.11\.2: the key file's primary key is '[0-9A-F]{40} [0-9A-F]{40}', not the pinned fingerprint/m);
    });

    it("accepts the fingerprint with spaces and in lower case", async () => {
        publishNomad();
        const spaced = trusted.toLowerCase().replace(/(.{4})/g, "$1 ").trim();
        const run = await install(argsFor("nomad", { sha256: null, keyFingerprint: spaced }));
        assert.strictEqual(run.status, 0, run.stderr);
    });

    it("installs from a published (unsigned) checksums file", async () => {
        publishTraefik();
        const run = await install(argsFor("traefik", { sha256: null }));
        assert.strictEqual(run.status, 0, run.stderr);
        const dest = localBinaryPath(cache, "traefik");
        assert.match(run.stdout, new RegExp(`^traefik 3\\.7\\.12 installed at ${dest} \\(sha256 ${sha256(traefikArchive)}, verified against the checksums file\\)$`, "m"));
        assert.match(spawnSync(dest, ["version"], { encoding: "utf8" }).stdout, /^Version: +3\.7\.12$/m);
        assert.strictEqual(server.requests.length, 2);
        assert.ok(!server.requests.some((r) => /sig|pgp/.test(r)));

        rmSync(dest);
        const pinned = await install(argsFor("traefik", { sha256: sha256(traefikArchive) }));
        assert.strictEqual(pinned.status, 0, pinned.stderr);
        assert.match(pinned.stdout, /verified against the pinned sha256 and checksums file\)$/m);
    });

    it("refuses an archive that does not match the published checksums file", async () => {
        const name = localArtifact("traefik", platform).url.split("/").pop()!;
        publishTraefik(sumsFile({ [name]: "something else" }));
        const run = await install(argsFor("traefik", { sha256: null }));
        assertFailed(run, /^error: traefik 3\.7\.12: archive sha256 is [0-9a-f]{64}, but the checksums file lists [0-9a-f]{64} \(http:\/\/127\.0\.0\.1:\d+\/github\.com\/\S+\.tar\.gz\)$/m, localBinaryPath(cache, "traefik"));
    });

    it("does not download again when DEST already has the pinned version", async () => {
        publishNomad();
        const args = argsFor("nomad", { sha256: sha256(nomadZip), keyFingerprint: trusted });
        assert.strictEqual((await install(args)).status, 0);
        server.requests.length = 0;
        const again = await install(args);
        assert.strictEqual(again.status, 0, again.stderr);
        assert.strictEqual(again.stdout, `nomad 1.11.2 already installed at ${nomadDest()}\n`);
        assert.deepStrictEqual(server.requests, []);
    });

    it("links DEST to the command on PATH when it reports the pinned version, without downloading", async () => {
        const onPath = putOnPath("nomad", ["Nomad v1.11.2", "BuildDate 2026-02-11T10:00:00Z"]);
        const run = await install(argsFor("nomad", { keyFingerprint: trusted }));
        assert.strictEqual(run.status, 0, run.stderr);
        assert.strictEqual(run.stdout, `nomad 1.11.2 found on PATH at ${onPath}; linked ${nomadDest()} to it\n`);
        assert.ok(isSymlink(nomadDest()));
        assert.strictEqual(readlinkSync(nomadDest()), onPath);
        assert.deepStrictEqual(server.requests, []);
        // Next time the link itself is the installed binary.
        const again = await install(argsFor("nomad", { keyFingerprint: trusted }));
        assert.match(again.stdout, /already installed/);
        assert.deepStrictEqual(server.requests, []);
    });

    it("downloads when the command on PATH is another version, and replaces a stale DEST", async () => {
        const onPath = putOnPath("nomad", ["Nomad v1.10.0"]);
        mkdirSync(path.dirname(nomadDest()), { recursive: true });
        symlinkSync(onPath, nomadDest()); // e.g. linked earlier, then the PATH copy was upgraded
        publishNomad();
        const run = await install(argsFor("nomad", { sha256: sha256(nomadZip), keyFingerprint: trusted }));
        assert.strictEqual(run.status, 0, run.stderr);
        assert.match(run.stderr, /is not nomad 1\.11\.2; replacing it/);
        assert.match(run.stderr, /on PATH is not nomad 1\.11\.2 \(Nomad v1\.10\.0\); downloading/);
        assert.ok(lstatSync(nomadDest()).isFile(), "a downloaded file, not the link");
        assert.ok(server.requests.length > 0);
    });

    it("refuses a downloaded binary that does not report the pinned version", async () => {
        const wrongZip = zipArchive([{ name: "nomad", data: fakeBinary(["Nomad v1.10.0"]), mode: 0o755 }]);
        publishNomad({ zip: wrongZip });
        const run = await install(argsFor("nomad", { sha256: sha256(wrongZip), keyFingerprint: trusted }));
        assertFailed(run, /^error: nomad 1\.11\.2: the downloaded nomad does not print a line matching 'Nomad v1\\\.11\\\.2' for 'version'; it printed: Nomad v1\.10\.0 \(http:\/\/127\.0\.0\.1:\d+\/\S+\.zip\)$/m);
    });

    it("refuses an archive without the binary", async () => {
        const emptyZip = zipArchive([{ name: "README", data: Buffer.from("x"), mode: 0o644 }]);
        publishNomad({ zip: emptyZip });
        const run = await install(argsFor("nomad", { sha256: null, keyFingerprint: trusted }));
        assertFailed(run, /^error: nomad 1\.11\.2: cannot extract nomad from the archive: .*\(http:\/\/127\.0\.0\.1:\d+\/\S+\.zip\)$/m);
    });

    it("names the URL of a failed download", async () => {
        const run = await install(argsFor("nomad", { sha256: null, keyFingerprint: trusted }));
        assertFailed(run, /^error: nomad 1\.11\.2: download failed \(http:\/\/127\.0\.0\.1:\d+\/releases\.hashicorp\.com\/\S+\.zip\)$/m);
    });

    it("refuses plain http other than 127.0.0.1, before any download", async () => {
        const args = argsFor("nomad", { keyFingerprint: trusted });
        args[args.indexOf("--url") + 1] = "http://releases.example.invalid/nomad.zip";
        const run = await install(args);
        assertFailed(run, /^error: nomad 1\.11\.2: refusing a URL that is not https:\/\/ \(http:\/\/releases\.example\.invalid\/nomad\.zip\)$/m);
    });

    it("rejects incomplete or malformed arguments with exit 2", async () => {
        const full = argsFor("nomad", { keyFingerprint: trusted });
        const without = (flag: string) => {
            const args = [...full];
            args.splice(args.indexOf(flag), 2);
            return args;
        };
        for (const [args, message] of [
            [without("--sums-url"), /--sums-url is required/],
            [without("--key-url"), /go together/],
            [without("--version-pattern"), /--version-pattern is required/],
            [[...full, "--archive", "rar"], /--archive must be zip or tar.gz/],
            [[...full, "--sha256", "abc"], /--sha256 must be 64 lowercase hex/],
            [[...full, "--member", "../nomad"], /--member must be a relative path/],
            [[...full, "--dest", "relative/nomad"], /--dest must be an absolute/],
            [[...full, "--bogus"], /unknown argument '--bogus'/],
        ] as const) {
            const run = await install(args);
            assert.strictEqual(run.status, 2, `${args.join(" ")}\n${run.stderr}`);
            assert.match(run.stderr, message);
            assert.match(run.stderr, /usage: local-install\.sh/);
        }
        const help = await install(["--help"]);
        assert.strictEqual(help.status, 0);
        assert.match(help.stdout, /^usage: local-install\.sh/);
        assert.deepStrictEqual(server.requests, []);
    });

    it("is shellcheck-clean", () => {
        const result = shellcheckFiles([SCRIPT]).get(SCRIPT)!;
        assert.ok(result.ok, result.output);
    });
});
