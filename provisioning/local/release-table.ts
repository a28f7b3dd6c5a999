/**
 * The release table of the local target: for Nomad, Consul, Traefik, Bindle (bindle-server) and
 * Spin at the versions pinned in `versions.ts`, the archive URL, archive kind, binary and pinned
 * sha256 per host platform, and the checksums (and, for HashiCorp, signature) files the installer
 * verifies against. The verification rule and the functions over this table: local-releases.ts.
 */
import { LocalArtifact, LocalPlatformKey, LocalProduct, LocalRelease } from "./release-types";
import { BINDLE, CONSUL, NOMAD, SPIN, TRAEFIK } from "../versions";

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
 * - Bindle 0.9.1: none found (versions.ts BINDLE); checked against the release's sums file only.
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

const bindleArtifact = (artifact: { readonly url: string; readonly sha256: string | null }): LocalArtifact => ({
    // deislabs/bindle v0.9.1 release.yaml: `bindle-server` at the tarball's root (versions.ts BINDLE).
    url: artifact.url,
    archive: "tar.gz",
    binaryInArchive: "bindle-server",
    sha256: artifact.sha256,
});
const BINDLE_RELEASE: LocalRelease = {
    name: "bindle",
    version: BINDLE.version,
    binary: "bindle-server",
    // Built with rustls (no OpenSSL) for every platform: they run on Debian 12, Ubuntu 24.04 and macOS.
    artifacts: {
        linux_amd64: bindleArtifact(BINDLE.artifacts.x86_64),
        linux_arm64: bindleArtifact(BINDLE.artifacts.arm64),
        darwin_amd64: bindleArtifact(BINDLE.macos.x86_64),
        darwin_arm64: bindleArtifact(BINDLE.macos.arm64),
    },
    // `sha256sum * > checksums-${RELEASE_VERSION}.txt` next to the tarballs. Unsigned.
    verification: { kind: "published-sums", sumsUrl: BINDLE.sumsUrl },
};

export const LOCAL_RELEASES: Readonly<Record<LocalProduct, LocalRelease>> = {
    consul: CONSUL_RELEASE,
    nomad: NOMAD_RELEASE,
    traefik: TRAEFIK_RELEASE,
    bindleServer: BINDLE_RELEASE,
    spin: SPIN_RELEASE,
};
