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

/** The Spin tarball of a node's architecture. */
export function spinArtifact(architecture: Architecture): SpinArtifact {
    switch (architecture) {
        case "arm64":
            return SPIN.artifacts.arm64;
        case "x86_64":
            return SPIN.artifacts.x86_64;
        default:
            return assertNever(architecture, "architecture");
    }
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
 * A container image, pinned by digest when one is recorded, else by its exact tag. A tag can be
 * re-pushed; a digest cannot (docker pulls `repository@sha256:…` by content).
 */
export interface ContainerImage {
    readonly repository: string;
    readonly tag: string;
    /** `sha256:<64 hex>` of the image (a multi-arch index digest covers every architecture). */
    readonly digest: string | null;
    /**
     * The platforms this reference is known to provide, each with where that was verified (for a
     * digest: `docker buildx imagetools inspect` output). A platform not listed is refused for
     * nodes of that architecture (checkedImageArchitecture), so a guess never reaches `up`.
     */
    readonly verifiedPlatforms: Readonly<Partial<Record<ImagePlatform, string>>>;
}

/** OCI platform names (image index `platform.os/architecture`). */
export type ImagePlatform = "linux/amd64" | "linux/arm64";

/** The OCI platform of a node architecture (`arm64` → `linux/arm64`, `x86_64` → `linux/amd64`). */
export function imagePlatform(architecture: Architecture): ImagePlatform {
    return `linux/${debianArchitecture(architecture)}`;
}

/**
 * `image` for nodes of `architecture`, or an error naming `architecture` when the image is not
 * verified to exist for it (a pull would fail on every client, or the binary would not run, and
 * `up` would stop only after the job's deployment deadline).
 */
export function checkedImageArchitecture(image: ContainerImage, architecture: Architecture, what: string): ContainerImage {
    const platform = imagePlatform(architecture);
    if (image.verifiedPlatforms[platform] !== undefined) return image;
    const verified = Object.keys(image.verifiedPlatforms);
    throw new Error(
        `architecture = "${architecture}" is not allowed with ${what} ${containerImageReference(image)}: ` +
        `it is verified only for ${verified.length ? verified.join(", ") : "no platform"}, not ${platform}. ` +
        `Set spin-cloud:architecture to ${architecture === "arm64" ? "x86_64" : "arm64"} with matching serverInstanceType and clientInstanceType` +
        `${architecture === "arm64" ? " (e.g. t3.small and t3.medium)" : ""}, or verify an image that has ${platform} and record it, ` +
        `with its digest and where you verified it, in provisioning/versions.ts (docs/bindle.md "Before the first deploy")`);
}

/** The reference docker pulls: `repository@digest` when a digest is recorded, else `repository:tag`. */
export function containerImageReference(image: Pick<ContainerImage, "repository" | "tag" | "digest">): string {
    if (image.digest === null) {
        return `${image.repository}:${image.tag}`;
    }
    if (!/^sha256:[0-9a-f]{64}$/.test(image.digest)) {
        throw new Error(`${image.repository}: digest must be sha256:<64 lowercase hex>, got ${image.digest}`);
    }
    return `${image.repository}@${image.digest}`;
}

/**
 * The Bindle server, run by the `bindle` job (provisioning/jobs/bindle-job.ts) under Nomad's
 * docker driver; why a container and not the release tarball is in docs/bindle.md.
 *
 * Sources: deislabs/bindle PR #363 "bump version to 0.8.2" (2022-12-21, release/0.8 branch);
 * fermyon/installer aws/terraform/multiple-nodes/vm_assets/job/bindle.nomad runs
 * `image = "ghcr.io/fermyon/bindle:v0.8.2"` with the docker driver. No digest of that image was
 * found in any stored copy, so it is pinned by its exact tag until one is recorded here.
 *
 * Platforms: only linux/amd64 is known, from use: fermyon/installer ran that job on its
 * `instance_type` default `t2.medium` (x86_64; aws/terraform/multiple-nodes/variables.tf). Nothing
 * shows a linux/arm64 variant: deislabs/bindle has no Dockerfile at tag v0.8.2 (so the image was
 * not built by Bindle's release job), and the v0.9.x release job (`.github/workflows/release.yaml`
 * at v0.9.1, job `docker-image`) runs docker/build-push-action@v3 without a `platforms` input, which
 * builds the runner's platform only (linux/amd64), to ghcr.io/deislabs/bindle. Searched (issues,
 * docs, pages) for a multi-arch index or a digest of either image: none found. So arm64 nodes are
 * refused for this image (checkedImageArchitecture) until a verified one is recorded.
 */
export interface BindleRelease {
    readonly version: string;
    readonly image: ContainerImage;
}

export const BINDLE: BindleRelease = {
    version: "0.8.2",
    image: {
        repository: "ghcr.io/fermyon/bindle", tag: "v0.8.2", digest: null,
        verifiedPlatforms: { "linux/amd64": "fermyon/installer aws/terraform/multiple-nodes: this image under Nomad's docker driver on t2.medium (x86_64)" },
    },
};

/** What a stack can name in `spin-cloud:expectedVersions`: every product a node or job downloads. */
export const PINNED_VERSIONS = {
    nomad: NOMAD.version,
    consul: CONSUL.version,
    spin: SPIN.version,
    traefik: TRAEFIK.version,
    bindle: BINDLE.version,
} as const;
