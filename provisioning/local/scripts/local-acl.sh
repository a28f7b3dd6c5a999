#!/usr/bin/env bash
# ACLs of the local target, once its agents answer: the Consul policies and their tokens with
# pre-set SecretIDs, and Nomad's ACL bootstrap with the pre-set management token. Idempotent.
# Tokens come from the environment (Pulumi secrets), never from arguments or files.
#
#   local-acl.sh consul --consul BIN --policy-dir DIR [--timeout S] --policy NAME=ENV_VAR...
#       env: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN (management), and each ENV_VAR (that policy's token)
#   local-acl.sh nomad --nomad BIN [--timeout S]
#       env: NOMAD_ADDR, SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN
set -euo pipefail

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
log() { printf 'local-acl: %s\n' "$*"; }

# retry <timeout seconds> <what> <command...>: runs the command once a second until it succeeds.
retry() {
  local timeout=$1 what=$2 waited=0
  shift 2
  until "$@"; do
    waited=$((waited + 1))
    [ "$waited" -lt "$timeout" ] || die "timed out after ${timeout}s waiting for ${what}"
    sleep 1
  done
}

ensure_consul_policy() {
  local consul=$1 name=$2 file=$3
  if "$consul" acl policy read -name "$name" >/dev/null 2>&1; then return 0; fi
  "$consul" acl policy create -name "$name" -description "spin-cloud ${name}" -rules "@${file}" >/dev/null
}

ensure_consul_token() {
  local consul=$1 name=$2 token=$3
  if CONSUL_HTTP_TOKEN="$token" "$consul" acl token read -self >/dev/null 2>&1; then return 0; fi
  "$consul" acl token create -description "spin-cloud ${name}" -policy-name "$name" -secret="$token" >/dev/null
}

consul_acls() {
  local consul="" dir="" timeout=60 policies=() spec name var token
  while [ $# -gt 0 ]; do
    case "$1" in
      --consul) consul=${2:?--consul needs a path}; shift 2 ;;
      --policy-dir) dir=${2:?--policy-dir needs a directory}; shift 2 ;;
      --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
      --policy) policies+=("${2:?--policy needs NAME=ENV_VAR}"); shift 2 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [ -x "$consul" ] || die "--consul: not an executable: ${consul}"
  [ -n "${CONSUL_HTTP_ADDR:-}" ] || die "CONSUL_HTTP_ADDR is not set"
  [ -n "${CONSUL_HTTP_TOKEN:-}" ] || die "CONSUL_HTTP_TOKEN (the management token) is not set"
  [ "${#policies[@]}" -gt 0 ] || die "give at least one --policy NAME=ENV_VAR"
  # Every policy's token and rules file is checked before anything is created.
  local names=() tokens=() i
  for spec in "${policies[@]}"; do
    name=${spec%%=*}
    var=${spec#*=}
    [[ "$var" =~ ^[A-Z_][A-Z0-9_]*$ ]] || die "--policy ${spec}: ENV_VAR must be an environment variable name"
    token=${!var:-}
    [ -n "$token" ] || die "--policy ${name}: ${var} is not set"
    [ -s "${dir}/${name}.json" ] || die "--policy ${name}: missing rules file ${dir}/${name}.json"
    names+=("$name")
    tokens+=("$token")
  done
  for i in "${!names[@]}"; do
    name=${names[$i]}
    # The ACL system is ready only once the server has elected itself leader.
    retry "$timeout" "Consul ACL policy ${name}" ensure_consul_policy "$consul" "$name" "${dir}/${name}.json"
    retry "$timeout" "Consul ACL token ${name}" ensure_consul_token "$consul" "$name" "${tokens[$i]}"
    log "Consul policy and token ${name} are in place"
  done
}

# 0: bootstrapped now or before with our token; 1: not possible yet; exits if done with another.
nomad_bootstrapped() {
  local nomad=$1 token=$2 err
  if err="$(printf '%s' "$token" | "$nomad" acl bootstrap - 2>&1 >/dev/null)"; then
    log "bootstrapped Nomad ACLs"
    return 0
  fi
  if [[ "$err" == *"ACL bootstrap already done"* ]]; then
    NOMAD_TOKEN="$token" "$nomad" acl token self >/dev/null 2>&1 ||
      die "Nomad's ACLs were bootstrapped with another token: stop the local cloud and remove its state directory, then run pulumi up again"
    log "Nomad ACLs were already bootstrapped"
    return 0
  fi
  return 1
}

nomad_acls() {
  local nomad="" timeout=60
  while [ $# -gt 0 ]; do
    case "$1" in
      --nomad) nomad=${2:?--nomad needs a path}; shift 2 ;;
      --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [ -x "$nomad" ] || die "--nomad: not an executable: ${nomad}"
  [ -n "${NOMAD_ADDR:-}" ] || die "NOMAD_ADDR is not set"
  [ -n "${SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN:-}" ] || die "SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN is not set"
  retry "$timeout" "a Nomad leader to bootstrap ACLs" nomad_bootstrapped "$nomad" "$SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN"
}

case "${1:-}" in
  consul) shift; consul_acls "$@" ;;
  nomad) shift; nomad_acls "$@" ;;
  *) die "usage: local-acl.sh consul|nomad [options] (see the header of this script)" ;;
esac
