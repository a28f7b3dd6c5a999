# shellcheck shell=bash
# spin-cloud local target: the download checks of local-install.sh, which sources this file (it is
# not run on its own): the archive's sha256, the pinned signing key and the checksums file's
# signature, and the sha256 that file lists for the archive.
#
# Uses local-install.sh's globals and functions: work (the temporary directory holding key.asc,
# sums and sums.sig), key_url, key_fingerprint, signature_url, archive_name, die and first_lines.
# shellcheck disable=SC2154

# Sets REPLY to the sha256 (lowercase hex) of <file>.
sha256_of() {
  local out
  if command -v sha256sum >/dev/null 2>&1; then
    out="$(sha256sum "$1")"
  else
    out="$(shasum -a 256 "$1")"
  fi
  REPLY="${out%% *}"
}

# Imports the key into a throw-away GNUPGHOME, refuses it unless its only primary key has the
# pinned fingerprint, then verifies the detached signature over the sums file with it.
verify_signature() {
  local home="${work}/gnupg" listing status line fingerprints="" want=0 signer=""
  local -a fields
  mkdir -m 700 "$home"
  gpg --batch --no-autostart --homedir "$home" --import "${work}/key.asc" >"${work}/gpg.log" 2>&1 ||
    die "cannot import the signing key: $(first_lines "$(cat "${work}/gpg.log")") (${key_url})"
  listing="$(gpg --batch --no-autostart --homedir "$home" --with-colons --fingerprint --list-keys 2>/dev/null)" ||
    die "cannot list the imported signing key (${key_url})"
  # Colon listing (GnuPG doc/DETAILS): a "pub" record, then its "fpr" record (field 10).
  while IFS= read -r line; do
    case "$line" in
      pub:*) want=1 ;;
      fpr:*)
        if [[ "$want" == 1 ]]; then
          IFS=: read -r -a fields <<<"$line"
          fingerprints="${fingerprints:+${fingerprints} }${fields[9]}"
          want=0
        fi
        ;;
    esac
  done <<<"$listing"
  [[ "$fingerprints" == "$key_fingerprint" ]] ||
    die "the key file's primary key is '${fingerprints}', not the pinned fingerprint ${key_fingerprint} (${key_url})"
  status="$(gpg --batch --no-autostart --homedir "$home" --status-fd 1 --verify "${work}/sums.sig" "${work}/sums" 2>"${work}/gpg.log")" ||
    die "the checksums file's signature does not verify with key ${key_fingerprint}: $(first_lines "$(cat "${work}/gpg.log")") (${signature_url})"
  # "[GNUPG:] VALIDSIG <signing key fpr> … <primary key fpr>" (doc/DETAILS): the signer's primary key.
  while IFS= read -r line; do
    case "$line" in
      "[GNUPG:] VALIDSIG "*)
        read -r -a fields <<<"$line"
        signer="${fields[11]:-}"
        ;;
    esac
  done <<<"$status"
  [[ "$signer" == "$key_fingerprint" ]] ||
    die "the checksums file is not signed by key ${key_fingerprint} (${signature_url})"
}

# The sha256 the sums file lists for the archive (lines "<hex>  <name>" or "<hex> *<name>").
listed_sha256() {
  awk -v want="$archive_name" '($2 == want || $2 == "*" want) && !seen[tolower($1)]++ { print tolower($1) }' "${work}/sums"
}
