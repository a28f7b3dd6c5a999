#!/usr/bin/env bash
# spin-cloud boot step: fetch this node's secrets from SSM, mount its shared volume if any, write
# the TLS files and the agents' secret config fragments, start Consul and Nomad and, on servers,
# set up both ACL systems with the pre-set tokens from SSM. Idempotent: safe to run again, and on
# several servers at once.
#
# Usage: bootstrap.sh <node env file>   (the env file is rendered by provisioning/aws/node-env.ts)
#
# Secrets never reach the log, the command line of another process or a temporary file: they
# stay in this shell's memory and go to jq, the CLIs and the target files through pipes.
set -euo pipefail
set +x
umask 077

readonly env_file="${1:?usage: bootstrap.sh <node env file>}"
[[ -r "$env_file" ]] || { echo "bootstrap: cannot read env file ${env_file}" >&2; exit 1; }
set -a
# shellcheck source=/dev/null
. "$env_file"
set +a

export PATH="${PATH}:/snap/bin"
export NOMAD_CLI_NO_COLOR=1

log() { printf '%s bootstrap: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_for <seconds> <what> <command...>: polls the command every 5 s until it succeeds.
wait_for() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for ${what}"
    sleep 5
  done
}

SECRETS='{}'

# Prints one secret, without a trailing newline.
secret() { printf '%s' "$SECRETS" | jq -j --arg name "$1" ".[\$name]"; }

# Runs jq over the secrets; the filter sees them as an object keyed by parameter name.
secrets_jq() { printf '%s' "$SECRETS" | jq "$@"; }

# Parameters under an SSM path as one JSON object {"<last path segment>": "<value>"}. The AWS CLI
# follows NextToken itself.
fetch_path() {
  aws ssm get-parameters-by-path --region "$AWS_REGION" --path "$1" --recursive \
    --with-decryption --output json |
    jq -c '[.Parameters[] | {key: (.Name | split("/") | last), value: .Value}] | from_entries'
}

fetch_secrets() {
  local common role
  common="$(fetch_path "$SSM_PATH_COMMON")" || return 1
  role="$(fetch_path "$SSM_PATH_ROLE")" || return 1
  SECRETS="$(printf '%s\n%s\n' "$common" "$role" | jq -cs 'add')"
}

check_secrets() {
  local names name
  read -r -a names <<<"$SSM_SECRET_NAMES"
  for name in "${names[@]}"; do
    secrets_jq -e --arg name "$name" ".[\$name] | type == \"string\" and length > 0" >/dev/null ||
      die "SSM parameter '${name}' is missing or empty under ${SSM_PATH_COMMON} or ${SSM_PATH_ROLE}"
  done
}

# write_file <path> <mode> <owner[:group]>: atomically replaces <path> with stdin; the mode and
# owner are set before any content is written.
write_file() {
  local path=$1 mode=$2 owner=$3 tmp
  tmp="$(mktemp "${path}.XXXXXX")"
  chown "$owner" "$tmp"
  chmod "$mode" "$tmp"
  cat >"$tmp"
  mv -f "$tmp" "$path"
}

write_tls() {
  install -d -m 0755 -o root -g root "$TLS_DIR"
  secret ca-cert | write_file "$TLS_CA_FILE" 0644 root:root
  secret tls-cert | write_file "$TLS_CERT_FILE" 0644 root:root
  # Consul runs as its own user and reads the key too; Nomad runs as root.
  secret tls-key | write_file "$TLS_KEY_FILE" 0640 "root:${CONSUL_USER}"
  log "wrote TLS files in ${TLS_DIR}"
}

write_agent_secrets() {
  local consul_filter nomad_filter
  case "$SPIN_CLOUD_ROLE" in
    server)
      consul_filter='{encrypt: .["consul-gossip-key"], acl: {tokens: {agent: .["consul-agent-token"], dns: .["consul-dns-token"], initial_management: .["consul-management-token"]}}}'
      nomad_filter='{server: {encrypt: .["nomad-gossip-key"]}, consul: {token: .["consul-nomad-token"]}}'
      ;;
    client)
      consul_filter='{encrypt: .["consul-gossip-key"], acl: {tokens: {agent: .["consul-agent-token"], dns: .["consul-dns-token"]}}}'
      nomad_filter='{consul: {token: .["consul-nomad-token"]}}'
      ;;
    *) die "unknown role ${SPIN_CLOUD_ROLE}" ;;
  esac
  secrets_jq "$consul_filter" | write_file "$CONSUL_SECRETS_FILE" 0640 "root:${CONSUL_USER}"
  secrets_jq "$nomad_filter" | write_file "$NOMAD_SECRETS_FILE" 0600 "$NOMAD_USER"
  log "wrote ${CONSUL_SECRETS_FILE} and ${NOMAD_SECRETS_FILE}"
}

prepare_dirs() {
  install -d -m 0750 -o "$CONSUL_USER" -g "$CONSUL_USER" "$CONSUL_DATA_DIR"
  [[ -d "$NOMAD_DATA_DIR" ]] || install -d -m 0711 -o "$NOMAD_USER" "$NOMAD_DATA_DIR"
}

# The shared volume (clients with SHARED_VOLUME_* in the env file): the NFS export whose server
# is the SSM parameter SHARED_VOLUME_ADDRESS_PARAMETER, mounted through one fstab line (so every
# boot mounts it again) before Nomad starts, which checks host volume paths at start.
mount_shared_volume() {
  local name=$SHARED_VOLUME_ADDRESS_PARAMETER path=$SHARED_VOLUME_PATH address line
  address="$(secrets_jq -j --arg name "$name" ".[\$name] // empty")"
  [[ "$address" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] ||
    die "SSM parameter '${SSM_PATH_ROLE}/${name}' (NFS server of ${path}) is missing or not a DNS name"
  line="${address}:/ ${path} nfs4 ${SHARED_VOLUME_MOUNT_OPTIONS} 0 0"
  # Replaces any other entry for the mount point; no change, no write.
  if [[ "$(awk -v mp="$path" '$1 !~ /^#/ && $2 == mp' "$FSTAB_FILE")" != "$line" ]]; then
    { awk -v mp="$path" '$1 ~ /^#/ || $2 != mp' "$FSTAB_FILE"; printf '%s\n' "$line"; } |
      write_file "$FSTAB_FILE" 0644 root:root
    log "${FSTAB_FILE}: ${line}"
  fi
  if ! mountpoint -q "$path"; then
    [[ -d "$path" ]] || install -d -m 0755 "$path"
    # New mount targets take a while to answer; one attempt is bounded, as mount.nfs retries
    # for 2 minutes itself (nfs(5), retry=).
    wait_for "$SHARED_VOLUME_MOUNT_TIMEOUT" "the NFS mount of ${address}:/ at ${path}" timeout 60 mount "$path"
  fi
  # A store written under other ids (the docker image's uid 1000 before 0.9.1) changes owner
  # once, recursively; afterwards only the top directory is checked.
  if [[ "$(stat -c '%u:%g' "$path")" != "${SHARED_VOLUME_UID}:${SHARED_VOLUME_GID}" ]]; then
    chown -R "${SHARED_VOLUME_UID}:${SHARED_VOLUME_GID}" "$path"
  fi
  chmod "$SHARED_VOLUME_MODE" "$path"
  log "mounted ${address}:/ at ${path}"
}

consul_api_answers() { curl -fs -o /dev/null "${CONSUL_HTTP_ADDR}/v1/status/leader"; }

# /v1/status/leader needs no ACL token and answers "" until a leader is elected.
consul_has_leader() {
  local leader
  leader="$(curl -fs "${CONSUL_HTTP_ADDR}/v1/status/leader")" || return 1
  [[ -n "$leader" && "$leader" != '""' ]]
}

# Any HTTP status means the agent's API is up (a client answers 500 until it finds servers).
nomad_api_answers() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$NOMAD_CACERT" "${NOMAD_ADDR}/v1/agent/health")" || true
  [[ "$code" != 000 && -n "$code" ]]
}

start_consul() {
  systemctl reload-or-restart systemd-resolved
  systemctl daemon-reload
  systemctl enable consul.service
  # Type=notify: don't block on the agent's readiness here, wait below with a bound.
  systemctl start --no-block consul.service
  wait_for 300 "the Consul agent API at ${CONSUL_HTTP_ADDR}" consul_api_answers
  log "Consul agent is up"
}

# Reads CONSUL_ACL_POLICY_<i>_<FIELD> from the env file.
policy_field() {
  local var="CONSUL_ACL_POLICY_${1}_${2}"
  [[ -n "${!var:-}" ]] || die "${var} is not set in ${env_file}"
  printf '%s' "${!var}"
}

ensure_policy() {
  local name=$1 description=$2 file="${CONSUL_POLICY_DIR}/${1}.json"
  if consul acl policy read -name "$name" >/dev/null 2>&1; then return 0; fi
  consul acl policy create -name "$name" -description "$description" -rules "@${file}" >/dev/null
}

# ensure_token <secret name> <policy names...>: creates the token whose SecretID is the SSM
# secret, unless it already exists (`acl token read -self` with that token succeeds).
ensure_token() {
  local token_name=$1 token args policy
  shift
  token="$(secret "$token_name")"
  if CONSUL_HTTP_TOKEN="$token" consul acl token read -self >/dev/null 2>&1; then return 0; fi
  args=(-description "spin-cloud ${token_name}")
  for policy in "$@"; do args+=(-policy-name "$policy"); done
  # `-secret` is the CLI's only way to pre-set a SecretID (consul acl token create); this runs
  # once, on servers, which run no workloads.
  consul acl token create "${args[@]}" -secret="$token" >/dev/null
}

setup_consul_acls() {
  wait_for 600 "a Consul leader (are all ${SPIN_CLOUD_CLUSTER} servers up?)" consul_has_leader
  CONSUL_HTTP_TOKEN="$(secret consul-management-token)"
  export CONSUL_HTTP_TOKEN
  local count i name description token
  local -A token_policies=()
  count="${CONSUL_ACL_POLICY_COUNT:?CONSUL_ACL_POLICY_COUNT is not set in ${env_file}}"
  for ((i = 0; i < count; i++)); do
    name="$(policy_field "$i" NAME)"
    description="$(policy_field "$i" DESCRIPTION)"
    [[ -s "${CONSUL_POLICY_DIR}/${name}.json" ]] || die "missing policy file ${CONSUL_POLICY_DIR}/${name}.json"
    # The leader sets up the ACL system (and the initial management token) just after its
    # election, and another server may create the same policy at the same moment: retry.
    wait_for 300 "Consul ACL policy ${name}" ensure_policy "$name" "$description"
    token="$(policy_field "$i" TOKEN)"
    token_policies[$token]="${token_policies[$token]:-} ${name}"
  done
  for token in "${!token_policies[@]}"; do
    local -a policies=()
    read -r -a policies <<<"${token_policies[$token]}"
    wait_for 300 "Consul ACL token ${token}" ensure_token "$token" "${policies[@]}"
  done
  unset CONSUL_HTTP_TOKEN
  log "Consul ACL policies and tokens are in place"
}

start_nomad() {
  systemctl enable nomad.service
  systemctl start --no-block nomad.service
  wait_for 300 "the Nomad agent API at ${NOMAD_ADDR}" nomad_api_answers
  log "Nomad agent is up"
}

# Bootstraps Nomad's ACL system with the pre-set management token, read from stdin (`nomad acl
# bootstrap -`, Nomad >= 1.5). "ACL bootstrap already done" means this or another server did it.
nomad_acl_bootstrapped() {
  local err
  if err="$(secret nomad-management-token | nomad acl bootstrap - 2>&1 >/dev/null)"; then
    log "bootstrapped Nomad ACLs"
    return 0
  fi
  if [[ "$err" == *"ACL bootstrap already done"* ]]; then
    log "Nomad ACLs were already bootstrapped"
    return 0
  fi
  log "Nomad ACL bootstrap not possible yet: ${err}"
  return 1
}

main() {
  [[ "$(id -u)" == 0 ]] || die "must run as root"
  local tool
  for tool in aws jq curl consul nomad systemctl ${SHARED_VOLUME_PATH:+mount.nfs4}; do
    command -v "$tool" >/dev/null || die "${tool} is not installed (did install.sh run?)"
  done
  wait_for 300 "the node's secrets under ${SSM_PATH_COMMON} and ${SSM_PATH_ROLE}" fetch_secrets
  check_secrets
  if [[ -n "${SHARED_VOLUME_PATH:-}" ]]; then mount_shared_volume; fi
  prepare_dirs
  write_tls
  write_agent_secrets
  start_consul
  if [[ "$SPIN_CLOUD_ROLE" == server ]]; then setup_consul_acls; fi
  start_nomad
  if [[ "$SPIN_CLOUD_ROLE" == server ]]; then
    wait_for 600 "a Nomad leader to bootstrap ACLs" nomad_acl_bootstrapped
  fi
  log "done (${SPIN_CLOUD_ROLE})"
}

main
