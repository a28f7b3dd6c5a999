# shellcheck shell=bash
# spin-cloud local target: the process side of local-agent.sh, which sources this file (it is not
# run on its own): reading a process from ps, the pid files and the command line recorded with
# them, signalling with escalation, and launching the agent detached from the caller.
#
# Uses local-agent.sh's globals: name, cmd, pid_file, cmdline_file, command_file, children_file and
# log_file;
# sets proc_stat, proc_args, recorded_pid, agent_pid and launched_pid for it.
# shellcheck disable=SC2154

# Reads the process's state and command line (its arguments joined by single spaces) from one ps
# run into proc_stat and proc_args; false when there is no such process.
read_proc() {
  local line
  proc_stat="" proc_args=""
  line="$(LC_ALL=C ps -ww -o stat= -o args= -p "$1" 2>/dev/null)" || return 1
  read -r proc_stat proc_args <<<"$line" || true
  [[ -n "$proc_stat" ]]
}

# True when the process exists and is not a zombie (an exited child nobody reaped yet).
is_alive() {
  read_proc "$1" && [[ "$proc_stat" != Z* ]]
}

# read_line <file> <variable>: the file's first line into the variable; false without one.
read_line() {
  printf -v "$2" '%s' ''
  [[ -f "$1" ]] || return 1
  IFS= read -r "$2" <"$1" || [[ -n "${!2}" ]]
}

# The pid in the pid file, into recorded_pid, if the file holds one.
read_pid_file() {
  read_line "$pid_file" recorded_pid || return 1
  [[ "$recorded_pid" =~ ^[1-9][0-9]*$ && "$recorded_pid" != 1 ]]
}

# Finds the agent this state dir started, if it still runs, into agent_pid: the pid file's process,
# alive, with the command line recorded next to the pid file (so not one that reused the pid).
# shellcheck disable=SC2034 # agent_pid is for local-agent.sh
find_agent() {
  local recorded
  agent_pid=""
  read_pid_file || return 1
  is_alive "$recorded_pid" || return 1
  read_line "$cmdline_file" recorded || return 1
  [[ -n "$recorded" && "$recorded" == "$proc_args" ]] || return 1
  agent_pid=$recorded_pid
}

remove_pid_files() { rm -f "$pid_file" "$cmdline_file" "$command_file" "$children_file"; }

# ---------------------------------------------------------------------------------------------
# The agent's children

# descendants <pid>: every process below <pid> (children, theirs, ...) as "pid args" lines, from
# one ps run; args exactly as read_proc reads them back.
descendants() {
  LC_ALL=C ps -A -ww -o pid= -o ppid= -o args= | awk -v root="$1" '
    match($0, /^ *[0-9]+ +[0-9]+ */) {
      split(substr($0, 1, RLENGTH), ids, " ")
      parent[ids[1]] = ids[2]
      args[ids[1]] = substr($0, RLENGTH + 1)
    }
    END {
      found[root] = 1
      do {
        added = 0
        for (p in parent) if (!(p in found) && (parent[p] in found)) { found[p] = 1; added = 1 }
      } while (added)
      for (p in found) if (p != root) print p, args[p]
    }'
}

# Records the agent's descendants in children_file before it is stopped: a Nomad client leaves
# its raw_exec executors and their tasks running when it exits (they are re-attached at its next
# start), so these are the pids `kill_recorded_children` stops once the agent is gone.
record_children() {
  local tmp="${children_file}.tmp.$$"
  descendants "$1" >"$tmp" || { rm -f "$tmp"; return 1; }
  mv -f "$tmp" "$children_file"
}

# kill_recorded_children <seconds>: SIGTERM to every recorded process that still runs with the
# command line recorded for it (never one that reused the pid), SIGKILL to those left after
# <seconds>; true once none is left.
kill_recorded_children() {
  local seconds=$1 pid args left=() still=() start=$SECONDS
  [[ -f "$children_file" ]] || return 0
  while read -r pid args; do
    [[ "$pid" =~ ^[1-9][0-9]*$ ]] || continue
    if is_alive "$pid" && [[ "$proc_args" == "$args" ]]; then left+=("$pid"); fi
  done <"$children_file"
  [[ ${#left[@]} -gt 0 ]] || return 0
  printf '%s left %s process(es) running (pids %s); stopping them\n' "$name" "${#left[@]}" "${left[*]}"
  for pid in "${left[@]}"; do kill -s TERM "$pid" 2>/dev/null || true; done
  while :; do
    still=()
    for pid in "${left[@]}"; do if is_alive "$pid"; then still+=("$pid"); fi; done
    [[ ${#still[@]} -gt 0 && $((SECONDS - start)) -lt "$seconds" ]] || break
    sleep 0.1
  done
  [[ ${#still[@]} -gt 0 ]] || return 0
  for pid in "${still[@]}"; do kill -s KILL "$pid" 2>/dev/null || true; done
  for pid in "${still[@]}"; do wait_gone "$pid" 5 || return 1; done
}

# Records what ps shows as the agent's command line. At launch that is the command itself; once
# the agent answers, it is read back from ps, as an interpreter script shows as its interpreter's.
record_cmdline() {
  local tmp="${cmdline_file}.tmp.$$"
  printf '%s\n' "$1" >"$tmp"
  mv -f "$tmp" "$cmdline_file"
}

# wait_gone <pid> <seconds>: true once the process is gone, false if it still runs after <seconds>.
wait_gone() {
  local pid=$1 limit_ms=$(($2 * 1000)) waited_ms=0 start=$SECONDS
  while is_alive "$pid"; do
    if ((waited_ms >= limit_ms || SECONDS - start > $2)); then
      return 1
    fi
    sleep 0.1
    waited_ms=$((waited_ms + 100))
  done
}

# terminate <pid> <seconds> <signals...>: sends each signal in turn, giving the process <seconds>
# to exit after each but the last, then waits up to 5 s more; true once it is gone.
terminate() {
  local pid=$1 seconds=$2 sig
  shift 2
  for sig in "$@"; do
    kill -s "$sig" "$pid" 2>/dev/null || true
    if [[ "$sig" == KILL ]]; then
      wait_gone "$pid" 5
      return
    fi
    if wait_gone "$pid" "$seconds"; then
      return 0
    fi
    printf '%s (pid %s) still running %ss after SIG%s\n' "$name" "$pid" "$seconds" "$sig" >&2
  done
  ! is_alive "$pid"
}

# ---------------------------------------------------------------------------------------------
# Launching

# Stops a child that failed to start (or whose start was interrupted) and forgets it.
abandon_launch() {
  local pid=$launched_pid
  launched_pid=""
  if [[ -n "$pid" ]]; then
    terminate "$pid" 5 TERM KILL 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  remove_pid_files
}

# True when this bash lets an asynchronous subshell reset the SIGINT and SIGQUIT it ignores
# (bash >= 4.3 does; 4.4 to be safe). Older ones, like macOS's bash 3.2, keep them ignored.
async_traps_resettable() {
  ((BASH_VERSINFO[0] > 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] >= 4)))
}

# launch: starts the command in the background, detached from the caller, and records its pid.
# Either way the pid of the background subshell is the agent's (the subshell execs it), so this
# shell can `wait` for its exit status, and the agent gets SIGINT and SIGQUIT at their defaults.
launch() {
  local wanted=$1 tmp
  if command -v setsid >/dev/null 2>&1 && async_traps_resettable; then
    # Its own session. Without job control bash starts `&` subshells with SIGINT and SIGQUIT
    # ignored, which the agent would inherit: reset them before the exec. The subshell is no
    # process group leader, so setsid execs the command without forking.
    (trap - INT QUIT; exec setsid "${cmd[@]}") </dev/null >>"$log_file" 2>&1 &
    launched_pid=$!
  else
    # Its own process group: with job control on (set -m) bash gives the job one and leaves
    # SIGINT and SIGQUIT alone; nohup makes it immune to the terminal's hangup.
    set -m
    (exec nohup "${cmd[@]}") </dev/null >>"$log_file" 2>&1 &
    launched_pid=$!
    set +m
  fi
  printf '%s\n' "$wanted" >"$command_file"
  record_cmdline "$wanted"
  tmp="${pid_file}.tmp.$$"
  printf '%s\n' "$launched_pid" >"$tmp"
  mv -f "$tmp" "$pid_file"
}
