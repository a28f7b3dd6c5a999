#!/usr/bin/env bash
# spin-cloud TLS renewal, run daily by spin-cloud-tls-renew.timer: fetches the cluster CA and this
# role's agent certificate and key from SSM (where `pulumi up` writes renewed ones), and when any
# differs from the files on the node, checks the new material, replaces the files atomically and
# reloads both agents. Unchanged material: no write, no reload.
#
# Reload, not restart: SIGHUP (the units' ExecReload) makes Nomad compare the checksums of its TLS
# files and reload its keyloader in place (hashicorp/nomad v1.6.3 command/agent/command.go
# handleReload -> command/agent/agent.go ShouldReload/Reload, nomad/structs/config/tls.go
# CertificateInfoIsEqual/SetChecksum); Consul reloads its TLS certificate files on SIGHUP too
# (Consul docs, agent configuration "Reloadable Configuration": TLS configuration).
#
# Usage: renew-tls.sh <node env file>
set -euo pipefail
set +x
umask 077

readonly env_file="${1:?usage: renew-tls.sh <node env file>}"
[[ -r "$env_file" ]] || { echo "renew-tls: cannot read env file ${env_file}" >&2; exit 1; }
set -a
# shellcheck source=/dev/null
. "$env_file"
set +a
export PATH="${PATH}:/snap/bin"

log() { printf 'renew-tls: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$(id -u)" == 0 ]] || die "must run as root"

readonly ca_name="${SSM_PATH_COMMON}/ca-cert" cert_name="${SSM_PATH_ROLE}/tls-cert" key_name="${SSM_PATH_ROLE}/tls-key"
# The three parameters as {"<full name>": "<value>"}; the material stays in memory and in pipes.
material="$(aws ssm get-parameters --region "$AWS_REGION" --names "$ca_name" "$cert_name" "$key_name" \
  --with-decryption --output json | jq -c '[.Parameters[] | {key: .Name, value: .Value}] | from_entries')" ||
  die "cannot read ${ca_name}, ${cert_name} and ${key_name} from SSM"

value() { printf '%s' "$material" | jq -j --arg name "$1" '.[$name] // ""'; }

for name in "$ca_name" "$cert_name" "$key_name"; do
  [[ -n "$(value "$name")" ]] || die "SSM parameter ${name} is missing or empty; the node keeps its files"
done

# same <name> <file>: the parameter's value is exactly the file's content.
same() { [[ -f "$2" ]] && cmp -s <(value "$1") "$2"; }

if same "$ca_name" "$TLS_CA_FILE" && same "$cert_name" "$TLS_CERT_FILE" && same "$key_name" "$TLS_KEY_FILE"; then
  log "TLS material in ${TLS_DIR} is current"
  exit 0
fi

# Never hand the agents material they would refuse: the certificate must chain to the CA, be
# valid for at least another day and belong to the key.
openssl verify -CAfile <(value "$ca_name") <(value "$cert_name") >/dev/null 2>&1 ||
  die "the certificate in ${cert_name} is not signed by the CA in ${ca_name}; the node keeps its files"
openssl x509 -noout -checkend 86400 -in <(value "$cert_name") >/dev/null ||
  die "the certificate in ${cert_name} expires within a day; the node keeps its files"
[[ "$(openssl x509 -noout -pubkey -in <(value "$cert_name"))" == "$(openssl pkey -pubout -in <(value "$key_name"))" ]] ||
  die "the key in ${key_name} does not belong to the certificate in ${cert_name}; the node keeps its files"

# write_file <path> <mode> <owner[:group]>: atomically replaces <path> with stdin, the mode and
# owner set before any content is written (as bootstrap.sh does).
write_file() {
  local path=$1 mode=$2 owner=$3 tmp
  tmp="$(mktemp "${path}.XXXXXX")"
  chown "$owner" "$tmp"
  chmod "$mode" "$tmp"
  cat >"$tmp"
  mv -f "$tmp" "$path"
}

install -d -m 0755 -o root -g root "$TLS_DIR"
value "$ca_name" | write_file "$TLS_CA_FILE" 0644 root:root
value "$cert_name" | write_file "$TLS_CERT_FILE" 0644 root:root
# Consul runs as its own user and reads the key too; Nomad runs as root.
value "$key_name" | write_file "$TLS_KEY_FILE" 0640 "root:${CONSUL_USER}"
log "wrote renewed TLS files in ${TLS_DIR}"

# Only agents that run are reloaded; a node still booting picks the files up when they start.
systemctl try-reload-or-restart consul.service nomad.service
log "reloaded consul.service and nomad.service"
