#!/bin/bash
# POST /async/order with 100 ms brews at 1,000 connections on one replica:
# the memory store against the Redis store, in one run (issue 9, point 7).
# Not a test: about 2 x (WARMUP + DUR) s, 127.0.0.1 only.
#
#   bench/store.sh
#   DUR=3 WARMUP=1 bench/store.sh                     # a quick look
#   CAFE_SERVER_BIN=build/cafe-server bench/store.sh  # that binary, not a fresh optimised build
#   REDIS_FSYNC=everysec bench/store.sh               # Redis's default AOF policy instead of deploy's
#
# Fair by construction (as bench/orders_vs_nginx.sh):
#   - cafe-server on core SERVER_CPU (0), wrk -t1 and redis-server on core
#     LOAD_CPU (1): Redis does not take the server's core, and its CPU is
#     measured on its own;
#   - the same request (bench/wrk/order.lua: POST {"item":"latte"}), --time-scale
#     0.02 so a latte brews 100 ms, no access log, a fresh server per store;
#   - Redis as deploy/ runs it: appendonly yes, appendfsync REDIS_FSYNC
#     (always: every acknowledged order on disk before its 202/201).
# Per store: req/s, % of the ideal (connections / 0.1 s = 10,000 orders/s),
# p50/p99 from wrk, server CPU per order and Redis CPU per order (utime +
# stime from /proc/PID/stat over the measured run, every thread, in
# microseconds). The issue's goals are printed with a verdict. Writes
# bench/results/store.{txt,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CAFE_SERVER_BIN:-}
source tests/tools/lib.bash
source bench/lib.bash
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
DUR=${DUR:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-1000}
REDIS_FSYNC=${REDIS_FSYNC:-always}
OUT=bench/results/store
LUA=bench/wrk/order.lua
BREW_S=0.1

bench_need wrk taskset curl redis-server redis-cli
bench_server_bin "$BIN"
BIN=$CAFE_SERVER_BIN
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CONNS + 256)) ] ||
    { echo "store: $CONNS connections need more descriptors than 'ulimit -Hn' allows" >&2; exit 2; }
tmp=$CAFE_TMP
mkdir -p "$(dirname "$OUT")"
REPORT=$tmp/report.txt
IDEAL=$(awk -v c="$CONNS" -v t="$BREW_S" 'BEGIN {print c / t}')
JSON_RUNS=()
FAILED=0
REDIS_PID=

redis_stop()
{
    if [ -n "$REDIS_PID" ]; then
        kill -TERM "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
        REDIS_PID=
    fi
}
trap 'redis_stop; bench_cleanup' EXIT

# redis_start: a redis-server of our own on a free port, pinned to LOAD_CPU,
# its data in $tmp; sets REDIS_PID and REDIS_PORT.
redis_start()
{
    REDIS_PORT=$(bench_free_port)
    mkdir -p "$tmp/redis"
    taskset -c "$LOAD_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$tmp/redis" \
        --appendonly yes --appendfsync "$REDIS_FSYNC" --save '' --logfile "$tmp/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 100); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return
        sleep 0.05
    done
    echo "store: redis-server did not start" >&2
    exit 1
}

# Waits (up to 20 s) until the server has no order queued or brewing, so
# the measured run starts from a settled book.
settle()
{
    local busy
    for _ in $(seq 400); do
        busy=$(curl -s --max-time 2 "$CAFE_URL/orders?status=queued&limit=1" \
            "$CAFE_URL/orders?status=brewing&limit=1" | grep -c '"id"' || true)
        [ "$busy" = 0 ] && return
        sleep 0.05
    done
}

wrk_orders()
{
    local secs=$1 out=$2
    CAFE_ITEM=latte taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" --timeout 10s --latency \
        -s "$LUA" "$CAFE_URL/async/order" >"$out" 2>&1 || true
    grep '^RESULT' "$out" || { echo "store: wrk failed:" >&2; cat "$out" >&2; exit 1; }
}

# measure STORE: warm-up, settle, the measured run; a report row and a JSON
# object. The server is CAFE_PID; Redis (if any) REDIS_PID.
measure()
{
    local store=$1 raw=$tmp/wrk-$1.txt s0 s1 q0=0 q1=0 r
    wrk_orders "$WARMUP" "$raw.warmup" >/dev/null
    settle
    s0=$(bench_cpu_ticks "$CAFE_PID")
    [ -z "$REDIS_PID" ] || q0=$(bench_cpu_ticks "$REDIS_PID")
    r=$(wrk_orders "$DUR" "$raw") || exit 1
    s1=$(bench_cpu_ticks "$CAFE_PID")
    [ -z "$REDIS_PID" ] || q1=$(bench_cpu_ticks "$REDIS_PID")
    local -A f
    local k
    for k in requests non2xx socket_errors rps p50_ms p90_ms p99_ms max_ms duration_s; do
        f[$k]=$(bench_field "$k" "$r")
    done
    [ "${f[non2xx]}" = 0 ] && [ "${f[socket_errors]}" = 0 ] || FAILED=1
    local row
    row=$(awk -v s="$store" -v c="$CONNS" -v ideal="$IDEAL" -v rps="${f[rps]}" -v p50="${f[p50_ms]}" \
        -v p99="${f[p99_ms]}" -v n="${f[requests]}" -v st=$((s1 - s0)) -v rt=$((q1 - q0)) -v hz="$CLK_TCK" \
        -v bad=$((f[non2xx] + f[socket_errors])) 'BEGIN {
        per = n > 0 ? 1e6 / hz / n : 0
        printf "%-6s %6d %9.0f %7.1f %8.1f %8.1f %8.2f %10.1f %8.2f %10.1f %6d\n", s, c, rps, 100 * rps / ideal,
            p50, p99, st / hz, st * per, rt / hz, rt * per, bad }')
    echo "$row" | tee -a "$REPORT"
    local pct cpu us rcpu rus
    read -r _ _ _ pct _ _ cpu us rcpu rus _ <<<"$row"
    JSON_RUNS+=("{\"store\":\"$store\",\"conns\":$CONNS,\"ideal_rps\":$IDEAL,$(
        for k in requests non2xx socket_errors rps p50_ms p90_ms p99_ms max_ms duration_s; do
            printf '"%s":%s,' "$k" "${f[$k]}"
        done)\"pct_of_ideal\":$pct,\"server_cpu_s\":$cpu,\"server_cpu_us_per_order\":$us,\"redis_cpu_s\":$rcpu,\"redis_cpu_us_per_order\":$rus}")
    LAST="$pct ${f[p99_ms]} $us $rus $((f[non2xx] + f[socket_errors]))"
}

{
    echo "POST /async/order (100 ms brews) at $CONNS connections, one replica: memory store vs Redis store, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "server on core $SERVER_CPU; wrk -t1 and redis-server (appendonly yes, appendfsync $REDIS_FSYNC) on core $LOAD_CPU; ${DUR} s per run after ${WARMUP} s warm-up"
    echo "cafe: $BIN ($(git log -1 --format=%h 2>/dev/null || echo '?')); $(redis-server --version | cut -d' ' -f1-3); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    printf '%-6s %6s %9s %7s %8s %8s %8s %10s %8s %10s %6s\n' store conns 'req/s' '%ideal' 'p50 ms' 'p99 ms' \
        'cpu s' 'us/order' 'redis s' 'redis us' errors
} | tee "$REPORT"
STARTED=$(date -u +%FT%TZ)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CAFE_SERVER_CPU=$SERVER_CPU

cafe_start --time-scale 0.02 --access-log=off
measure memory
read -r mem_pct mem_p99 mem_us _ mem_bad <<<"$LAST"
cafe_stop

redis_start
cafe_start --time-scale 0.02 --access-log=off --store "redis://127.0.0.1:$REDIS_PORT" --store-prefix bench: \
    --replica-id bench-1
# Listening comes before the store's connection is up: give it 5 s.
for _ in $(seq 50); do
    [[ $(curl -s "$CAFE_URL/healthz") == *'"ok"'* ]] && break
    sleep 0.1
done
[[ $(curl -s "$CAFE_URL/healthz") == *'"ok"'* ]] || die "the Redis store is not up: $(curl -s "$CAFE_URL/healthz")"
measure redis
read -r red_pct red_p99 red_us red_rus red_bad <<<"$LAST"
stored=$(redis-cli -p "$REDIS_PORT" zcard bench:orders)
cafe_stop
redis_stop

verdict() { if awk "BEGIN {exit !($1)}"; then echo MET; else echo "NOT MET"; fi; }
{
    echo
    echo "goal: with Redis >= 95 % of ideal and p99 <= 115 ms: $red_pct %, $red_p99 ms: $(verdict "$red_pct >= 95 && $red_p99 <= 115 && $red_bad == 0")"
    echo "goal: server CPU per order with Redis <= 2 x the memory store's: $red_us vs $mem_us us: $(verdict "$red_us <= 2 * $mem_us && $red_bad + $mem_bad == 0")"
    echo "memory store: $mem_pct % of ideal, p99 $mem_p99 ms; Redis CPU per order: $red_rus us; orders in Redis's book afterwards: $stored"
    [ "$FAILED" = 0 ] || echo "some runs saw non-2xx answers or socket errors: see the errors column"
} | tee -a "$REPORT"

bench_write_results "$(printf '"redis":"%s","redis_fsync":"%s",' "$(redis-server --version | cut -d' ' -f3)" "$REDIS_FSYNC")"
