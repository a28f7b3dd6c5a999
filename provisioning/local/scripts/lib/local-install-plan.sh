# shellcheck shell=bash
# spin-cloud local target: the --dry-run plan of local-install.sh, which sources this file (it is
# not run on its own): the parsed arguments printed as one line of JSON.
#
# Uses local-install.sh's globals: name, version, dest, url, archive, member, sha256, sums_url,
# signature_url, key_url, key_fingerprint, version_args, version_pattern, archive_name and
# command_name.
# shellcheck disable=SC2154

# Sets REPLY to $1 as a JSON string (values are single-line; no subshell).
json_string() {
  local s=$1 bs=\\ q='"'
  s=${s//"$bs"/"$bs$bs"}
  s=${s//"$q"/"$bs$q"}
  REPLY="\"${s}\""
}
json_or_null() { if [[ -n "$1" ]]; then json_string "$1"; else REPLY=null; fi; }

print_plan() {
  local arg out="" sep=""
  add() { # <json key> <value> [nullable]
    if [[ $# -ge 3 ]]; then json_or_null "$2"; else json_string "$2"; fi
    out="${out}${sep}\"$1\":${REPLY}"
    sep=","
  }
  add name "$name"
  add version "$version"
  add dest "$dest"
  add url "$url"
  add archive "$archive"
  add member "$member"
  add sha256 "$sha256" nullable
  add sumsUrl "$sums_url"
  add signatureUrl "$signature_url" nullable
  add keyUrl "$key_url" nullable
  add keyFingerprint "$key_fingerprint" nullable
  out="${out},\"versionArgs\":["
  sep=""
  for arg in "${version_args[@]}"; do
    json_string "$arg"
    out="${out}${sep}${REPLY}"
    sep=","
  done
  out="${out}]"
  add versionPattern "$version_pattern"
  add archiveName "$archive_name"
  add command "$command_name"
  printf '{%s}\n' "$out"
}
