#!/usr/bin/env bash
# spin-cloud install step: HashiCorp apt repository, the pinned Consul and Nomad packages, the
# AWS CLI, the node's Ubuntu packages and units from the env file and, on Nomad clients, the
# pinned Spin binary. Idempotent: safe to run again.
#
# Usage: install.sh <node env file>   (the env file is rendered by provisioning/aws/node-env.ts)
set -euo pipefail

readonly env_file="${1:?usage: install.sh <node env file>}"
[[ -r "$env_file" ]] || { echo "install: cannot read env file ${env_file}" >&2; exit 1; }
set -a
# shellcheck source=/dev/null
. "$env_file"
set +a

export DEBIAN_FRONTEND=noninteractive
# The AWS CLI is a snap; cloud-init's PATH does not include /snap/bin.
export PATH="${PATH}:/snap/bin"

log() { printf '%s install: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Wait up to 10 minutes for the dpkg lock instead of failing while unattended-upgrades runs at
# first boot (apt configure-index: dpkg::lock::timeout).
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }

# Runs "$@" until it succeeds, at most <attempts> times, <delay> seconds apart.
retry() {
  local attempts=$1 delay=$2 what=$3 i
  shift 3
  for ((i = 1; i <= attempts; i++)); do
    if "$@"; then return 0; fi
    log "${what} failed (attempt ${i}/${attempts})"
    sleep "$delay"
  done
  die "giving up on ${what} after ${attempts} attempts"
}

check_host() {
  [[ "$(id -u)" == 0 ]] || die "must run as root"
  local arch
  arch="$(dpkg --print-architecture)"
  [[ "$arch" == "$DEB_ARCH" ]] || die "node is ${arch} but was provisioned as ${DEB_ARCH} (${NODE_ARCH})"
}

install_prerequisites() {
  log "installing prerequisites"
  retry 5 10 "apt-get update" apt_get update -q
  # nftables: the IMDS guard (provisioning/aws/imds-guard.ts); openssl: renew-tls.sh checks the
  # certificates it fetches.
  apt_get install -y -q ca-certificates curl gnupg jq lsb-release nftables openssl
}

# Prints the fingerprints of the primary keys in an OpenPGP key file, one per line.
primary_fingerprints() {
  local gnupg_home
  gnupg_home="$(mktemp -d)"
  GNUPGHOME="$gnupg_home" gpg --batch --show-keys --with-colons "$1" |
    awk -F: '$1 == "pub" { want = 1; next } $1 == "fpr" && want { print $10; want = 0 }'
  rm -rf "$gnupg_home"
}

# HashiCorp's documented apt setup, with the key's fingerprint checked before it is trusted.
add_hashicorp_repository() {
  local tmp codename line
  tmp="$(mktemp -d)"
  retry 5 10 "download of ${HASHICORP_APT_KEY_URL}" \
    curl -fsSL --proto '=https' -o "${tmp}/hashicorp.asc" "$HASHICORP_APT_KEY_URL"
  [[ "$(primary_fingerprints "${tmp}/hashicorp.asc")" == "$HASHICORP_APT_KEY_FINGERPRINT" ]] ||
    die "HashiCorp apt key does not have the pinned fingerprint ${HASHICORP_APT_KEY_FINGERPRINT}"
  gpg --batch --yes --dearmor -o "${tmp}/keyring.gpg" "${tmp}/hashicorp.asc"
  install -m 0644 -o root -g root "${tmp}/keyring.gpg" "$HASHICORP_APT_KEYRING"
  rm -rf "$tmp"

  codename="$(lsb_release -cs)"
  line="deb [arch=${DEB_ARCH} signed-by=${HASHICORP_APT_KEYRING}] ${HASHICORP_APT_URL} ${codename} main"
  if [[ ! -f "$HASHICORP_APT_SOURCES_LIST" ]] || [[ "$(cat "$HASHICORP_APT_SOURCES_LIST")" != "$line" ]]; then
    printf '%s\n' "$line" >"$HASHICORP_APT_SOURCES_LIST"
  fi
  log "HashiCorp apt repository: ${line}"
}

install_hashicorp_packages() {
  log "installing consul=${CONSUL_PACKAGE_VERSION} nomad=${NOMAD_PACKAGE_VERSION}"
  retry 5 10 "apt-get update" apt_get update -q
  apt_get install -y -q --allow-downgrades --allow-change-held-packages \
    "consul=${CONSUL_PACKAGE_VERSION}" "nomad=${NOMAD_PACKAGE_VERSION}"
  # Keep unattended upgrades from moving the pinned versions.
  apt-mark hold consul nomad >/dev/null
  # Our units in /etc/systemd/system replace the packages' units of the same name; make sure
  # nothing the packages might have started runs with their default configuration.
  systemctl daemon-reload
  local unit
  for unit in consul.service nomad.service; do
    if systemctl is-active --quiet "$unit"; then systemctl stop "$unit"; fi
  done
  consul version | head -n 1 >&2
  nomad version | head -n 1 >&2
}

# Ubuntu 24.04 has no awscli deb. AWS documents the snap (`snap install aws-cli --classic`) as
# an install method for AWS CLI v2; the snap is signed by the Snap Store, and snapd is part of
# Ubuntu's EC2 images. Since cloud-init 24.1 a boot script must itself wait for snapd seeding
# (cloud-init docs, breaking changes: "snap wait system seed.loaded").
install_aws_cli() {
  if snap list aws-cli >/dev/null 2>&1; then
    log "AWS CLI snap already installed"
  else
    log "installing the AWS CLI snap"
    snap wait system seed.loaded
    retry 5 15 "snap install aws-cli" snap install aws-cli --classic
  fi
  aws --version >&2
}

# NODE_APT_PACKAGES (clients with a shared volume: the NFS client).
install_node_packages() {
  local -a packages
  read -r -a packages <<<"${NODE_APT_PACKAGES:-}"
  if ((${#packages[@]})); then apt_get install -y -q "${packages[@]}"; fi
}

# NODE_SYSTEM_USER (clients: the Bindle task's user) with the fixed NODE_SYSTEM_UID/GID, no login,
# no home; an existing user or group with other ids stops the install (the shared store would
# get two owners).
create_system_user() {
  [[ -n "${NODE_SYSTEM_USER:-}" ]] || return 0
  local name=$NODE_SYSTEM_USER uid=$NODE_SYSTEM_UID gid=$NODE_SYSTEM_GID
  if getent group "$name" >/dev/null; then
    [[ "$(getent group "$name" | cut -d: -f3)" == "$gid" ]] || die "group ${name} exists without gid ${gid}"
  else
    groupadd --system --gid "$gid" "$name"
  fi
  if getent passwd "$name" >/dev/null; then
    [[ "$(id -u "$name"):$(id -g "$name")" == "${uid}:${gid}" ]] || die "user ${name} exists without uid:gid ${uid}:${gid}"
  else
    useradd --system --uid "$uid" --gid "$gid" --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$name"
  fi
}

spin_is_current() {
  local current
  [[ -x "$SPIN_BINARY" ]] || return 1
  current="$("$SPIN_BINARY" --version 2>/dev/null)" || return 1
  [[ "$current" == "spin ${SPIN_VERSION}" || "$current" == "spin ${SPIN_VERSION} "* ]]
}

install_spin() {
  if spin_is_current; then
    log "Spin ${SPIN_VERSION} already installed"
    return 0
  fi
  log "installing Spin ${SPIN_VERSION} from ${SPIN_URL}"
  local tmp
  tmp="$(mktemp -d)"
  retry 5 10 "download of ${SPIN_URL}" curl -fsSL --proto '=https' -o "${tmp}/spin.tar.gz" "$SPIN_URL"
  printf '%s  %s\n' "$SPIN_SHA256" "${tmp}/spin.tar.gz" | sha256sum -c --strict --quiet - ||
    die "Spin tarball does not match the pinned sha256 ${SPIN_SHA256}"
  tar -xzf "${tmp}/spin.tar.gz" -C "$tmp" spin
  install -m 0755 -o root -g root "${tmp}/spin" "$SPIN_BINARY"
  rm -rf "$tmp"
  spin_is_current || die "installed Spin does not report version ${SPIN_VERSION}"
}

main() {
  check_host
  install_prerequisites
  add_hashicorp_repository
  install_hashicorp_packages
  install_aws_cli
  install_node_packages
  case "$SPIN_CLOUD_ROLE" in
    client) install_spin; create_system_user ;;
    server) ;;
    *) die "unknown role ${SPIN_CLOUD_ROLE}" ;;
  esac
  log "done (${SPIN_CLOUD_ROLE}, ${NODE_ARCH})"
}

main
