#!/usr/bin/env bash
# Installs the example app's own dependencies (apps/hello/package-lock.json; no install script is
# needed) and builds it into apps/hello/dist/hello.wasm. Needs only node, npm and the npm registry.
#
#   bash apps/build.sh             npm ci, then npm run build
#   bash apps/build.sh --if-stale  the same, only if dist/hello.wasm is missing or older than a
#                                  source, or node_modules is incomplete (test/apps/example-app.test.ts)
#
# Where flock(1) exists it holds apps/hello/.build.lock exclusively, so parallel runs in one work
# tree take turns instead of clobbering each other's node_modules; the tests serve the app under a
# shared lock.
set -euo pipefail

app_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/hello" && pwd)"
wasm="${app_dir}/dist/hello.wasm"
jco="${app_dir}/node_modules/@bytecodealliance/jco/dist/jco.js"
sources=(src build.mjs package.json package-lock.json tsconfig.json)

case "${1:-}" in
    "") if_stale=false ;;
    --if-stale) if_stale=true ;;
    *)
        echo "usage: apps/build.sh [--if-stale]" >&2
        exit 2
        ;;
esac

# flock(1) is util-linux: Linux has it, macOS does not (Homebrew's `flock` package provides it).
# Without it the build runs unlocked, which is safe for the usual one build at a time.
if command -v flock >/dev/null 2>&1; then
    exec 9>"${app_dir}/.build.lock"
    if ! flock --exclusive --timeout 300 9; then
        echo "apps/build.sh: waited 300 s for ${app_dir}/.build.lock" >&2
        exit 1
    fi
fi

if [[ "${if_stale}" == true ]]; then
    stale=""
    if [[ ! -s "${wasm}" ]]; then
        stale="there is no ${wasm}"
    elif [[ ! -f "${jco}" ]]; then
        stale="${app_dir}/node_modules is incomplete"
    else
        stale="$(cd "${app_dir}" && find "${sources[@]}" -newer "${wasm}" -print -quit)"
    fi
    if [[ -z "${stale}" ]]; then
        echo "apps/build.sh: ${wasm} is up to date"
        exit 0
    fi
    echo "apps/build.sh: building (stale: ${stale})"
fi

npm ci --prefix "${app_dir}" --no-audit --no-fund

# j2w skips work when its inputs are unchanged and reports a failed componentization on stderr
# while still exiting 0: start without the old component so a failure cannot leave a stale one.
rm -f "${wasm}"
npm run --prefix "${app_dir}" build

if [[ ! -s "${wasm}" ]]; then
    echo "apps/build.sh: the build wrote no ${wasm}" >&2
    exit 1
fi
size="$(wc -c <"${wasm}")"
echo "apps/build.sh: built ${wasm} (${size} bytes)"
