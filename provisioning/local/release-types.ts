/**
 * The types of the local target's release data (local-releases.ts): the host platforms
 * (linux | darwin × amd64 | arm64), the products, and the shape of one product's release: its
 * per-platform archives and how the installer verifies them. The releases themselves (URLs,
 * pinned sha256) are in local-release-table.ts.
 */
import { LocalBinaries } from "./node";

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
