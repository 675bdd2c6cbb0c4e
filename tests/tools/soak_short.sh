#!/bin/bash
# A short soak (bench/soak.sh) for CI: mixed load (wrk on /menu, orders in
# every mode with cancels, SSE subscribers coming and going) against the
# server under test; no crash, flat memory, every accepted order ready or
# cancelled, no failed or cut-short request. It runs in both passes of
# scripts/test.sh: against the sanitizer build (50 s: the leak check at exit
# is the point there) and the plain one (30 s: several times the request
# rate, so races and lost orders show up where ASan's slowness hides them).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${CAFE_SERVER_BIN:-build/cafe-server}
# No `ldd | grep -q` under pipefail: ldd may die of SIGPIPE (see cafe_is_asan).
if [[ $(ldd "$bin" 2>/dev/null) == *libasan* ]]; then
    seconds=${CAFE_SOAK_SECONDS:-50}
else
    seconds=${CAFE_SOAK_SECONDS:-30}
fi
out=$(mktemp "${TMPDIR:-/tmp}/soak-short.XXXXXX")
trap 'rm -f "$out"' EXIT
CAFE_SERVER_BIN=$bin CAFE_SOAK_OUT=$out bash bench/soak.sh "$seconds"
