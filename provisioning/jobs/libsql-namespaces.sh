#!/bin/sh
# The `libsql-namespaces` sidecar of the `libsql` job (libsql-job.ts): keeps every namespace of
# the namespaces file present on the sqld of the same allocation, through its admin API on the
# node's loopback. Runs forever; the file is re-read every round, so a namespace added by
# `pulumi up` (the job's Variable) is created without restarting sqld.
#
# usage: libsql-namespaces.sh <admin base url> <namespaces file> <auth header file> <seconds between rounds> <ready file>
#
# The ready file exists while the last round found every namespace present: the job's
# `libsql-namespaces` service checks it, so a deployment whose namespaces cannot be created (sqld
# answers 500 when its S3 bucket or key is wrong, while /health stays 200) is not healthy.
#
# sqld (tursodatabase/libsql, libsql-server-v0.24.32, libsql-server/src/http/admin/mod.rs):
# - GET /v1/namespaces/<ns>/config: 200 when it exists, 404 when not;
# - POST /v1/namespaces/<ns>/create with a JSON body (`{}`; 415 without the content type):
#   200, or 400 "already exists" (not idempotent); a create of a namespace whose local files are
#   gone restores its latest backup (RestoreOption::Latest), which is how a node loss heals;
# - admin auth: `Authorization: Basic <key>`, the key compared verbatim. The header comes from a
#   file (curl -H @file) so the key is never in an argv.
# No --max-time on the admin calls: a create (and the first GET of a namespace after a restart)
# restores the namespace from its backup inside the request, and sqld's admin server (hyper 0.14)
# drops the handler when the client goes away, so a timeout would abort every restore of a
# namespace that takes longer (thousands of WAL batch objects to list and apply).
# Namespaces are never deleted here: removing a store keeps its data (docs/libsql.md).
set -u
admin=$1 list=$2 header=$3 interval=$4 ready=$5
body=${TMPDIR:-/tmp}/libsql-namespaces.$$
last=""
# A ready file that migrated with the allocation's local/ says nothing about this sqld.
rm -f "$ready"
while :; do
  missing=0 total=0
  if [ -r "$list" ]; then
    while IFS= read -r ns || [ -n "$ns" ]; do
      [ -n "$ns" ] || continue
      case $ns in
        *[!a-z0-9-]* | -* | *-) echo "libsql-namespaces: skipping $ns: not a DNS label" >&2; continue ;;
      esac
      total=$((total + 1))
      code=$(curl -sS -o /dev/null -w '%{http_code}' --connect-timeout 5 -H @"$header" "$admin/v1/namespaces/$ns/config") || code=000
      [ "$code" = 200 ] && continue
      if [ "$code" != 404 ]; then
        echo "libsql-namespaces: $ns: the admin API answered $code" >&2
        missing=$((missing + 1))
        continue
      fi
      code=$(curl -sS -o "$body" -w '%{http_code}' --connect-timeout 5 -X POST -H @"$header" -H 'Content-Type: application/json' --data '{}' \
        "$admin/v1/namespaces/$ns/create") || code=000
      if [ "$code" = 200 ]; then
        echo "libsql-namespaces: created $ns"
      elif [ "$code" = 400 ] && grep -q 'already exists' "$body" 2>/dev/null; then
        :
      else
        echo "libsql-namespaces: creating $ns: the admin API answered $code: $(head -c 300 "$body" 2>/dev/null)" >&2
        missing=$((missing + 1))
      fi
    done < "$list"
  fi
  if [ "$missing" = 0 ] && [ "$total" -gt 0 ]; then : > "$ready"; else rm -f "$ready"; fi
  state="$total namespaces, $missing not ready"
  if [ "$state" != "$last" ]; then
    echo "libsql-namespaces: $state"
    last=$state
  fi
  rm -f "$body"
  sleep "$interval"
done
