# shellcheck shell=bash
# Sourced by the local scripts. The local platform uses only what the stack sets: variables of
# the user's shell that the Consul and Nomad CLIs and agents read (NOMAD_ADDR, NOMAD_TOKEN,
# NOMAD_REGION, NOMAD_NAMESPACE, NOMAD_CACERT, CONSUL_HTTP_*, CONSUL_CACERT, …; hashicorp/nomad
# api/api.go DefaultConfig, hashicorp/consul api/api.go DefaultConfig) must not reach them.

# scrub_agent_env [KEEP...]: unsets every exported NOMAD_* and CONSUL_* variable except KEEP.
scrub_agent_env() {
  local var keep
  for var in $(compgen -e); do
    case "$var" in
      NOMAD_* | CONSUL_*) ;;
      *) continue ;;
    esac
    for keep in "$@"; do
      [ "$var" = "$keep" ] && continue 2
    done
    unset "$var"
  done
}
