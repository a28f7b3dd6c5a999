#!/usr/bin/env bash
# spin-cloud local target: runs one agent (Consul, Nomad, Traefik, ...) as a background process on
# this machine, for the `local.Command` resources of the `local` stack: their `create` runs
# `start`, their `delete` runs `stop`.
#
# Usage:
#   local-agent.sh start  --name NAME --state-dir DIR --health-url URL [--cacert FILE]
#                         [--timeout SECONDS] [--grace SECONDS] -- COMMAND [ARGS...]
#   local-agent.sh stop   --name NAME --state-dir DIR [--grace SECONDS]
#   local-agent.sh status --name NAME --state-dir DIR
#
# start   Launches COMMAND detached from the caller (its own session through `setsid` where there
#         is one, else its own process group and `nohup`; stdin /dev/null; stdout and stderr
#         appended to DIR/logs/NAME.log), records its pid in DIR/run/NAME.pid and waits until URL
#         answers with an HTTP 2xx (--timeout, default 60 s). Idempotent: an agent that already
#         runs the same command and is healthy is left alone; one that runs another command line
#         is stopped (as by `stop`) and started again. A failed start leaves nothing running and
#         prints the tail of the agent's log.
# stop    SIGINT (Consul and Nomad leave their cluster gracefully on interrupt), then SIGTERM, then
#         SIGKILL, each after --grace seconds (default 15). Exits 0 when the agent is not running.
#         The agent's descendants, recorded (pid and command line, DIR/run/NAME.children) just
#         before it is signalled, get SIGTERM and after --grace SIGKILL once it has exited: a Nomad
#         client leaves its raw_exec executors and tasks running when it stops.
# status  Prints the pid and exits 0 when the agent runs, else prints "NAME not running", exits 3.
#
# Only a process whose command line is the one recorded at start (DIR/run/NAME.cmdline, as `ps`
# showed it once healthy) is signalled, so a pid file that outlived its process never hits another
# process that reused the pid. DIR/run/NAME.command is the command start was asked to run.
#
# LOCAL_AGENT_POLL_SECONDS (default 1, fractions allowed) is the health poll interval.
#
# Portable to bash 3.2 (macOS) and Linux; needs only curl, ps, kill and coreutils.
set -euo pipefail

readonly PROG="local-agent.sh"

# The process and health functions live in lib/ next to this script, found from its own path
# with builtins only: the tests run it with a PATH of a few tools, and `cd` would follow CDPATH.
case "${BASH_SOURCE[0]}" in
  */*) readonly LIB_DIR="${BASH_SOURCE[0]%/*}/lib" ;;
  *) readonly LIB_DIR=lib ;;
esac
# shellcheck source-path=SCRIPTDIR source=lib/local-agent-process.sh
source "${LIB_DIR}/local-agent-process.sh"
# shellcheck source-path=SCRIPTDIR source=lib/local-agent-health.sh
source "${LIB_DIR}/local-agent-health.sh"
# shellcheck source-path=SCRIPTDIR source=lib/local-env.sh
source "${LIB_DIR}/local-env.sh"
# The agents (and the raw_exec tasks they start, which inherit their environment) see nothing of
# the user's Nomad or Consul settings.
# shellcheck disable=SC2119 # no variable is kept: the agents get theirs from their config files
scrub_agent_env

usage() {
  cat <<EOF
usage: ${PROG} start --name NAME --state-dir DIR --health-url URL [--cacert FILE] [--timeout SECONDS] [--grace SECONDS] -- COMMAND [ARGS...]
       ${PROG} stop --name NAME --state-dir DIR [--grace SECONDS]
       ${PROG} status --name NAME --state-dir DIR
EOF
}

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
usage_error() { printf 'error: %s\n' "$*" >&2; usage >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# Arguments

action="${1:-}"
case "$action" in
  start | stop | status) shift ;;
  -h | --help) usage; exit 0 ;;
  "") usage_error "missing command: start, stop or status" ;;
  *) usage_error "unknown command '${action}': expected start, stop or status" ;;
esac

name="" state_dir="" health_url="" cacert="" timeout=60 grace=15
have_name=0 have_state_dir=0
cmd=()
cmd_count=0

# option_for <flag> <actions...>: the flag is an option of the current action.
option_for() {
  local flag=$1 a
  shift
  for a in "$@"; do
    [[ "$a" == "$action" ]] && return 0
  done
  usage_error "${flag} is not an option of ${action}"
}

# The value after a flag; a missing value or another flag in its place is an error naming the flag.
need_value() {
  [[ $# -ge 2 && "$2" != --* ]] || usage_error "$1 needs a value"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --name) need_value "$@"; name=$2; have_name=1; shift 2 ;;
    --state-dir) need_value "$@"; state_dir=$2; have_state_dir=1; shift 2 ;;
    --health-url) option_for "$1" start; need_value "$@"; health_url=$2; shift 2 ;;
    --cacert) option_for "$1" start; need_value "$@"; cacert=$2; shift 2 ;;
    --timeout) option_for "$1" start; need_value "$@"; timeout=$2; shift 2 ;;
    --grace) option_for "$1" start stop; need_value "$@"; grace=$2; shift 2 ;;
    --)
      option_for "-- COMMAND" start
      shift
      cmd_count=$#
      if [[ $# -gt 0 ]]; then cmd=("$@"); fi
      break
      ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1' for ${action}" ;;
  esac
done

[[ "$have_name" == 1 ]] || usage_error "--name is required"
[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] ||
  usage_error "--name '${name}' must start with a letter or digit and hold only letters, digits, '.', '_' and '-'"
[[ "$have_state_dir" == 1 && -n "$state_dir" ]] || usage_error "--state-dir is required"
[[ "$grace" =~ ^[0-9]+$ ]] || usage_error "--grace must be a whole number of seconds, got '${grace}'"

if [[ "$action" == start ]]; then
  [[ -n "$health_url" ]] || usage_error "--health-url is required"
  [[ "$health_url" =~ ^https?://[^[:space:]]+$ ]] ||
    usage_error "--health-url must be an http:// or https:// URL, got '${health_url}'"
  [[ -z "$cacert" || -r "$cacert" ]] || usage_error "--cacert ${cacert}: no such readable file"
  [[ "$timeout" =~ ^[0-9]+$ && "$timeout" -gt 0 ]] ||
    usage_error "--timeout must be a whole number of seconds > 0, got '${timeout}'"
  [[ "$cmd_count" -gt 0 ]] || usage_error "start needs the agent's command after --"
fi

# The poll interval, also in milliseconds: bash has no fractions, the deadline counts in ms.
poll_seconds="${LOCAL_AGENT_POLL_SECONDS:-1}"
if [[ "$poll_seconds" =~ ^([0-9]+)(\.([0-9]{1,3}))?$ ]]; then
  poll_fraction="${BASH_REMATCH[3]}000"
  poll_ms=$((10#${BASH_REMATCH[1]} * 1000 + 10#${poll_fraction:0:3}))
else
  poll_ms=0
fi
[[ "$poll_ms" -gt 0 ]] ||
  usage_error "LOCAL_AGENT_POLL_SECONDS must be a number of seconds > 0 such as 1 or 0.2, got '${poll_seconds}'"

readonly pid_file="${state_dir}/run/${name}.pid"
readonly cmdline_file="${state_dir}/run/${name}.cmdline"
readonly command_file="${state_dir}/run/${name}.command"
readonly children_file="${state_dir}/run/${name}.children"
readonly log_file="${state_dir}/logs/${name}.log"

# ---------------------------------------------------------------------------------------------
# Actions

launched_pid="" agent_pid="" recorded_pid="" proc_stat="" proc_args=""

on_start_interrupted() {
  trap - INT TERM HUP
  abandon_launch
  printf 'error: interrupted while starting %s; stopped it\n' "$name" >&2
  exit 130
}

start() {
  local wanted pid command first_line status=0 outcome=0
  mkdir -p "${state_dir}/run" "${state_dir}/logs" || die "cannot create ${state_dir}/run and ${state_dir}/logs"
  command -v "${cmd[0]}" >/dev/null 2>&1 || die "${name}: command not found: ${cmd[0]}"
  wanted="${cmd[*]}"

  if find_agent; then
    pid=$agent_pid
    read_line "$command_file" command || command=""
    if [[ "$command" != "$wanted" ]]; then
      echo "${name} is running (pid ${pid}) with another command line; restarting it"
      terminate "$pid" "$grace" INT TERM KILL || die "${name} (pid ${pid}) did not exit after SIGKILL"
      remove_pid_files
    else
      healthy || echo "${name} is running (pid ${pid}) but not healthy yet; waiting up to ${timeout}s"
      outcome=0
      await_healthy "$pid" || outcome=$?
      case "$outcome" in
        0) echo "${name} already running (pid ${pid})"; return 0 ;;
        1)
          terminate "$pid" 5 TERM KILL || true
          remove_pid_files
          printf 'error: %s (pid %s, already running) did not become healthy at %s within %ss; stopped it\n' \
            "$name" "$pid" "$health_url" "$timeout" >&2
          print_log_tail 1
          exit 1
          ;;
        *) remove_pid_files ;; # it exited meanwhile: start it again below
      esac
    fi
  elif [[ -e "$pid_file" || -e "$cmdline_file" || -e "$command_file" ]]; then
    echo "${name}: removing stale pid file ${pid_file}"
    remove_pid_files
  fi

  touch "$log_file" || die "cannot write ${log_file}"
  first_line=$(($(wc -l <"$log_file") + 1))
  printf '=== %s %s: starting %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$PROG" "$name" "$wanted" >>"$log_file"

  trap on_start_interrupted INT TERM HUP
  launch "$wanted"
  pid=$launched_pid
  outcome=0
  await_healthy "$pid" || outcome=$?
  if [[ "$outcome" == 0 ]]; then
    trap - INT TERM HUP
    launched_pid=""
    if read_proc "$pid" && [[ -n "$proc_args" ]]; then record_cmdline "$proc_args"; fi
    echo "${name} started (pid ${pid}), healthy at ${health_url}"
    return 0
  fi

  if [[ "$outcome" == 2 ]]; then
    wait "$pid" 2>/dev/null || status=$?
    launched_pid=""
    remove_pid_files
    printf 'error: %s exited with status %s before becoming healthy\n' "$name" "$status" >&2
  else
    abandon_launch
    printf 'error: %s did not become healthy at %s within %ss\n' "$name" "$health_url" "$timeout" >&2
  fi
  trap - INT TERM HUP
  print_log_tail "$first_line"
  exit 1
}

stop() {
  local pid
  if ! read_pid_file; then
    if [[ -e "$pid_file" || -e "$cmdline_file" || -e "$command_file" ]]; then remove_pid_files; fi
    echo "${name} not running"
    return 0
  fi
  pid=$recorded_pid
  if ! is_alive "$pid"; then
    remove_pid_files
    echo "${name} not running (removed the stale pid file)"
    return 0
  fi
  if ! find_agent; then
    remove_pid_files
    echo "${name} not running (pid ${pid} is another process now; removed the stale pid file)"
    return 0
  fi
  record_children "$pid" || echo "${name}: could not list its child processes" >&2
  terminate "$pid" "$grace" INT TERM KILL || die "${name} (pid ${pid}) did not exit after SIGKILL"
  kill_recorded_children "$grace" || die "${name}: a process it started did not exit after SIGKILL (pids in ${children_file})"
  remove_pid_files
  echo "${name} stopped (pid ${pid})"
}

status() {
  if find_agent; then
    echo "$agent_pid"
    return 0
  fi
  echo "${name} not running"
  exit 3
}

case "$action" in
  start) start ;;
  stop) stop ;;
  status) status ;;
esac
