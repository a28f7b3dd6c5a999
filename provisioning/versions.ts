/**
 * THE pinned versions of everything a node installs. Nothing else in the project names a version.
 *
 * Sources (checked when pinned):
 * - Nomad 1.11.2: hashicorp/nomad CHANGELOG.md, "## 1.11.2 (February 11, 2026)".
 * - Consul 1.22.0: hashicorp/consul CHANGELOG.md at tag v1.22.0 (entry dated October 24, 2025).
 * - Debian package versions: HashiCorp's apt repository names its builds `<version>-1`
 *   (e.g. `apt-get install nomad=1.6.3-1`, `consul=1.12.2-1` in HashiCorp-repo install scripts).
 * - Spin 3.4.0: spinframework/homebrew-tap Formula/spin.rb (version "3.4.0"), whose sha256 values
 *   are copied by the tap's bump script from the release's published checksums file.
 */
import { Architecture, assertNever } from "./types";

export interface HashicorpPackage {
    /** Debian package name in apt.releases.hashicorp.com. */
    readonly name: "consul" | "nomad";
    /** Upstream release, as `consul version` / `nomad version` prints it. */
    readonly version: string;
    /** Exact Debian version string to pin with `apt-get install <name>=<packageVersion>`. */
    readonly packageVersion: string;
}

export const CONSUL: HashicorpPackage = { name: "consul", version: "1.22.0", packageVersion: "1.22.0-1" };
export const NOMAD: HashicorpPackage = { name: "nomad", version: "1.11.2", packageVersion: "1.11.2-1" };

/**
 * HashiCorp's apt repository, per HashiCorp's install instructions (key from
 * https://apt.releases.hashicorp.com/gpg, `gpg --dearmor` into
 * /usr/share/keyrings/hashicorp-archive-keyring.gpg, then
 * `deb [arch=… signed-by=<keyring>] https://apt.releases.hashicorp.com <codename> main`).
 * The key's fingerprint is pinned so a swapped key file is refused, not trusted; it is the
 * fingerprint HashiCorp's packaging key is known by (`NO_PUBKEY AA16FCBCA621E701` in
 * hashicorp/terraform#32622 is its long ID).
 */
export const HASHICORP_APT = {
    url: "https://apt.releases.hashicorp.com",
    keyUrl: "https://apt.releases.hashicorp.com/gpg",
    keyFingerprint: "798AEC654E5C15428C8E42EEAA16FCBCA621E701",
    keyring: "/usr/share/keyrings/hashicorp-archive-keyring.gpg",
    sourcesList: "/etc/apt/sources.list.d/hashicorp.list",
} as const;

/** One downloadable Spin release asset and its published sha256. */
export interface SpinArtifact {
    readonly url: string;
    readonly sha256: string;
}

export interface SpinRelease {
    readonly version: string;
    readonly artifacts: Readonly<Record<Architecture, SpinArtifact>>;
}

const SPIN_VERSION = "3.4.0";
const SPIN_DOWNLOAD = `https://github.com/spinframework/spin/releases/download/v${SPIN_VERSION}`;

export const SPIN: SpinRelease = {
    version: SPIN_VERSION,
    artifacts: {
        arm64: {
            url: `${SPIN_DOWNLOAD}/spin-v${SPIN_VERSION}-linux-aarch64.tar.gz`,
            sha256: "07e4b15a24bbacf70df8de419505f8317d4c890050504c546e35157beceb25a4",
        },
        x86_64: {
            url: `${SPIN_DOWNLOAD}/spin-v${SPIN_VERSION}-linux-amd64.tar.gz`,
            sha256: "d8286b5feaa9c17eca4fd173d14cb9a4783a40bbb9c40fe8a80c33dcc19f9fd2",
        },
    },
};

/** The entry of a per-architecture table, refusing an architecture outside the type (from plain config). */
function forArchitecture<T>(table: Readonly<Record<Architecture, T>>, architecture: Architecture): T {
    switch (architecture) {
        case "arm64":
        case "x86_64":
            return table[architecture];
        default:
            return assertNever(architecture, "architecture");
    }
}

/** The Spin tarball of a node's architecture. */
export function spinArtifact(architecture: Architecture): SpinArtifact {
    return forArchitecture(SPIN.artifacts, architecture);
}

/**
 * The `arm64` / `amd64` name of an architecture: Debian's (`dpkg --print-architecture`, the apt
 * source line) and Go's GOARCH, which Nomad reports as `${attr.cpu.arch}`, agree on both.
 */
export function debianArchitecture(architecture: Architecture): "arm64" | "amd64" {
    switch (architecture) {
        case "arm64":
            return "arm64";
        case "x86_64":
            return "amd64";
        default:
            return assertNever(architecture, "architecture");
    }
}

/**
 * Traefik, run by the `traefik` Nomad job from its GitHub release tarball (the archive holds the
 * `traefik` binary at its root). Nomad verifies each download against `sha256`.
 *
 * Sources of the sha256 values (stored copies; the release's `traefik_v3.7.12_checksums.txt`
 * itself was not available to check against):
 * - linux_arm64: recorded as the "public release checksum" of traefik_v3.7.12_linux_arm64.tar.gz,
 *   with provenance github.com/traefik/traefik/releases/tag/v3.7.12, in an Ansible role's
 *   integration fixture that verifies the archive before use.
 * - linux_amd64: the value an install guide pipes to `sha256sum -c` for
 *   traefik_v3.7.12_linux_amd64.tar.gz downloaded from the same release.
 * A wrong value fails closed: Nomad refuses the artifact and the task does not start.
 */
export interface TraefikRelease {
    readonly version: string;
    readonly artifacts: Readonly<Record<Architecture, { readonly url: string; readonly sha256: string }>>;
}

const TRAEFIK_VERSION = "3.7.12";
const TRAEFIK_DOWNLOAD = `https://github.com/traefik/traefik/releases/download/v${TRAEFIK_VERSION}`;

export const TRAEFIK: TraefikRelease = {
    version: TRAEFIK_VERSION,
    artifacts: {
        arm64: {
            url: `${TRAEFIK_DOWNLOAD}/traefik_v${TRAEFIK_VERSION}_linux_arm64.tar.gz`,
            sha256: "c8d942f80be27c76a55ff483927b36e3be5b0b88299a177ec0882a1fa1c24374",
        },
        x86_64: {
            url: `${TRAEFIK_DOWNLOAD}/traefik_v${TRAEFIK_VERSION}_linux_amd64.tar.gz`,
            sha256: "c3b2634fc5421626641e2f4256108c08078a9b2662f649d770af78e5e5d729a2",
        },
    },
};

/**
 * The Bindle server: deislabs/bindle's v0.9.1 release tarball, on both targets (the AWS `bindle`
 * job under `exec`, the local job under `raw_exec`). Why this build and not an image or v0.8.2:
 * docs/bindle.md "Runtime decision".
 *
 * Source: deislabs/bindle `.github/workflows/release.yaml` at tag v0.9.1 (commit 175db03):
 * - every build runs `cargo build --release --no-default-features --features
 *   rustls-tls,cli,server,client,caching` (linux amd64 on ubuntu-20.04, linux aarch64 cross-built
 *   there, macOS amd64/aarch64 on macos-latest). With those features `openssl-sys` and `native-tls`
 *   are not in the dependency graph for any of the four targets (`cargo tree -i openssl-sys` at
 *   v0.9.1: "did not match any packages"), so the binaries need no libssl and run on Debian 12 and
 *   Ubuntu 24.04 (glibc ≥ 2.31 from the ubuntu-20.04 runner).
 * - `tar czf bindle-${RELEASE_VERSION}-${RUNNER_OS}-${arch}.tar.gz README.md LICENSE.txt bindle
 *   bindle-server` (RUNNER_OS lowercased: `linux`, `macos`; arch `amd64` / `aarch64`), then the
 *   publish job runs `sha256sum * > checksums-${RELEASE_VERSION}.txt` and uploads both to the
 *   `releases` container of bindle.blob.core.windows.net.
 * - v0.9.x refuses invoices without a valid signature; v0.8.2 stores unsigned ones (docs/bindle.md
 *   "What a signature guarantees").
 *
 * `sha256`: no copy of `checksums-v0.9.1.txt` or of any v0.9.1 tarball's digest was reachable from
 * where this was pinned, so every entry is null and the download is verified against that
 * published sums file (Nomad: go-getter `checksum=file:<url>`; local: local-install.sh
 * `--sums-url`). Record the digests here as soon as they are read from the file (docs/bindle.md
 * "Pinning the tarballs"): a recorded value replaces the sums file for that tarball.
 */
export type BindleOs = "linux" | "macos";
export type BindleArch = "amd64" | "aarch64";

export interface BindleArtifact {
    readonly url: string;
    /** The tarball's sha256 once recorded; null: checked against `BindleRelease.sumsUrl` only. */
    readonly sha256: string | null;
}

export interface BindleRelease {
    readonly version: string;
    /** Linux tarballs of the node architectures (AWS clients, Linux laptops). */
    readonly artifacts: Readonly<Record<Architecture, BindleArtifact>>;
    /** macOS tarballs (the local target on a Mac). */
    readonly macos: Readonly<Record<Architecture, BindleArtifact>>;
    /** The release's `sha256sum` output (unsigned, next to the tarballs). */
    readonly sumsUrl: string;
}

const BINDLE_VERSION = "0.9.1";
const BINDLE_DOWNLOAD = "https://bindle.blob.core.windows.net/releases";

/** The release tarball's URL for one OS and architecture. */
export function bindleTarballUrl(os: BindleOs, arch: BindleArch): string {
    return `${BINDLE_DOWNLOAD}/bindle-v${BINDLE_VERSION}-${os}-${arch}.tar.gz`;
}

export const BINDLE: BindleRelease = {
    version: BINDLE_VERSION,
    artifacts: {
        arm64: { url: bindleTarballUrl("linux", "aarch64"), sha256: null },
        x86_64: { url: bindleTarballUrl("linux", "amd64"), sha256: null },
    },
    macos: {
        arm64: { url: bindleTarballUrl("macos", "aarch64"), sha256: null },
        x86_64: { url: bindleTarballUrl("macos", "amd64"), sha256: null },
    },
    sumsUrl: `${BINDLE_DOWNLOAD}/checksums-v${BINDLE_VERSION}.txt`,
};

/** The Linux Bindle tarball of a node's architecture. */
export function bindleArtifact(architecture: Architecture): BindleArtifact {
    return forArchitecture(BINDLE.artifacts, architecture);
}

/**
 * go-getter's `checksum` option for `artifact`: `sha256:<hex>` when the digest is recorded, else
 * `file:<sums url>`, which go-getter (v1.7.0, Nomad 1.6's; checksum.go `checksumFromFile`)
 * downloads and searches for the line naming the tarball's file name, refusing the artifact
 * when none matches or the digest differs.
 */
export function artifactChecksum(artifact: BindleArtifact, sumsUrl: string = BINDLE.sumsUrl): string {
    if (artifact.sha256 === null) return `file:${sumsUrl}`;
    if (!/^[0-9a-f]{64}$/.test(artifact.sha256)) {
        throw new Error(`${artifact.url}: sha256 must be 64 lowercase hex digits, got ${artifact.sha256}`);
    }
    return `sha256:${artifact.sha256}`;
}

/**
 * The checksums files a download may be checked against while its own digest is not recorded
 * (go-getter `checksum=file:<url>`): the policy pack accepts exactly these, as advisory.
 */
export const PUBLISHED_SUMS_FILES: readonly string[] = [BINDLE.sumsUrl];

/**
 * The platform libSQL server (`sqld`, the `libsql` job on AWS: docs/libsql.md): tursodatabase/libsql
 * tag `libsql-server-v0.24.32` (MIT), the release's cargo-dist archives (root Cargo.toml
 * `[workspace.metadata.dist]`, cargo-dist 0.21.0: `libsql-server-<target>.tar.xz` holding
 * `libsql-server-<target>/sqld`). The sha256 values are the ones docs/libsql.md "The binary,
 * pinned" records with their sources; a wrong value fails closed (Nomad refuses the artifact).
 */
export interface LibsqlServerRelease {
    readonly version: string;
    readonly artifacts: Readonly<Record<Architecture, { readonly url: string; readonly sha256: string; readonly binary: string }>>;
}

const LIBSQL_SERVER_VERSION = "0.24.32";
const LIBSQL_SERVER_DOWNLOAD = `https://github.com/tursodatabase/libsql/releases/download/libsql-server-v${LIBSQL_SERVER_VERSION}`;
const libsqlServerRelease = (target: string, sha256: string) => ({
    url: `${LIBSQL_SERVER_DOWNLOAD}/libsql-server-${target}.tar.xz`, sha256, binary: `libsql-server-${target}/sqld`,
});

export const LIBSQL_SERVER: LibsqlServerRelease = {
    version: LIBSQL_SERVER_VERSION,
    artifacts: {
        arm64: libsqlServerRelease("aarch64-unknown-linux-gnu", "37f9eee45b388a30192907ecf4565b93df945c079331657073b5b3caf8bb1cd0"),
        x86_64: libsqlServerRelease("x86_64-unknown-linux-gnu", "71720fc8648c19efef416efebd47145ef59b62e198770533530a858e1336879f"),
    },
};

/** The sqld archive of a node's architecture. */
export function libsqlServerArtifact(architecture: Architecture): LibsqlServerRelease["artifacts"][Architecture] {
    return forArchitecture(LIBSQL_SERVER.artifacts, architecture);
}

/** What a stack can name in `spin-cloud:expectedVersions`: every product a node or job downloads. */
export const PINNED_VERSIONS = {
    nomad: NOMAD.version,
    consul: CONSUL.version,
    spin: SPIN.version,
    traefik: TRAEFIK.version,
    bindle: BINDLE.version,
    libsql: LIBSQL_SERVER.version,
} as const;
