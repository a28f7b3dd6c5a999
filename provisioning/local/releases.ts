/**
 * Where the local target gets its binaries: the release archives of Nomad, Consul, Traefik,
 * Bindle (bindle-server) and Spin at the versions pinned in `versions.ts`, for each host platform
 * (linux | darwin × amd64 | arm64), and how each download is verified. Pure functions only, over
 * the types of local-release-types.ts and the release table of local-release-table.ts (both
 * re-exported here); `scripts/local-install.sh` does the work, with exactly the argv `installArgs`
 * builds.
 *
 * Verification rule (enforced by local-install.sh):
 * - HashiCorp (Nomad, Consul): the archive must match its line in `<p>_<v>_SHA256SUMS`, and that
 *   file must carry a valid detached signature by HashiCorp's release key, whose primary
 *   fingerprint is pinned in local-release-table.ts (a key file with any other key is refused
 *   before it is trusted).
 * - Spin, Traefik, Bindle: the archive must match its line in the release's published checksums
 *   file. That file is NOT signed and comes from the same place as the archive, so on its own it
 *   only catches corruption and a swapped archive, not a swapped release; it is the weaker check.
 * - Where local-release-table.ts pins `sha256`, the archive must ALSO equal that value (and the
 *   sums file must agree with it). A pin is recorded only with its source
 *   (docs/research/local-binaries.md); an unknown value is `null`, never guessed.
 *
 * README-ready note: "The local installer verifies every download. Nomad and Consul are checked
 * against HashiCorp's SHA256SUMS, whose signature is verified with HashiCorp's release key
 * (fingerprint C874 011F 0AB4 0511 0D02 1055 3436 5D94 72D7 468F), and against sha256 values
 * pinned in the repository. Spin, Traefik and Bindle publish unsigned checksum files next to their
 * archives; the installer checks against those and, where the repository pins a sha256 for that
 * platform, against the pin too. Without a pin (Traefik darwin/amd64; Bindle except linux/amd64),
 * the download is only as trustworthy as the server it comes from."
 */
import { isSafeAbsolutePath } from "../loopback";
import { LocalBinaries } from "./node";
import { HASHICORP_RELEASE_KEY, LOCAL_RELEASES } from "./release-table";
import {
    LocalArch, LocalArtifact, LocalOs, LocalPlatform, LocalPlatformKey, LocalProduct, LOCAL_PLATFORMS, LOCAL_PRODUCTS,
} from "./release-types";

export { HASHICORP_RELEASE_KEY, LOCAL_PLATFORMS, LOCAL_PRODUCTS, LOCAL_RELEASES };
export type {
    HashicorpSignedSums, LocalArch, LocalArtifact, LocalOs, LocalPlatform, LocalPlatformKey, LocalProduct, LocalRelease,
    LocalVerification, PublishedSums,
} from "./release-types";

export function platformKey(platform: LocalPlatform): LocalPlatformKey {
    if ((platform.os !== "linux" && platform.os !== "darwin") || (platform.arch !== "amd64" && platform.arch !== "arm64")) {
        throw new Error(`unsupported platform ${JSON.stringify(platform)}; supported: linux|darwin × amd64|arm64`);
    }
    return `${platform.os}_${platform.arch}`;
}

/** Parses `<os>_<arch>` (local-preflight.sh --print-platform). */
export function parsePlatform(text: string): LocalPlatform {
    const match = /^(linux|darwin)_(amd64|arm64)$/.exec(text.trim());
    if (!match) {
        throw new Error(`unsupported platform ${JSON.stringify(text)}; supported: linux|darwin × amd64|arm64`);
    }
    return { os: match[1] as LocalOs, arch: match[2] as LocalArch };
}

/** The platform of this Node process (process.platform / process.arch). */
export function hostPlatform(platform: string = process.platform, arch: string = process.arch): LocalPlatform {
    const os = ({ linux: "linux", darwin: "darwin" } as Record<string, LocalOs | undefined>)[platform];
    const cpu = ({ x64: "amd64", arm64: "arm64" } as Record<string, LocalArch | undefined>)[arch];
    if (!os || !cpu) {
        throw new Error(`unsupported host ${platform}/${arch}; the local target runs on linux|darwin × x64|arm64`);
    }
    return { os, arch: cpu };
}

export function localArtifact(product: LocalProduct, platform: LocalPlatform): LocalArtifact {
    return LOCAL_RELEASES[product].artifacts[platformKey(platform)];
}

/** How strongly a download is checked, strongest first. */
export type VerificationLevel = "pinned+signed-sums" | "signed-sums" | "pinned+published-sums" | "published-sums";

export function verificationLevel(product: LocalProduct, platform: LocalPlatform): VerificationLevel {
    const pinned = localArtifact(product, platform).sha256 !== null;
    const signed = LOCAL_RELEASES[product].verification.kind === "hashicorp-signed-sums";
    if (signed) {
        return pinned ? "pinned+signed-sums" : "signed-sums";
    }
    return pinned ? "pinned+published-sums" : "published-sums";
}

/** `<cacheDir>/<name>/<version>/<binary>`: one deterministic path per product and version. */
export function localBinaryPath(cacheDir: string, product: LocalProduct, version: string = LOCAL_RELEASES[product].version): string {
    if (!isSafeAbsolutePath(cacheDir) || cacheDir.split("/").includes("..")) {
        throw new Error(`local binary cache is ${JSON.stringify(cacheDir)}; it must be an absolute path of [A-Za-z0-9._+/-] (no spaces, no ..)`);
    }
    if (!/^[0-9A-Za-z][0-9A-Za-z.+-]*$/.test(version)) {
        throw new Error(`${product}: version ${JSON.stringify(version)} is not a plain version string`);
    }
    const release = LOCAL_RELEASES[product];
    return `${cacheDir.replace(/\/+$/, "")}/${release.name}/${version}/${release.binary}`;
}

/** Where local-install.sh puts (or links) each pinned binary. */
export function localBinaries(cacheDir: string): LocalBinaries {
    return {
        consul: localBinaryPath(cacheDir, "consul"),
        nomad: localBinaryPath(cacheDir, "nomad"),
        traefik: localBinaryPath(cacheDir, "traefik"),
        bindleServer: localBinaryPath(cacheDir, "bindleServer"),
        spin: localBinaryPath(cacheDir, "spin"),
    };
}

export interface VersionCheck {
    /** Arguments that make the binary print its version. */
    readonly args: readonly string[];
    /** POSIX ERE (also a valid JS regex) that one whole output line must match (`grep -Ex`). */
    readonly linePattern: string;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * How to ask each binary for its version, and the line that proves the pinned one. Sources:
 * - `nomad version`: hashicorp/nomad command/version.go prints version.FullVersionNumber(true),
 *   whose first line is `Nomad v<version>` (then `BuildDate …`, `Revision …`), version/version.go.
 * - `consul version`: hashicorp/consul command/version/formatter.go, first line `Consul v<HumanVersion>`.
 * - `traefik version`: traefik/traefik cmd/version/version.go (registered in v3 cmd/traefik/traefik.go
 *   as cmdVersion.NewCmd()), line `Version:      <version>`; release builds set
 *   pkg/version.Version={{.Version}} (.goreleaser.yml.tmpl), goreleaser's version without the `v`.
 * - `bindle-server --version`: deislabs/bindle bin/server.rs, `#[clap(name = "bindle-server",
 *   version = clap::crate_version!())]`; clap prints `bindle-server <version>`.
 * - `spin --version`: spinframework/spin src/lib.rs, `SpinApp::command().version(build_info())`
 *   with build_info() = "<SPIN_VERSION> (<commit> <date>)"; clap prints `spin <that>`.
 *   (provisioning/aws/scripts/install.sh checks the same.)
 * Enterprise or prerelease builds (`Nomad v1.11.2+ent`, `-dev`) do not match: only the pinned build.
 */
export function versionCheck(product: LocalProduct): VersionCheck {
    const v = escapeRegex(LOCAL_RELEASES[product].version);
    switch (product) {
        case "nomad":
            return { args: ["version"], linePattern: `Nomad v${v}` };
        case "consul":
            return { args: ["version"], linePattern: `Consul v${v}` };
        case "traefik":
            return { args: ["version"], linePattern: `Version: +${v}` };
        case "bindleServer":
            return { args: ["--version"], linePattern: `bindle-server ${v}` };
        case "spin":
            return { args: ["--version"], linePattern: `spin ${v}( .*)?` };
    }
}

/** True when `output` (stdout+stderr of the version command) shows the pinned version. */
export function reportsPinnedVersion(product: LocalProduct, output: string): boolean {
    const pattern = new RegExp(`^(?:${versionCheck(product).linePattern})$`);
    return output.split(/\r?\n/).some((line) => pattern.test(line));
}

/**
 * The exact argv, after the script path, of `provisioning/local/scripts/local-install.sh` that installs
 * `product` for `platform` into `cacheDir` (at localBinaryPath). The Pulumi program and the tests
 * both use this.
 */
export function installArgs(product: LocalProduct, platform: LocalPlatform, cacheDir: string): string[] {
    const release = LOCAL_RELEASES[product];
    const artifact = localArtifact(product, platform);
    const check = versionCheck(product);
    const args = [
        "--name", release.name,
        "--version", release.version,
        "--dest", localBinaryPath(cacheDir, product),
        "--url", artifact.url,
        "--archive", artifact.archive,
        "--member", artifact.binaryInArchive,
    ];
    if (artifact.sha256 !== null) {
        args.push("--sha256", artifact.sha256);
    }
    const verification = release.verification;
    args.push("--sums-url", verification.sumsUrl);
    if (verification.kind === "hashicorp-signed-sums") {
        args.push(
            "--signature-url", verification.signatureUrl,
            "--key-url", verification.keyUrl,
            "--key-fingerprint", verification.keyFingerprint,
        );
    }
    for (const arg of check.args) {
        args.push("--version-arg", arg);
    }
    args.push("--version-pattern", check.linePattern);
    return args;
}
