/**
 * Where the local target gets its binaries: the release archives of Nomad, Consul, Traefik,
 * Bindle (bindle-server) and Spin at the versions pinned in `versions.ts`, for each host platform
 * (linux | darwin × amd64 | arm64), and how each download is verified. Data and pure functions
 * only; `scripts/local-install.sh` does the work, with exactly the argv `installArgs` builds.
 *
 * Verification rule (enforced by local-install.sh):
 * - HashiCorp (Nomad, Consul): the archive must match its line in `<p>_<v>_SHA256SUMS`, and that
 *   file must carry a valid detached signature by HashiCorp's release key, whose primary
 *   fingerprint is pinned here (a key file with any other key is refused before it is trusted).
 * - Spin, Traefik, Bindle: the archive must match its line in the release's published checksums
 *   file. That file is NOT signed and comes from the same place as the archive, so on its own it
 *   only catches corruption and a swapped archive, not a swapped release; it is the weaker check.
 * - Where `sha256` is pinned below, the archive must ALSO equal that value (and the sums file must
 *   agree with it). A pin is recorded only with its source (docs/research/local-binaries.md); an
 *   unknown value is `null`, never guessed.
 *
 * README-ready note: "The local installer verifies every download. Nomad and Consul are checked
 * against HashiCorp's SHA256SUMS, whose signature is verified with HashiCorp's release key
 * (fingerprint C874 011F 0AB4 0511 0D02 1055 3436 5D94 72D7 468F), and against sha256 values
 * pinned in the repository. Spin, Traefik and Bindle publish unsigned checksum files next to their
 * archives; the installer checks against those and, where the repository pins a sha256 for that
 * platform, against the pin too. Without a pin (Traefik darwin/amd64; Bindle except linux/amd64),
 * the download is only as trustworthy as the server it comes from."
 */
import { LocalBinaries } from "./local";
import { BINDLE, CONSUL, NOMAD, SPIN, TRAEFIK } from "./versions";

export type LocalOs = "linux" | "darwin";
export type LocalArch = "amd64" | "arm64";
export type LocalPlatform = { os: LocalOs; arch: LocalArch };
/** `<os>_<arch>`, as local-preflight.sh --print-platform prints it and HashiCorp names archives. */
export type LocalPlatformKey = `${LocalOs}_${LocalArch}`;

export const LOCAL_PLATFORMS: readonly LocalPlatform[] = [
    { os: "linux", arch: "amd64" },
    { os: "linux", arch: "arm64" },
    { os: "darwin", arch: "amd64" },
    { os: "darwin", arch: "arm64" },
];

/** The products, named as the keys of LocalBinaries. */
export type LocalProduct = keyof LocalBinaries;
export const LOCAL_PRODUCTS: readonly LocalProduct[] = ["consul", "nomad", "traefik", "bindleServer", "spin"];

export interface LocalArtifact {
    readonly url: string;
    readonly archive: "zip" | "tar.gz";
    /** Path of the binary inside the archive (all of them are at the archive's root). */
    readonly binaryInArchive: string;
    /** Pinned sha256 of the archive (64 lowercase hex), or null when no source for it was found. */
    readonly sha256: string | null;
}

export interface HashicorpSignedSums {
    readonly kind: "hashicorp-signed-sums";
    readonly sumsUrl: string;
    /** Detached (binary) OpenPGP signature over the sums file. */
    readonly signatureUrl: string;
    readonly keyUrl: string;
    /** Primary key fingerprint: 40 uppercase hex, no spaces. */
    readonly keyFingerprint: string;
}

export interface PublishedSums {
    readonly kind: "published-sums";
    /** The release's own (unsigned) checksums file, `sha256sum` format. */
    readonly sumsUrl: string;
}

export type LocalVerification = HashicorpSignedSums | PublishedSums;

export interface LocalRelease {
    /** Directory name in the cache and the name in the installer's messages. */
    readonly name: string;
    readonly version: string;
    /** File name of the installed binary (= the command looked up on PATH). */
    readonly binary: string;
    readonly artifacts: Readonly<Record<LocalPlatformKey, LocalArtifact>>;
    readonly verification: LocalVerification;
}

/**
 * HashiCorp's release-signing key (HCSEC-2021-12 rotation, short id 72D7468F). Fingerprint verified
 * from the armored key in hashicorp/hc-install `internal/pubkey/pubkey.go` (docs/research/local-binaries.md §1);
 * the key is published at https://www.hashicorp.com/.well-known/pgp-key.txt. Not the apt key in
 * versions.ts HASHICORP_APT.
 */
export const HASHICORP_RELEASE_KEY = {
    url: "https://www.hashicorp.com/.well-known/pgp-key.txt",
    fingerprint: "C874011F0AB405110D02105534365D9472D7468F",
} as const;

function hashicorpRelease(
    product: "nomad" | "consul",
    version: string,
    sha256: Readonly<Record<LocalPlatformKey, string | null>>,
): LocalRelease {
    const base = `https://releases.hashicorp.com/${product}/${version}`;
    const artifact = (key: LocalPlatformKey): LocalArtifact => ({
        url: `${base}/${product}_${version}_${key}.zip`,
        archive: "zip",
        binaryInArchive: product,
        sha256: sha256[key],
    });
    return {
        name: product,
        version,
        binary: product,
        artifacts: {
            linux_amd64: artifact("linux_amd64"),
            linux_arm64: artifact("linux_arm64"),
            darwin_amd64: artifact("darwin_amd64"),
            darwin_arm64: artifact("darwin_arm64"),
        },
        verification: {
            kind: "hashicorp-signed-sums",
            sumsUrl: `${base}/${product}_${version}_SHA256SUMS`,
            // The signature file named after the key's short id: hashicorp/hc-install prefers
            // `_SHA256SUMS.<keyid>.sig` for the key it trusts (checksum_downloader.go findSigFilename).
            signatureUrl: `${base}/${product}_${version}_SHA256SUMS.72D7468F.sig`,
            keyUrl: HASHICORP_RELEASE_KEY.url,
            keyFingerprint: HASHICORP_RELEASE_KEY.fingerprint,
        },
    };
}

/**
 * sha256 sources (all stored copies, see docs/research/local-binaries.md):
 * - Nomad/Consul: HashiCorp's Homebrew tap formulas (Formula/nomad.rb at 1.11.2, Formula/consul.rb
 *   at 1.22.0), which `brew` checks downloads against; nomad linux_amd64 also in a Salt URL/hash
 *   map; all four Consul values also in an independent tap formula.
 * - Spin: spinframework/homebrew-tap Formula/spin.rb at 3.4.0, copied by the tap's bump script
 *   from the release's checksums-v3.4.0.txt (linux values: versions.ts SPIN).
 * - Traefik linux: versions.ts TRAEFIK (single sources each); darwin_arm64: a third-party project
 *   note that says it matched the official checksums file (single source); darwin_amd64: not found.
 * - Bindle linux_amd64: fermyon/installer share/terraform/dependencies.yaml (checked by its
 *   startup.sh); the other three: not found.
 */
const NOMAD_RELEASE = hashicorpRelease("nomad", NOMAD.version, {
    linux_amd64: "e042b0f6f6648b149be7cfddac832214cf8ca17725e5f0e420b5b0547532bdcd", // HashiCorp tap + Salt map
    linux_arm64: "c1524421657c97117ffaa5130f8ca54ad10e8e083ecb849e1d864603ceb60825", // HashiCorp tap
    darwin_amd64: "dfe513bc81b6682ab7bc3822c2d37e1fccc1e99dfbbac91783707aabe18401b6", // HashiCorp tap
    darwin_arm64: "25147d8e14bac4b3072dbdc22b6cc9e356b0246dc5a1dc8ec5a40000077fe9a3", // HashiCorp tap
});

const CONSUL_RELEASE = hashicorpRelease("consul", CONSUL.version, {
    linux_amd64: "9891495a2defabc3d637b376c66550e9879102868fbe6456a9a683067ae20ae9", // HashiCorp tap + 2nd tap
    linux_arm64: "9481aec98bd198d919332e1bed75a62825a9b44cc341b1d56bbfbfb81c5a14c9", // HashiCorp tap + 2nd tap
    darwin_amd64: "eb949ef495d53c1a08d9564105e742ed9eb93ef4f05abafaa4c479b3895bb4b8", // HashiCorp tap + 2nd tap
    darwin_arm64: "6d9d58a2364d2ac23c816d6eb463ffcd10c568c547268fad310dc4299ac483e5", // HashiCorp tap + 2nd tap
});

const SPIN_DOWNLOAD = `https://github.com/spinframework/spin/releases/download/v${SPIN.version}`;
const spinArtifact = (asset: string, sha256: string): LocalArtifact => ({
    url: `${SPIN_DOWNLOAD}/spin-v${SPIN.version}-${asset}.tar.gz`,
    archive: "tar.gz",
    binaryInArchive: "spin", // tarball root (spinframework/spin .github/workflows/release.yml: tar czf … spin)
    sha256,
});
const SPIN_RELEASE: LocalRelease = {
    name: "spin",
    version: SPIN.version,
    binary: "spin",
    artifacts: {
        linux_amd64: spinArtifact("linux-amd64", SPIN.artifacts.x86_64.sha256), // spinframework tap (versions.ts)
        linux_arm64: spinArtifact("linux-aarch64", SPIN.artifacts.arm64.sha256), // spinframework tap (versions.ts)
        darwin_amd64: spinArtifact("macos-amd64", "ef31e7354b2d21093c5b8e8732f053d56e5cced284ea84c2d9d490b85fc0d4df"), // spinframework tap
        darwin_arm64: spinArtifact("macos-aarch64", "29e3a2eaa0f55541fba7914197969718a774da02969ee177b38972a603e1d0d3"), // spinframework tap
    },
    // `sha256sum * > checksums-${RELEASE_VERSION}.txt` in spinframework/spin release.yml; the tap's
    // bump-spin-formula.sh downloads it from this URL. Unsigned.
    verification: { kind: "published-sums", sumsUrl: `${SPIN_DOWNLOAD}/checksums-v${SPIN.version}.txt` },
};

const TRAEFIK_DOWNLOAD = `https://github.com/traefik/traefik/releases/download/v${TRAEFIK.version}`;
const traefikArtifact = (key: LocalPlatformKey, sha256: string | null): LocalArtifact => ({
    // traefik/traefik .goreleaser.yml.tmpl: name_template `{{ .ProjectName }}_v{{ .Version }}_{{ .Os }}_{{ .Arch }}`, tar.gz.
    url: `${TRAEFIK_DOWNLOAD}/traefik_v${TRAEFIK.version}_${key}.tar.gz`,
    archive: "tar.gz",
    binaryInArchive: "traefik",
    sha256,
});
const TRAEFIK_RELEASE: LocalRelease = {
    name: "traefik",
    version: TRAEFIK.version,
    binary: "traefik",
    artifacts: {
        linux_amd64: traefikArtifact("linux_amd64", TRAEFIK.artifacts.x86_64.sha256), // versions.ts (install guide)
        linux_arm64: traefikArtifact("linux_arm64", TRAEFIK.artifacts.arm64.sha256), // versions.ts (Ansible fixture)
        // Single third-party source: a project note saying it matched the official checksums file.
        darwin_arm64: traefikArtifact("darwin_arm64", "bb71997e9b2b3215f2a518d08a6689eba94252ca8d0376f68e11504518dd46f4"),
        darwin_amd64: traefikArtifact("darwin_amd64", null), // not found: checked against the sums file only
    },
    // traefik/traefik .github/workflows/release.yaml concatenates the per-OS goreleaser checksums
    // into `traefik_${VERSION}_checksums.txt` (VERSION = tag, v3.7.12). Unsigned.
    verification: { kind: "published-sums", sumsUrl: `${TRAEFIK_DOWNLOAD}/traefik_v${TRAEFIK.version}_checksums.txt` },
};

const BINDLE_DOWNLOAD = "https://bindle.blob.core.windows.net/releases";
const bindleArtifact = (asset: string, sha256: string | null): LocalArtifact => ({
    // deislabs/bindle release.yaml: `tar czf bindle-${RELEASE_VERSION}-${RUNNER_OS}-${arch}.tar.gz
    // README.md LICENSE.txt bindle bindle-server`, uploaded to this blob container.
    url: `${BINDLE_DOWNLOAD}/bindle-v${BINDLE.version}-${asset}.tar.gz`,
    archive: "tar.gz",
    binaryInArchive: "bindle-server",
    sha256,
});
const BINDLE_RELEASE: LocalRelease = {
    name: "bindle",
    version: BINDLE.version,
    binary: "bindle-server",
    artifacts: {
        // fermyon/installer share/terraform/dependencies.yaml (validated by its startup.sh).
        linux_amd64: bindleArtifact("linux-amd64", "dc6e21f80ef3ae7f719093ff80a14ce7143af2167e80c81a89f619b91074905c"),
        linux_arm64: bindleArtifact("linux-aarch64", null), // not found: sums file only
        darwin_amd64: bindleArtifact("macos-amd64", null), // not found: sums file only
        darwin_arm64: bindleArtifact("macos-aarch64", null), // not found: sums file only
    },
    // deislabs/bindle release.yaml: `sha256sum * > checksums-${RELEASE_VERSION}.txt`, same container
    // (docs/README.md names checksums-v0.4.1.txt there). Unsigned.
    verification: { kind: "published-sums", sumsUrl: `${BINDLE_DOWNLOAD}/checksums-v${BINDLE.version}.txt` },
};

export const LOCAL_RELEASES: Readonly<Record<LocalProduct, LocalRelease>> = {
    consul: CONSUL_RELEASE,
    nomad: NOMAD_RELEASE,
    traefik: TRAEFIK_RELEASE,
    bindleServer: BINDLE_RELEASE,
    spin: SPIN_RELEASE,
};

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

const SAFE_PATH = /^\/[A-Za-z0-9._+\/-]*$/;

/** `<cacheDir>/<name>/<version>/<binary>`: one deterministic path per product and version. */
export function localBinaryPath(cacheDir: string, product: LocalProduct, version: string = LOCAL_RELEASES[product].version): string {
    if (!SAFE_PATH.test(cacheDir) || cacheDir.split("/").includes("..")) {
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
 *   (provisioning/scripts/install.sh checks the same.)
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
 * The exact argv, after the script path, of `provisioning/scripts/local-install.sh` that installs
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
