#!/usr/bin/env bash
# spin-cloud local target: checks that this machine can run the local stack before anything is
# installed or started: a supported OS and architecture, the commands the installer needs, and
# free loopback ports for the agents. Reports every problem, then exits 1 if there was any.
#
# Usage:
#   local-preflight.sh --ports "NAME=PORT ..." [--require "COMMAND ..."]
#   local-preflight.sh --print-platform
#
# --ports            space-separated PORT or NAME=PORT entries (e.g. "nomad-http=4646 8500"); a
#                    port that accepts a TCP connection on 127.0.0.1 is in use.
# --require          space-separated commands that must be on PATH.
# --print-platform   prints only the platform as <os>_<arch> (linux|darwin, amd64|arm64), the
#                    naming of HashiCorp's release archives, and exits.
#
# On success prints "ok: <os>/<arch>". Portable to bash 3.2 (macOS) and Linux.
set -euo pipefail

readonly PROG="local-preflight.sh"

usage() {
  cat <<EOF
usage: ${PROG} --ports "NAME=PORT ..." [--require "COMMAND ..."]
       ${PROG} --print-platform
EOF
}

usage_error() { printf 'error: %s\n' "$*" >&2; usage >&2; exit 2; }

ports="" require="" have_ports=0 have_require=0 print_platform=0

need_value() {
  [[ $# -ge 2 && "$2" != --* ]] || usage_error "$1 needs a value"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --ports) need_value "$@"; ports=$2; have_ports=1; shift 2 ;;
    --require) need_value "$@"; require=$2; have_require=1; shift 2 ;;
    --print-platform) print_platform=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

if [[ "$print_platform" == 1 ]]; then
  [[ "$have_ports" == 0 && "$have_require" == 0 ]] || usage_error "--print-platform takes no other option"
else
  [[ "$have_ports" == 1 ]] || usage_error "--ports is required"
fi

# The entries of --ports, parsed before any check: port_names[i] needs port_numbers[i].
port_names=()
port_numbers=()
port_count=0
read -r -a entries <<<"$ports" || true
for entry in ${entries[@]+"${entries[@]}"}; do
  if [[ "$entry" =~ ^([A-Za-z0-9._-]+=)?([0-9]+)$ ]]; then
    port_name="${BASH_REMATCH[1]%=}"
    port="${BASH_REMATCH[2]}"
    if [[ ${#port} -le 5 ]] && ((10#$port >= 1 && 10#$port <= 65535)); then
      port_names[port_count]="$port_name"
      port_numbers[port_count]=$((10#$port))
      port_count=$((port_count + 1))
      continue
    fi
  fi
  usage_error "--ports entry '${entry}' is not PORT or NAME=PORT with PORT in 1-65535"
done

problems=0
problem() {
  printf 'error: %s\n' "$*" >&2
  problems=$((problems + 1))
}

raw_os="$(uname -s)"
raw_arch="$(uname -m)"
case "$raw_os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) os="" ;;
esac
case "$raw_arch" in
  x86_64 | amd64) arch=amd64 ;;
  arm64 | aarch64) arch=arm64 ;;
  *) arch="" ;;
esac
if [[ -z "$os" || -z "$arch" ]]; then
  problem "unsupported OS/arch: ${raw_os}/${raw_arch}; supported: linux/darwin on amd64/arm64"
fi

if [[ "$print_platform" == 1 ]]; then
  [[ "$problems" == 0 ]] || exit 1
  printf '%s_%s\n' "$os" "$arch"
  exit 0
fi

read -r -a commands <<<"$require" || true
for cmd in ${commands[@]+"${commands[@]}"}; do
  command -v "$cmd" >/dev/null 2>&1 || problem "missing command: ${cmd} (install it with your package manager)"
done

# A port is in use when something accepts a connection on it (bash's /dev/tcp, no nc needed).
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# "(needed by NAME)" for a named entry, nothing for a bare port.
needed_by() {
  [[ -z "$1" ]] || printf ' (needed by %s)' "$1"
}

i=0
while [[ "$i" -lt "$port_count" ]]; do
  port="${port_numbers[i]}"
  j=0
  duplicate=0
  while [[ "$j" -lt "$i" ]]; do
    if [[ "${port_numbers[j]}" == "$port" ]]; then
      duplicate=1
      problem "port ${port} is listed twice: '${port_names[j]:-$port}' and '${port_names[i]:-$port}'"
    fi
    j=$((j + 1))
  done
  if [[ "$duplicate" == 0 ]] && port_in_use "$port"; then
    problem "port ${port} on 127.0.0.1 is in use$(needed_by "${port_names[i]}")"
  fi
  i=$((i + 1))
done

[[ "$problems" == 0 ]] || exit 1
echo "ok: ${os}/${arch}"
