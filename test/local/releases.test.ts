/**
 * The local target's release data: provisioning/local/releases.ts (releases, verification, paths,
 * version checks and the installer argv, which provisioning/local/scripts/local-install.sh --dry-run
 * parses back). The script's own behaviour is tested in local-install.test.ts.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import {
    HASHICORP_RELEASE_KEY, LOCAL_PLATFORMS, LOCAL_PRODUCTS, LOCAL_RELEASES, LocalPlatform, LocalProduct, hostPlatform, installArgs,
    localArtifact, localBinaries, localBinaryPath, parsePlatform, platformKey, reportsPinnedVersion, verificationLevel, versionCheck,
} from "../../provisioning/local/releases";
import { BINDLE, CONSUL, NOMAD, SPIN, TRAEFIK } from "../../provisioning/versions";
import { BASH, INSTALL_SCRIPT as SCRIPT } from "../harness/local-install-fixtures";

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
    bindleServer: "bindle-server 0.9.1",
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
        assert.deepStrictEqual(names("bindleServer"), ["bindle-v0.9.1-linux-amd64.tar.gz", "bindle-v0.9.1-linux-aarch64.tar.gz", "bindle-v0.9.1-macos-amd64.tar.gz", "bindle-v0.9.1-macos-aarch64.tar.gz"]);
        assert.strictEqual(LOCAL_RELEASES.spin.verification.sumsUrl, "https://github.com/spinframework/spin/releases/download/v3.4.0/checksums-v3.4.0.txt");
        assert.strictEqual(LOCAL_RELEASES.traefik.verification.sumsUrl, "https://github.com/traefik/traefik/releases/download/v3.7.12/traefik_v3.7.12_checksums.txt");
        assert.strictEqual(LOCAL_RELEASES.bindleServer.verification.sumsUrl, "https://bindle.blob.core.windows.net/releases/checksums-v0.9.1.txt");
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
        // Bindle 0.9.1: no digest reachable where it was pinned (versions.ts BINDLE); its sums file only.
        assert.deepStrictEqual(unpinned, ["traefik darwin_amd64", "bindleServer linux_amd64", "bindleServer linux_arm64", "bindleServer darwin_amd64", "bindleServer darwin_arm64"]);
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
        assert.strictEqual(verificationLevel("bindleServer", { os: "linux", arch: "amd64" }), "published-sums");
        assert.strictEqual(verificationLevel("spin", { os: "linux", arch: "amd64" }), "pinned+published-sums");
    });

    it("puts each binary at one deterministic path under the cache", () => {
        assert.deepStrictEqual(localBinaries("/home/u/.cache/spin-cloud/"), {
            consul: "/home/u/.cache/spin-cloud/consul/1.22.0/consul",
            nomad: "/home/u/.cache/spin-cloud/nomad/1.11.2/nomad",
            traefik: "/home/u/.cache/spin-cloud/traefik/3.7.12/traefik",
            bindleServer: "/home/u/.cache/spin-cloud/bindle/0.9.1/bindle-server",
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
            bindleServer: ["bindle-server 0.9.10", "bindle 0.9.1", "bindle-server 0.8.2"],
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
