# shellcheck shell=bash
# spin-cloud local target: the health side of local-agent.sh, which sources this file (it is not
# run on its own): polling the agent's health URL and showing the tail of its log.
#
# Uses local-agent.sh's globals: health_url, cacert, timeout, poll_seconds, poll_ms and log_file.
# shellcheck disable=SC2154

healthy() {
  local code args=(--silent --output /dev/null --write-out '%{http_code}' --max-time 5 --noproxy '*')
  [[ -z "$cacert" ]] || args+=(--cacert "$cacert")
  code="$(curl "${args[@]}" "$health_url" 2>/dev/null)" || return 1
  [[ "$code" == 2[0-9][0-9] ]]
}

# await_healthy <pid>: 0 once the health URL answers 2xx while the process runs, 1 when --timeout
# passes first, 2 when the process exits first.
await_healthy() {
  local pid=$1 waited_ms=0 start=$SECONDS answered
  while true; do
    answered=0
    if healthy; then answered=1; fi
    is_alive "$pid" || return 2
    [[ "$answered" == 0 ]] || return 0
    if ((waited_ms >= timeout * 1000 || SECONDS - start > timeout)); then
      return 1
    fi
    sleep "$poll_seconds"
    waited_ms=$((waited_ms + poll_ms))
  done
}

# The agent's log from line <first> on (this start's part), at most its last 20 lines.
print_log_tail() {
  local first=$1
  printf -- '--- last lines of %s ---\n' "$log_file" >&2
  tail -n "+${first}" "$log_file" 2>/dev/null | tail -n 20 >&2 || true
  printf -- '--- end of %s ---\n' "$log_file" >&2
}
