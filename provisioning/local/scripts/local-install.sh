#!/usr/bin/env bash
# spin-cloud local target: puts ONE pinned binary at a fixed path (DEST) in the user's cache,
# verified. The Pulumi program calls it once per product with the argv that
# provisioning/local/releases.ts installArgs() builds.
#
#   1. DEST exists, is executable and reports the pinned version: nothing to do.
#   2. The command (base name of --member) on PATH reports the pinned version: DEST becomes a
#      symlink to it.
#   3. Otherwise download the archive and verify it: the pinned --sha256 (when given) AND its line in
#      the checksums file (which must list it); for signed sums, first the key file's primary
#      fingerprint must equal --key-fingerprint, then the detached signature over the checksums file
#      must verify with that key. Then extract only --member, check that it reports the pinned
#      version, and install it at DEST atomically (copy next to DEST, then mv).
#
# Every failure prints "error: NAME VERSION: <what> (<url>)" and exits 1 (2 for a usage error);
# nothing is left at DEST and the temporary directory is removed. Needs curl, sha256sum or
# shasum, tar or unzip (per --archive) and gpg (signed sums only). Portable to bash 3.2 (macOS).
set -euo pipefail

readonly PROG="local-install.sh"

# The plan printer and the download checks live in lib/ next to this script, found from its own
# path with builtins only (`cd` would follow CDPATH).
case "${BASH_SOURCE[0]}" in
  */*) readonly LIB_DIR="${BASH_SOURCE[0]%/*}/lib" ;;
  *) readonly LIB_DIR=lib ;;
esac
# shellcheck source-path=SCRIPTDIR source=lib/local-install-plan.sh
source "${LIB_DIR}/local-install-plan.sh"
# shellcheck source-path=SCRIPTDIR source=lib/local-install-verify.sh
source "${LIB_DIR}/local-install-verify.sh"

usage() {
  cat <<EOF
usage: ${PROG} --name NAME --version VERSION --dest ABS_PATH --url URL --archive zip|tar.gz
         --member PATH_IN_ARCHIVE [--sha256 HEX] --sums-url URL
         [--signature-url URL --key-url URL --key-fingerprint FPR]
         --version-arg ARG [--version-arg ARG ...] --version-pattern ERE [--dry-run]

  --sha256           pinned sha256 of the archive; the download must equal it as well.
  --sums-url         checksums file (sha256sum format) that must list the archive's file name.
  --signature-url, --key-url, --key-fingerprint
                     all three or none: detached OpenPGP signature over the checksums file, the
                     signing key, and the key's primary fingerprint (spaces allowed).
  --version-arg      an argument that makes the binary print its version (repeatable).
  --version-pattern  POSIX ERE that one whole line of that output must match.
  --dry-run          print the parsed plan as JSON and exit.
URLs must be https://, except http://127.0.0.1 (tests).
EOF
}

usage_error() { printf 'error: %s\n' "$*" >&2; usage >&2; exit 2; }

name="" version="" dest="" url="" archive="" member="" sha256="" sums_url=""
signature_url="" key_url="" key_fingerprint="" version_pattern="" dry_run=0
version_args=()

need_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || usage_error "$1 needs a value"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --name) need_value "$@"; name=$2; shift 2 ;;
    --version) need_value "$@"; version=$2; shift 2 ;;
    --dest) need_value "$@"; dest=$2; shift 2 ;;
    --url) need_value "$@"; url=$2; shift 2 ;;
    --archive) need_value "$@"; archive=$2; shift 2 ;;
    --member) need_value "$@"; member=$2; shift 2 ;;
    --sha256) need_value "$@"; sha256=$2; shift 2 ;;
    --sums-url) need_value "$@"; sums_url=$2; shift 2 ;;
    --signature-url) need_value "$@"; signature_url=$2; shift 2 ;;
    --key-url) need_value "$@"; key_url=$2; shift 2 ;;
    --key-fingerprint) need_value "$@"; key_fingerprint=$2; shift 2 ;;
    # A version argument may itself start with "--" (--version).
    --version-arg) [[ $# -ge 2 && -n "$2" ]] || usage_error "$1 needs a value"; version_args+=("$2"); shift 2 ;;
    --version-pattern) need_value "$@"; version_pattern=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

for required in name version dest url archive member sums_url version_pattern; do
  [[ -n "${!required}" ]] || usage_error "--$(printf '%s' "$required" | tr _ -) is required"
done
[[ ${#version_args[@]} -gt 0 ]] || usage_error "--version-arg is required"
[[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || usage_error "--name must be [A-Za-z0-9._-]"
[[ "$version" =~ ^[0-9A-Za-z][0-9A-Za-z.+-]*$ ]] || usage_error "--version is not a plain version string"
[[ "$dest" == /* && "$dest" != */ && "$dest" != *$'\n'* ]] || usage_error "--dest must be an absolute file path"
case "$archive" in zip | tar.gz) ;; *) usage_error "--archive must be zip or tar.gz" ;; esac
[[ "$member" =~ ^[A-Za-z0-9._+][A-Za-z0-9._+-]*(/[A-Za-z0-9._+-]+)*$ && "/${member}/" != */../* && "/${member}/" != */./* ]] ||
  usage_error "--member must be a relative path inside the archive"
if [[ -n "$sha256" ]]; then
  [[ "$sha256" =~ ^[0-9a-f]{64}$ ]] || usage_error "--sha256 must be 64 lowercase hex digits"
fi
signed=0
if [[ -n "$signature_url" || -n "$key_url" || -n "$key_fingerprint" ]]; then
  [[ -n "$signature_url" && -n "$key_url" && -n "$key_fingerprint" ]] ||
    usage_error "--signature-url, --key-url and --key-fingerprint go together"
  key_fingerprint="${key_fingerprint// /}"
  if [[ "$key_fingerprint" == *[a-f]* ]]; then
    key_fingerprint="$(printf '%s' "$key_fingerprint" | tr '[:lower:]' '[:upper:]')"
  fi
  [[ "$key_fingerprint" =~ ^[0-9A-F]{40}$ ]] || usage_error "--key-fingerprint must be 40 hex digits"
  signed=1
fi

# The archive's file name, as the checksums file lists it.
archive_name="${url%%\?*}"
archive_name="${archive_name##*/}"
[[ "$archive_name" =~ ^[A-Za-z0-9._+-]+$ ]] || usage_error "--url does not end in an archive file name"
command_name="${member##*/}"

die() { printf 'error: %s %s: %s\n' "$name" "$version" "$*" >&2; exit 1; }
log() { printf '%s: %s %s: %s\n' "$PROG" "$name" "$version" "$*" >&2; }

# https only; plain http only to 127.0.0.1 (the tests' release server).
check_url() {
  [[ "$1" != *[[:space:][:cntrl:]]* ]] || die "refusing a URL with white space or control characters"
  case "$1" in
    https://?*) ;;
    http://127.0.0.1/* | http://127.0.0.1:[0-9]*/*) ;;
    *) die "refusing a URL that is not https:// ($1)" ;;
  esac
}
check_url "$url"
check_url "$sums_url"
if [[ "$signed" == 1 ]]; then
  check_url "$signature_url"
  check_url "$key_url"
fi

if [[ "$dry_run" == 1 ]]; then
  print_plan
  exit 0
fi

work=""
dest_tmp=""
cleanup() {
  if [[ -n "$dest_tmp" ]]; then rm -f "$dest_tmp"; fi
  if [[ -n "$work" ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs <binary> with the version arguments; true when one output line matches the pattern.
# Leaves the output in version_output.
version_output=""
reports_version() {
  version_output="$("$1" "${version_args[@]}" 2>&1 </dev/null)" || return 1
  grep -Eqx -e "$version_pattern" <<<"$version_output"
}

first_lines() { printf '%s' "$1" | head -n 3 | tr '\n' ' ' | sed -e 's/ *$//'; }

already_installed() {
  if [[ -d "$dest" && ! -L "$dest" ]]; then
    die "${dest} is a directory"
  fi
  if [[ -e "$dest" || -L "$dest" ]]; then
    if [[ -x "$dest" ]] && reports_version "$dest"; then
      printf '%s %s already installed at %s\n' "$name" "$version" "$dest"
      return 0
    fi
    log "${dest} is not ${name} ${version}; replacing it"
    rm -f "$dest"
  fi
  return 1
}

# Moves <file> onto DEST in one rename (a symlink or a file in DEST's own directory).
replace_dest() {
  mv -f "$1" "$dest" || die "cannot move ${1} to ${dest}"
  dest_tmp=""
}

use_command_on_path() {
  local found
  found="$(command -v "$command_name" 2>/dev/null || true)"
  [[ "$found" == /* && "$found" != "$dest" ]] || return 1
  if ! reports_version "$found"; then
    log "${found} on PATH is not ${name} ${version} ($(first_lines "$version_output")); downloading"
    return 1
  fi
  mkdir -p "${dest%/*}" || die "cannot create ${dest%/*}"
  dest_tmp="${dest}.tmp.$$"
  ln -s "$found" "$dest_tmp" || die "cannot create the symlink ${dest_tmp}"
  replace_dest "$dest_tmp"
  printf '%s %s found on PATH at %s; linked %s to it\n' "$name" "$version" "$found" "$dest"
}

require_commands() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "needs ${c}, which is not on PATH (${url})"
  done
}

fetch() {
  local from=$1 to=$2
  case "$from" in
    https://*) curl -fsSL --proto '=https' --proto-redir '=https' --tlsv1.2 --connect-timeout 30 --retry 3 -o "$to" "$from" ;;
    *) curl -fsSL --proto '=http' --max-redirs 0 --connect-timeout 10 -o "$to" "$from" ;;
  esac
}

download_and_install() {
  local file actual listed unpacked
  require_commands curl awk
  command -v sha256sum >/dev/null 2>&1 || require_commands shasum
  case "$archive" in zip) require_commands unzip ;; tar.gz) require_commands tar ;; esac
  if [[ "$signed" == 1 ]]; then require_commands gpg; fi

  work="$(mktemp -d "${TMPDIR:-/tmp}/local-install.XXXXXX")" || die "cannot create a temporary directory (${url})"
  file="${work}/${archive_name}"
  log "downloading ${url}"
  fetch "$url" "$file" || die "download failed (${url})"
  fetch "$sums_url" "${work}/sums" || die "download of the checksums file failed (${sums_url})"
  if [[ "$signed" == 1 ]]; then
    fetch "$key_url" "${work}/key.asc" || die "download of the signing key failed (${key_url})"
    fetch "$signature_url" "${work}/sums.sig" || die "download of the checksums signature failed (${signature_url})"
    verify_signature
  fi

  sha256_of "$file"
  actual=$REPLY
  if [[ -n "$sha256" && "$actual" != "$sha256" ]]; then
    die "archive sha256 is ${actual}, not the pinned ${sha256} (${url})"
  fi
  listed="$(listed_sha256)"
  [[ -n "$listed" ]] || die "${archive_name} is not listed in the checksums file (${sums_url})"
  [[ "$listed" =~ ^[0-9a-f]{64}$ ]] || die "the checksums file lists ${archive_name} more than once or malformed (${sums_url})"
  [[ "$actual" == "$listed" ]] ||
    die "archive sha256 is ${actual}, but the checksums file lists ${listed} (${url})"

  unpacked="${work}/unpacked"
  mkdir "$unpacked"
  case "$archive" in
    zip) unzip -q -o "$file" "$member" -d "$unpacked" >"${work}/extract.log" 2>&1 ;;
    tar.gz) tar -xzf "$file" -C "$unpacked" "$member" >"${work}/extract.log" 2>&1 ;;
  esac || die "cannot extract ${member} from the archive: $(first_lines "$(cat "${work}/extract.log")") (${url})"
  [[ -f "${unpacked}/${member}" && ! -L "${unpacked}/${member}" ]] ||
    die "the archive's ${member} is not a regular file (${url})"
  chmod 755 "${unpacked}/${member}"
  reports_version "${unpacked}/${member}" ||
    die "the downloaded ${member} does not print a line matching '${version_pattern}' for '${version_args[*]}'; it printed: $(first_lines "$version_output") (${url})"

  mkdir -p "${dest%/*}" || die "cannot create ${dest%/*} (${url})"
  dest_tmp="${dest}.tmp.$$"
  cp "${unpacked}/${member}" "$dest_tmp" || die "cannot write ${dest_tmp} (${url})"
  chmod 755 "$dest_tmp"
  replace_dest "$dest_tmp"
  local checks="checksums file"
  if [[ "$signed" == 1 ]]; then checks="signed checksums file (key ${key_fingerprint})"; fi
  if [[ -n "$sha256" ]]; then checks="pinned sha256 and ${checks}"; fi
  printf '%s %s installed at %s (sha256 %s, verified against the %s)\n' "$name" "$version" "$dest" "$actual" "$checks"
}

main() {
  if already_installed; then return 0; fi
  if use_command_on_path; then return 0; fi
  download_and_install
}

main
