#!/usr/bin/env bash
# spin-cloud local target: the first step of `pulumi destroy --stack local` once the Nomad jobs'
# resources are gone (they are deleted with the state directory, never through a provider call
# that would fail on a stopped agent): stops every job of the local Nomad and waits, bounded,
# until none of their allocations runs, so no task outlives the agent (raw_exec executors and
# their tasks survive a stopped Nomad client). The agent's `stop` (local-agent.sh) then kills
# whatever it recorded that is still left.
#
#   local-nomad-jobs.sh stop --nomad BIN [--timeout S]
#       env: NOMAD_ADDR, SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN
#
# Succeeds whether or not the agent runs: when Nomad does not answer (after a reboot, or stopped
# outside Pulumi) there is no task of it left to stop. A stop that fails or a wait that times out
# is reported and the destroy goes on; local-agent.sh stop kills what is left.
# The token goes to the CLI through NOMAD_TOKEN (environment, never an argument).
set -euo pipefail

case "${BASH_SOURCE[0]}" in
  */*) readonly LIB_DIR="${BASH_SOURCE[0]%/*}/lib" ;;
  *) readonly LIB_DIR=lib ;;
esac
# shellcheck source-path=SCRIPTDIR source=lib/local-env.sh
source "${LIB_DIR}/local-env.sh"

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
log() { printf 'local-nomad-jobs: %s\n' "$*"; }
warn() { printf 'local-nomad-jobs: warning: %s\n' "$*" >&2; }

# Allocations whose tasks may still run: the client has not reported them terminal yet
# (nomad/structs/structs.go AllocClientStatus{Pending,Running}; filter syntax of the HTTP API,
# website/content/api-docs/index.mdx "Filtering"), URL-encoded for `nomad operator api`.
readonly ACTIVE_FILTER='ClientStatus%20%3D%3D%20%22pending%22%20or%20ClientStatus%20%3D%3D%20%22running%22'

# The IDs of every job, from the table `nomad job status` prints (first column under the
# "ID Type Priority Status Submit Date" header, or the single line "No running jobs";
# command/job_status.go `createStatusListOutput` in hashicorp/nomad v1.6.3).
job_ids() {
  "$nomad" job status | awk 'NR > 1 && $1 != "" { print $1 }'
}

# True once no allocation is pending or running (`nomad operator api` prints the body: `[]`).
# The method is explicit and stdin /dev/null: with stdin not a terminal (as under Pulumi) the
# command reads it as a body and POSTs (command/operator_api.go in hashicorp/nomad v1.6.3).
none_active() {
  local body
  body="$("$nomad" operator api -X GET "/v1/allocations?filter=${ACTIVE_FILTER}" </dev/null)" || return 1
  [[ "${body//[[:space:]]/}" == "[]" ]]
}

stop_all() {
  local timeout=60 waited=0 jobs
  nomad=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --nomad) nomad=${2:?--nomad needs a path}; shift 2 ;;
      --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  # The user's NOMAD_NAMESPACE would list (and stop) another namespace's jobs, NOMAD_TOKEN another token's.
  scrub_agent_env NOMAD_ADDR
  [[ "$timeout" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a whole number of seconds > 0, got '${timeout}'"
  [ -n "${NOMAD_ADDR:-}" ] || die "NOMAD_ADDR is not set"
  [ -n "${SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN:-}" ] || die "SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN is not set"
  # The binary may be gone with the cache, or the agent may be down: nothing of it can run then.
  if [ ! -x "$nomad" ]; then
    log "no Nomad binary at ${nomad}: no job to stop"
    return 0
  fi
  export NOMAD_TOKEN="$SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN"
  if ! "$nomad" agent-info >/dev/null 2>&1; then
    log "Nomad does not answer at ${NOMAD_ADDR} with the management token (not running, e.g. after a reboot): no job to stop"
    return 0
  fi
  if ! jobs="$(job_ids)"; then
    warn "could not list Nomad's jobs; the agent's stop kills what is left"
    return 0
  fi
  if [ -n "$jobs" ]; then
    # Several IDs in one stop (command/job_stop.go); no shutdown delay: nothing routes to a
    # platform that is going away. Detached: the wait below is for the tasks, not the evaluation.
    # shellcheck disable=SC2086 # one word per job ID
    if "$nomad" job stop -yes -detach -no-shutdown-delay $jobs >/dev/null; then
      log "stopped the jobs: $(printf '%s' "$jobs" | tr '\n' ' ')"
    else
      warn "stopping the jobs failed; the agent's stop kills what is left"
    fi
  fi
  until none_active; do
    waited=$((waited + 1))
    if [ "$waited" -ge "$timeout" ]; then
      warn "allocations still running after ${timeout}s; the agent's stop kills what is left"
      return 0
    fi
    sleep 1
  done
  log "no allocation is running"
  # The client's garbage collection of its terminal allocations removes their directories, and
  # with them the tmpfs Nomad mounts there when it runs as root (client/allocdir/fs_linux.go
  # `createSecretDir`), which the state step's `rm -rf` could not remove (website/content/
  # api-docs/client.mdx "GC All Allocations").
  "$nomad" operator api -X PUT /v1/client/gc </dev/null >/dev/null 2>&1 || warn "the client's garbage collection failed"
}

case "${1:-}" in
  stop) shift; stop_all "$@" ;;
  *) die "usage: local-nomad-jobs.sh stop --nomad BIN [--timeout S] (see the header of this script)" ;;
esac
