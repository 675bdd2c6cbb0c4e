#!/bin/bash
# Graceful shutdown under load: SIGTERM while 16 keep-alive clients place
# orders in every mode (and cancel some). Passes when
#   - the server exits 0 in under 2 s (the README's claim; 3 s under ASan),
#   - no response is cut short (partial = 0),
#   - every request the server handled (its access log) got its complete
#     response at the client, so a request that went unanswered is one the
#     server never read (reset before being accepted) -- no accepted order
#     dropped without an answer,
#   - no accepted order failed (they all finish inside the drain timeout),
#   - the load really overlapped the shutdown (503 "closing" or refusals).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/tools/lib.bash
cafe_need node

drain_ms=8000
# Brews of 0.1-0.75 s: plenty are in flight when SIGTERM lands.
cafe_start --time-scale 0.05 --drain-timeout-ms "$drain_ms" --access-log=on
node tests/tools/order_load.mjs --port "$CAFE_PORT" --seconds 12 --concurrency 16 \
    --stop-on-refused >"$CAFE_TMP/load.json" &
load=$!
cafe_bg $load
sleep 3
cafe_stop $((drain_ms / 1000 + 5))
wait "$load" || die "load client failed"
res=$(cat "$CAFE_TMP/load.json")
echo "shutdown_under_load: SIGTERM to exit ${CAFE_STOP_MS} ms (drain timeout ${drain_ms} ms)"
echo "client: $res"
get() { cafe_json_get "$res" "$1"; }

complete=$(node -e "const c=JSON.parse(process.argv[1]).complete;
    process.stdout.write(String(Object.values(c).reduce((a, b) => a + b, 0)))" "$res")
logged=$(grep -c ' access ' "$CAFE_TMP/server.err" || true)
aborted=$(grep ' access ' "$CAFE_TMP/server.err" | grep -c '" 499 ' || true)
echo "server handled $logged requests ($aborted aborted); the client got $complete complete responses, $(get unanswered) unanswered, $(get refused) connections refused"

# The README's figure: exit in under 2 s (the brews in flight are under
# 0.75 s, the idle connections' grace 0.5 s; measured 0.85-1.2 s, on a loaded
# machine too). ASan slows the loop (measured up to 1.9 s): 3 s there.
# Breakage caught: the drain waiting for more than it must (the old bound,
# the drain timeout + 2 s, admitted 10 s).
limit_ms=2000
cafe_is_asan && limit_ms=3000
fail=0
[ "$CAFE_STOP_MS" -le "$limit_ms" ] || { echo "FAIL: exit took ${CAFE_STOP_MS} ms (at most $limit_ms)"; fail=1; }
[ "$(get partial)" = 0 ] || { echo "FAIL: responses cut short"; fail=1; }
[ "$aborted" = 0 ] || { echo "FAIL: the server saw clients vanish (499)"; fail=1; }
[ "$logged" = "$complete" ] || { echo "FAIL: handled $logged but answered $complete"; fail=1; }
[ "$(get failedOrders)" = 0 ] || { echo "FAIL: accepted orders failed at shutdown"; fail=1; }
[ "$(get 'complete["201"]')" -gt 0 ] || { echo "FAIL: no order finished"; fail=1; }
overlap=$(($(get 'complete["503"]') + $(get refused) + $(get unanswered)))
[ "$overlap" -gt 0 ] || { echo "FAIL: the load did not overlap the shutdown"; fail=1; }
[ "$fail" = 0 ] || die "shutdown under load"
echo "PASS"
