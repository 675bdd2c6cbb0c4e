#!/bin/bash
# A short soak (bench/soak.sh, 50 s) for CI: mixed load (wrk on /menu,
# orders in every mode with cancels, SSE subscribers coming and going)
# against the sanitizer-built server; no crash, no leak at exit, flat
# memory, every accepted order ready or cancelled. It runs in the ASan pass
# of scripts/test.sh (the leak check is the point); against a plain build
# it is skipped unless CAFE_SOAK_ANY=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${CAFE_SERVER_BIN:-build/cafe-server}
# No `ldd | grep -q` under pipefail: ldd may die of SIGPIPE (see cafe_is_asan).
if [[ $(ldd "$bin" 2>/dev/null) != *libasan* ]] && [ "${CAFE_SOAK_ANY:-0}" != 1 ]; then
    echo "skip: $bin is not built with ASan (the sanitizer pass runs this)"
    exit 77
fi
out=$(mktemp "${TMPDIR:-/tmp}/soak-short.XXXXXX")
trap 'rm -f "$out"' EXIT
CAFE_SERVER_BIN=$bin CAFE_SOAK_OUT=$out bash bench/soak.sh "${CAFE_SOAK_SECONDS:-50}"
