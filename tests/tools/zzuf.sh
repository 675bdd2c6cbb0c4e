#!/bin/bash
# zzuf-mutated requests: a corpus of valid requests (every route, JSON and
# form bodies, chunked, pipelined, 100-continue) is mutated by zzuf (random
# bit flips at ratios from 0.1% to 5%, one seed per file) and each mutation
# is sent on its own connection. The server must never die, answer every
# mutation it answers with a well-formed status line and no 500, keep
# answering a probe, and exit 0 on SIGTERM (no leak under ASan).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/tools/lib.bash
cafe_need zzuf node

iterations=${CAFE_ZZUF_ITERATIONS:-3000}
corpus=$CAFE_TMP/corpus
mutated=$CAFE_TMP/mutated
mkdir -p "$corpus" "$mutated"
req() { printf "$2" >"$corpus/$1"; }
json='{"item":"latte","flavour":"vanilla","customer":"Zoë"}'
batch='{"orders":[{"item":"drip"},{"item":"mocha","flavour":"caramel"}],"mode":"thread"}'
req get_menu 'GET /menu HTTP/1.1\r\nHost: cafe\r\nAccept: application/json\r\n\r\n'
req get_root 'GET / HTTP/1.1\r\nHost: cafe\r\n\r\n'
req head_static 'HEAD /index.html HTTP/1.1\r\nHost: cafe\r\nIf-None-Match: "x"\r\n\r\n'
req healthz 'GET /healthz HTTP/1.0\r\n\r\n'
req metrics 'GET /metrics HTTP/1.1\r\nHost: cafe\r\nConnection: close\r\n\r\n'
req orders_list 'GET /orders?limit=5&status=ready HTTP/1.1\r\nHost: cafe\r\n\r\n'
req order_get 'GET /orders/1 HTTP/1.1\r\nHost: cafe\r\n\r\n'
req order_delete 'DELETE /orders/2 HTTP/1.1\r\nHost: cafe\r\n\r\n'
req order_json "POST /order?wait=0 HTTP/1.1\r\nHost: cafe\r\nContent-Type: application/json\r\nContent-Length: ${#json}\r\n\r\n$json"
req order_sync "POST /sync/order HTTP/1.1\r\nHost: cafe\r\nContent-Length: ${#json}\r\n\r\n$json"
req order_thread "POST /thread/order?timeout_ms=50 HTTP/1.1\r\nHost: cafe\r\nContent-Length: ${#json}\r\n\r\n$json"
req order_form 'POST /async/order HTTP/1.1\r\nHost: cafe\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 32\r\n\r\nitem=flat+white&flavour=Pistachi'
req order_query 'POST /order?item=drip&wait=0 HTTP/1.1\r\nHost: cafe\r\nContent-Length: 0\r\n\r\n'
req batch_chunked "POST /orders?stream=1 HTTP/1.1\r\nHost: cafe\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n${batch:0:16}\r\n$(printf %x $((${#batch} - 16)));ext=1\r\n${batch:16}\r\n0\r\n\r\n"
req expect "POST /order?wait=0 HTTP/1.1\r\nHost: cafe\r\nExpect: 100-continue\r\nContent-Length: ${#json}\r\n\r\n$json"
req events 'GET /events HTTP/1.1\r\nHost: cafe\r\nLast-Event-ID: 3\r\n\r\n'
req pipelined "GET /menu HTTP/1.1\r\nHost: c\r\n\r\nPOST /order?wait=0 HTTP/1.1\r\nHost: c\r\nContent-Length: ${#json}\r\n\r\n${json}GET /orders HTTP/1.1\r\nHost: c\r\n\r\nDELETE /orders/1 HTTP/1.1\r\nHost: c\r\n\r\n"

files=("$corpus"/*)
for i in $(seq "$iterations"); do
    f=${files[$((i % ${#files[@]}))]}
    zzuf -s "$i" -r 0.001:0.05 <"$f" >"$mutated/$(printf %06d "$i")"
done

# Brews are quick (time-scale) so orders finish inside the run.
cafe_start --access-log=off --time-scale 0.001 --header-timeout-ms 2000 --idle-timeout-ms 1000
start=$SECONDS
res=$(node tests/tools/send_raw.mjs "$CAFE_PORT" "$mutated" 16) || die "sender failed"
echo "zzuf: $iterations mutated requests in $((SECONDS - start))s: $res"
get() { cafe_json_get "$res" "$1"; }

fail=0
cafe_alive "$CAFE_PID" || die "server died on zzuf-mutated input"
[ "$(get sent)" = "$iterations" ] || { echo "FAIL: only $(get sent) of $iterations connections made"; fail=1; }
[ "$(get 'statuses["500"]')" = 0 ] || { echo "FAIL: 500 answers"; fail=1; }
[ "$(get badStatusLine)" = 0 ] || { echo "FAIL: answers without an HTTP/1.1 status line"; fail=1; }
[ "$(get 'statuses["400"]')" -gt 0 ] || { echo "FAIL: no 400 at all (were requests mutated?)"; fail=1; }
[ "$(get 'statuses["200"]')" -gt 0 ] || { echo "FAIL: no 200 at all (lightly mutated ones should pass)"; fail=1; }
[ "$(cafe_probe /healthz 5)" = 200 ] || { echo "FAIL: probe after the run"; fail=1; }
cafe_stop 20
echo "server exited 0 after SIGTERM in ${CAFE_STOP_MS} ms"
[ "$fail" = 0 ] || die "zzuf"
echo "PASS"
