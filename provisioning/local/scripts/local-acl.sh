#!/usr/bin/env bash
# ACLs of the local target, once its agents answer: the Consul policies and their tokens with
# pre-set SecretIDs, and Nomad's ACL bootstrap with the pre-set management token. Idempotent.
# Tokens come from the environment (Pulumi secrets) and reach Consul in an HTTP header read from a
# 0600 file and a request body on stdin: never on a command line (visible to every user in `ps`).
# Every other NOMAD_* / CONSUL_* variable of the user's shell is unset first (lib/local-env.sh).
#
#   local-acl.sh consul --consul BIN --policy-dir DIR [--timeout S] --policy NAME=ENV_VAR...
#       env: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN (management), and each ENV_VAR (that policy's token)
#       needs curl (token creation goes through the HTTP API: `consul acl token create` takes the
#       SecretID only as `-secret=`, an argument)
#   local-acl.sh nomad --nomad BIN [--timeout S]
#       env: NOMAD_ADDR, SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN
set -euo pipefail

case "${BASH_SOURCE[0]}" in
  */*) readonly LIB_DIR="${BASH_SOURCE[0]%/*}/lib" ;;
  *) readonly LIB_DIR=lib ;;
esac
# shellcheck source-path=SCRIPTDIR source=lib/local-env.sh
source "${LIB_DIR}/local-env.sh"

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

# A token's SecretID goes into a JSON body: only characters that need no escaping there.
valid_secret() { [[ "$1" =~ ^[A-Za-z0-9._-]+$ ]]; }

# PUT /v1/acl/token (Consul's API docs, api-docs/acl/tokens.mdx "Create a Token": SecretID,
# Description, Policies[].Name). The management token is a header read from a 0600 file.
create_consul_token() {
  local name=$1 token=$2 headers status
  headers=$(umask 077 && mktemp)
  printf 'X-Consul-Token: %s\n' "$CONSUL_HTTP_TOKEN" >"$headers"
  status=0
  printf '{"SecretID":"%s","Description":"spin-cloud %s","Policies":[{"Name":"%s"}]}' "$token" "$name" "$name" |
    curl --silent --show-error --fail --max-time 10 -X PUT -H "@${headers}" --data-binary @- \
      "${CONSUL_HTTP_ADDR%/}/v1/acl/token" >/dev/null || status=$?
  rm -f "$headers"
  return "$status"
}

ensure_consul_token() {
  local consul=$1 name=$2 token=$3
  if CONSUL_HTTP_TOKEN="$token" "$consul" acl token read -self >/dev/null 2>&1; then return 0; fi
  create_consul_token "$name" "$token"
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
  scrub_agent_env CONSUL_HTTP_ADDR CONSUL_HTTP_TOKEN
  [ -x "$consul" ] || die "--consul: not an executable: ${consul}"
  command -v curl >/dev/null 2>&1 || die "curl is needed to create Consul tokens"
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
    valid_secret "$token" || die "--policy ${name}: ${var} must be of [A-Za-z0-9._-]"
    [[ "$name" =~ ^[a-z0-9-]+$ ]] || die "--policy ${name}: NAME must be of [a-z0-9-]"
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
  scrub_agent_env NOMAD_ADDR
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
