#!/bin/bash
# Soak: DURATION seconds (default 300) of mixed load against a server built
# with ASan + UBSan (build-hard-asan, built here unless CAFE_SERVER_BIN is
# given) or, with CAFE_SOAK_VALGRIND=1, the normal build under valgrind:
#   - wrk on GET /menu (keep-alive, 4 connections),
#   - orders in all three modes via POST /order, /async/order, /sync/order,
#     /thread/order (some ?wait=0), DELETE cancels of some (order_load.mjs,
#     which follows every accepted order until it is ready or cancelled),
#   - SSE subscribers (curl -N /events) connecting and vanishing.
# Fails on: a crash, a sanitizer report or leak at exit (SIGTERM, exit 0
# required), memory growing after warm-up (VmRSS sampled every second), an
# accepted order lost (not ready/cancelled, or evicted unseen), any order
# still queued/brewing in GET /orders?limit=1000 after the load, a failed or
# cut-short request. Prints a summary and writes it to bench/results/soak.txt
# (CAFE_SOAK_OUT elsewhere). The server is pinned to CPU 0, load to CPU 1.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_given=${CAFE_SERVER_BIN:-}
source tests/tools/lib.bash
duration=${1:-300}
out=${CAFE_SOAK_OUT:-bench/results/soak.txt}
cafe_need wrk curl node taskset

wrapper=()
if [ "${CAFE_SOAK_VALGRIND:-0}" = 1 ]; then
    CAFE_SERVER_BIN=${CAFE_SERVER_BIN:-build/cafe-server}
    cafe_need valgrind
    kind="valgrind memcheck ($CAFE_SERVER_BIN)"
elif [ -z "$bin_given" ]; then
    cmake -S . -B build-hard-asan -DCAFE_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug \
        -DCAFE_TESTS=OFF >/dev/null
    cmake --build build-hard-asan -j2 --target cafe-server >/dev/null
    CAFE_SERVER_BIN=build-hard-asan/cafe-server
    kind="ASan+UBSan ($CAFE_SERVER_BIN)"
else
    kind="$CAFE_SERVER_BIN"
fi
if cafe_is_asan; then
    kind="ASan+UBSan ($CAFE_SERVER_BIN)"
    # Leak check at exit; a small quarantine so freed memory does not read
    # as growth in VmRSS.
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=16
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

ncpu=$(nproc)
server_cpu=0
load_cpu=$((ncpu > 1 ? 1 : 0))
export CAFE_SERVER_CPU=$server_cpu
flags=(--access-log=off --time-scale 0.01 --max-orders 2000 --baristas 2
    --idle-timeout-ms 5000 --drain-timeout-ms 10000)
if [ "${CAFE_SOAK_VALGRIND:-0}" = 1 ]; then
    # valgrind is the process we start; its exit code reports leaks.
    real_bin=$CAFE_SERVER_BIN
    CAFE_SERVER_BIN=$CAFE_TMP/vg-server
    printf '#!/bin/sh\nexec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 %s "$@"\n' \
        "$real_bin" >"$CAFE_SERVER_BIN"
    chmod +x "$CAFE_SERVER_BIN"
fi
cafe_start "${flags[@]}"
rss_start=$(cafe_rss_kb "$CAFE_PID")
pin=(taskset -c "$load_cpu")
echo "soak: ${duration}s against $kind on $CAFE_URL (server on CPU $server_cpu, load on CPU $load_cpu)"

"${pin[@]}" wrk -t1 -c4 -d"${duration}s" --latency "$CAFE_URL/menu" >"$CAFE_TMP/wrk.txt" 2>&1 &
wrk_pid=$!
cafe_bg $wrk_pid
"${pin[@]}" node tests/tools/order_load.mjs --port "$CAFE_PORT" --seconds "$duration" \
    --concurrency 6 --cancel 0.3 --verify --settle-ms 15000 >"$CAFE_TMP/orders.json" &
orders_pid=$!
cafe_bg $orders_pid

# SSE subscribers: four at a time, each staying 0.5-3 s, some of them
# vanishing mid-stream (curl killed) rather than closing cleanly.
sse()
{
    local end=$((SECONDS + duration)) n=0
    while [ "$SECONDS" -lt "$end" ]; do
        curl -sN --max-time "$((RANDOM % 3 + 1))" "$CAFE_URL/events" >/dev/null 2>&1 &
        local c=$!
        if [ $((n % 3)) = 0 ]; then
            sleep 0.$((RANDOM % 9 + 1))
            kill -KILL "$c" 2>/dev/null || true
        fi
        n=$((n + 1))
        wait "$c" 2>/dev/null || true
    done
    echo "$n" >"$CAFE_TMP/sse.$BASHPID"
}
for _ in 1 2 3 4; do
    sse &
    cafe_bg $!
done

cafe_sample_rss "$duration"
samples=("${CAFE_RSS[@]}")
wait "$wrk_pid" || die "wrk failed"
wait "$orders_pid" || die "order load failed"
sleep 3.5 # the SSE loops finish their last subscriber
sse_total=$(cat "$CAFE_TMP"/sse.* 2>/dev/null | awk '{n += $1} END {print n + 0}')

# Whatever the order book still holds must be finished.
curl -s --max-time 10 "$CAFE_URL/orders?limit=1000" >"$CAFE_TMP/book.json"
book_counts=$(node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1])).orders;
    const c = {}; for (const x of o) c[x.status] = (c[x.status] || 0) + 1;
    process.stdout.write(JSON.stringify(c))' "$CAFE_TMP/book.json")
metrics_rejected=$(cafe_requests_total 'status="5')
rss_end=$(cafe_rss_kb "$CAFE_PID")
cafe_stop 30
stop_ms=$CAFE_STOP_MS

res=$(cat "$CAFE_TMP/orders.json")
get() { cafe_json_get "$res" "$1"; }
wrk_reqs=$(awk '/requests in/ {print $1}' "$CAFE_TMP/wrk.txt")
wrk_rps=$(awk '/^Requests\/sec/ {print $2}' "$CAFE_TMP/wrk.txt")
wrk_p99=$(awk '$1 == "99%" {print $2}' "$CAFE_TMP/wrk.txt")
wrk_errors=$(grep -E 'Socket errors|Non-2xx' "$CAFE_TMP/wrk.txt" || true)

# Memory: the median of the last quarter against the peak of the second
# quarter (after warm-up: the order book is full by then).
n=${#samples[@]}
q=$((n / 4 > 0 ? n / 4 : 1))
warm_peak=$(cafe_max "${samples[@]:q:q}")
late_median=$(printf '%s\n' "${samples[@]:$((n - q))}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
peak=$(cafe_max "${samples[@]}")
limit=$((warm_peak + warm_peak / 10 + 4096))

fail=()
[ "$(get partial)" = 0 ] || fail+=("$(get partial) responses cut short")
[ "$(get unanswered)" = 0 ] || fail+=("$(get unanswered) requests unanswered")
[ "$(get verifyErrors)" = 0 ] || fail+=("verification requests failed")
[ "$(get failedOrders)" = 0 ] || fail+=("orders failed")
accepted=$(get accepted)
final_ok=$(($(get final.ready) + $(get final.cancelled)))
[ "$final_ok" = "$accepted" ] || fail+=("accepted $accepted orders, $final_ok ended ready or cancelled: $(get final)")
for s in queued brewing failed; do
    c=$(cafe_json_get "$book_counts" "$s")
    [ "$c" = 0 ] || fail+=("$c orders still $s in the book after the load")
done
[ -z "$wrk_errors" ] || fail+=("wrk: $wrk_errors")
[ "$late_median" -le "$limit" ] || fail+=("RSS grew after warm-up: $warm_peak -> $late_median KiB")

{
    echo "soak: $(date -u +%FT%TZ), ${duration}s against $kind"
    echo "  GET /menu (wrk, 4 conns): ${wrk_reqs:-?} requests, ${wrk_rps:-?} req/s, p99 ${wrk_p99:-?}"
    echo "  orders: $(get sent) requests, $accepted accepted, $(get cancels) cancels; final: $(get final)"
    echo "  orders by route: $(get byPath)"
    echo "  order book after the load (limit 1000): $book_counts"
    echo "  SSE subscribers: $sse_total connected and vanished"
    echo "  5xx answers in /metrics: $metrics_rejected"
    echo "  VmRSS KiB: start $rss_start, after warm-up (peak of 2nd quarter) $warm_peak, last-quarter median $late_median, peak $peak, end $rss_end"
    echo "  SIGTERM -> exit 0 in ${stop_ms} ms; sanitizer/leak reports: none"
    if [ ${#fail[@]} = 0 ]; then
        echo "  verdict: PASS"
    else
        printf '  FAIL: %s\n' "${fail[@]}"
    fi
} | tee "$out.tmp"
mkdir -p "$(dirname "$out")"
mv "$out.tmp" "$out"
[ ${#fail[@]} = 0 ]
