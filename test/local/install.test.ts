/**
 * The local target's installer, provisioning/local/scripts/local-install.sh, run for real against a fake
 * release host on 127.0.0.1 (test/harness/local-release-server.ts) with the argv installArgs()
 * builds, its https URLs mirrored to the fake host, and a throw-away GnuPG key standing in for
 * HashiCorp's; the fixtures are in test/harness/local-install-fixtures.ts. The release data and
 * the argv themselves are tested in local-releases.test.ts.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync } from "fs";
import * as path from "path";
import { localArtifact, localBinaryPath } from "../../provisioning/local/releases";
import { INSTALL_SCRIPT as SCRIPT, LocalInstallFixture, isSymlink } from "../harness/local-install-fixtures";
import { ReleaseServer, fakeBinary, sha256, sumsFile, zipArchive } from "../harness/local-release-server";
import { shellcheckFiles } from "../harness/validators";

describe("local-install.sh", function () {
    this.timeout(20000);
    const fixture = new LocalInstallFixture();
    const {
        platform, nomadZip, nomadArtifact, nomadZipName, nomadVerification, nomadSums, publishNomad, publishTraefik, argsFor, install,
        nomadDest, assertFailed, putOnPath,
    } = fixture;
    // Set by the hooks below, as the fixture's.
    let server: ReleaseServer;
    let trusted: string;
    let attacker: string;
    let traefikArchive: Buffer;
    let cache: string;
    let scriptTmp: string;

    before(async () => {
        await fixture.startSuite();
        ({ server, trusted, attacker, traefikArchive } = fixture);
    });

    after(() => fixture.endSuite());

    beforeEach(() => {
        fixture.startTest();
        ({ cache, scriptTmp } = fixture);
    });

    afterEach(() => fixture.endTest());

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
