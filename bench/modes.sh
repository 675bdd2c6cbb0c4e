#!/bin/bash
# sync vs async vs thread, side by side, under load. Bounded in time (about
# 2.5 minutes; --quick about 1; --smoke about 15 s, too short for figures but
# enough to check the script and its pictures), 127.0.0.1 only, the server
# pinned to one core and the load generator to the other. Prints tables,
# writes raw outputs, a summary, results.json (every figure, for
# bench/plot.mjs) and, when gnuplot is installed, the pictures
# (bench-*.svg) to bench/results/<timestamp>/; exits non-zero if any run saw
# a socket error or a non-2xx answer.
#
#   bench/modes.sh [--quick | --smoke]
#   CAFE_SERVER_BIN=build/cafe-server SERVER_CPU=0 LOAD_CPU=1 bench/modes.sh
#   node bench/plot.mjs bench/results/<timestamp>/results.json docs/   # the README's pictures
#
# What it runs (T = one brew's real duration):
#   1. latte (one 5 s waiting step) at time-scale 0.02, T = 100 ms: closed-loop
#      wrk at several concurrencies per mode. Ideal: sync 1/T whatever the
#      concurrency, async and thread c/T.
#   2. pourover (waits + a 1 s hands-on step = 20 ms): async is bounded by the
#      loop doing the hands-on work (1/20 ms = 50/s), thread by the baristas
#      (4/20 ms = 200/s) -- what blocking costs.
#   3. the issue's goals: async at 1,000 connections (>= 97 % of 10,000 req/s,
#      p99 <= 110 ms); 10,000 concurrent brewing connections (1 s brews) with
#      zero errors and the server's memory per brewing connection.
#   4. open loop: httperf at a fixed arrival rate (no coordinated omission).
set -uo pipefail
cd "$(dirname "$0")/.."

MODE=full
case "${1:-}" in
--quick) MODE=quick ;;
--smoke) MODE=smoke ;;
"") ;;
*)
    echo "usage: bench/modes.sh [--quick | --smoke]" >&2
    exit 2
    ;;
esac
BIN=${CAFE_SERVER_BIN:-build/cafe-server}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
case $MODE in
full) DUR=${DUR:-6} ;;
quick) DUR=${DUR:-3} ;;
smoke) DUR=${DUR:-1} ;;
esac
# The concurrency sweeps, the c10k run's connections and the open-loop rate:
# smoke keeps one small point of each curve.
if [ $MODE = smoke ]; then
    CONNS=(10 50) SYNC_CONNS=(1 5) C10K=${C10K:-300} RATE=${RATE:-100}
else
    CONNS=(10 100 1000) SYNC_CONNS=(1 10) C10K=${C10K:-10000}
fi
OUT=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)}
LUA=bench/wrk/order.lua

for tool in wrk httperf taskset; do
    command -v $tool >/dev/null || { echo "modes.sh: $tool is not installed" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "modes.sh: no server binary at $BIN (build first)" >&2; exit 2; }
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null

FAILED=0
SERVER_PID=
SUMMARY=$OUT/summary.txt
SECTION=
JSON_RUNS=() # one JSON object per wrk run, for results.json

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
    fi
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# start_server NAME ARGS...: a fresh server on a free port; sets PORT, SERVER_PID.
start_server() {
    local name=$1
    shift
    local log=$OUT/server-$name.log
    taskset -c "$SERVER_CPU" "$BIN" --host 127.0.0.1 --port 0 --access-log=off "$@" \
        >"$OUT/server-$name.out" 2>"$log" &
    SERVER_PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$OUT/server-$name.out")
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    if [ -z "$PORT" ]; then
        echo "modes.sh: the server did not start:" >&2
        cat "$log" >&2
        exit 2
    fi
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
# CPU time the server has used, in clock ticks (utime + stime).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

# Waits (up to 10 s) until the server has no order queued or brewing, so one
# run's leftovers (queued sync brews block the loop) do not skew the next.
settle() {
    for _ in $(seq 200); do
        local busy
        busy=$(curl -s --max-time 2 "http://127.0.0.1:$PORT/orders?status=queued&limit=1" \
            "http://127.0.0.1:$PORT/orders?status=brewing&limit=1" | grep -c '"id"')
        [ "$busy" = 0 ] && return
        sleep 0.05
    done
}

# field NAME LINE: the value of NAME=... in a RESULT line.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

row_header() {
    printf '%-7s %-9s %6s %9s %9s %6s %9s %9s %7s %7s %7s %7s\n' mode item conns 'req/s' ideal '%' \
        'p50 ms' 'p99 ms' non2xx sockerr 'RSS MB' 'CPU us' | tee -a "$SUMMARY"
}

# run_wrk MODE ITEM CONNS IDEAL_RPS [TIMEOUT]: one closed-loop wrk run against
# the running server; prints a table row and remembers errors.
run_wrk() {
    local mode=$1 item=$2 conns=$3 ideal=$4 timeout=${5:-10s}
    local raw=$OUT/wrk-$mode-$item-c$conns.txt
    local t0
    settle
    t0=$(cpu_ticks)
    CAFE_ITEM=$item taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${DUR}s" --timeout "$timeout" \
        --latency -s "$LUA" "http://127.0.0.1:$PORT/$mode/order" >"$raw" 2>&1
    local r
    r=$(grep '^RESULT' "$raw")
    if [ -z "$r" ]; then
        echo "modes.sh: wrk failed, see $raw" >&2
        FAILED=1
        return
    fi
    LAST=$r
    local rps non2xx sock cpu_us
    rps=$(field rps "$r")
    # server CPU per request: what one dedicated core could sustain is 1e6/this
    cpu_us=$(awk -v d="$(($(cpu_ticks) - t0))" -v n="$(field requests "$r")" -v t="$TICK_US" \
        'BEGIN{print n ? d * t / n : 0}')
    non2xx=$(field non2xx "$r")
    sock=$(field socket_errors "$r")
    printf '%-7s %-9s %6d %9.0f %9.0f %6.1f %9.1f %9.1f %7d %7d %7.1f %7.1f\n' "$mode" "$item" "$conns" \
        "$rps" "$ideal" "$(awk -v a="$rps" -v b="$ideal" 'BEGIN{print 100*a/b}')" \
        "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$non2xx" "$sock" \
        "$(awk -v k="$(hwm_kb)" 'BEGIN{print k/1024}')" "$cpu_us" | tee -a "$SUMMARY"
    echo "$mode,$item,$conns,$r" >>"$OUT/results.csv"
    local f json="\"section\":\"$SECTION\",\"mode\":\"$mode\",\"item\":\"$item\",\"conns\":$conns,\"ideal_rps\":$ideal"
    for f in requests ok non2xx s503 socket_errors rps p50_ms p90_ms p99_ms max_ms duration_s; do
        json+=",\"$f\":$(field $f "$r")"
    done
    JSON_RUNS+=("{$json,\"rss_hwm_kb\":$(hwm_kb),\"cpu_us_per_request\":$cpu_us}")
    if [ "$non2xx" != 0 ] || [ "$sock" != 0 ]; then
        FAILED=1
    fi
}

STARTED=$(date -u +%FT%TZ)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "Async Café load test ($MODE) -- $STARTED, $(nproc) cores, server on CPU $SERVER_CPU, load on CPU $LOAD_CPU" |
    tee "$SUMMARY"
echo "load average before: $LOAD_BEFORE (other work on the machine skews every number)" |
    tee -a "$SUMMARY"

# 1 --------------------------------------------------------------------------
echo | tee -a "$SUMMARY"
echo "1. latte, T = 100 ms (time-scale 0.02): closed loop, ${DUR}s per run" | tee -a "$SUMMARY"
SECTION=latte
start_server latte --time-scale 0.02
row_header
for c in "${CONNS[@]}"; do
    run_wrk async latte "$c" $((c * 10))
done
for c in "${CONNS[@]}"; do
    run_wrk thread latte "$c" $((c * 10))
done
for c in "${SYNC_CONNS[@]}"; do
    run_wrk sync latte "$c" 10 30s
done
stop_server

# 2 --------------------------------------------------------------------------
echo | tee -a "$SUMMARY"
echo "2. pourover (hands-on brew 20 ms; ideal async 50/s = 1/hands, thread 200/s = 4 baristas/hands," |
    tee -a "$SUMMARY"
echo "   sync 1/(6 x 20 ms) = 8.3/s): 100 connections (sync 10)" | tee -a "$SUMMARY"
SECTION=pourover
start_server pourover --time-scale 0.02 --baristas 4
row_header
run_wrk async pourover 100 50 30s
run_wrk thread pourover 100 200 30s
run_wrk sync pourover 10 8.33 30s
stop_server

# 3 --------------------------------------------------------------------------
DUR_SAVED=$DUR
GOAL_JSON=null
if [ $MODE != smoke ]; then
    echo | tee -a "$SUMMARY"
    echo "3a. goal: async, 1,000 connections, 100 ms brews: >= 97% of 10,000 req/s, p99 <= 110 ms" |
        tee -a "$SUMMARY"
    SECTION=goal
    DUR=$((DUR + 4))
    start_server goal --time-scale 0.02
    row_header
    run_wrk async latte 1000 10000
    stop_server
    GOAL_RPS=$(field rps "$LAST")
    GOAL_P99=$(field p99_ms "$LAST")
    awk -v r="$GOAL_RPS" -v p="$GOAL_P99" 'BEGIN {
        printf "    throughput %.1f%% of ideal (goal >= 97%%): %s; p99 %.1f ms (goal <= 110): %s\n",
            r / 100, (r >= 9700 ? "MET" : "MISSED"), p, (p <= 110 ? "MET" : "MISSED") }' |
        tee -a "$SUMMARY"
    GOAL_JSON="{\"rps\":${GOAL_RPS:-0},\"ideal_rps\":10000,\"p99_ms\":${GOAL_P99:-0},\"rps_goal_pct\":97,\"p99_goal_ms\":110}"
    DUR=$DUR_SAVED
fi

echo | tee -a "$SUMMARY"
echo "3b. goal: $C10K concurrent brewing connections (latte, T = 1 s: time-scale 0.2), zero errors" |
    tee -a "$SUMMARY"
SECTION=c10k
[ $MODE = smoke ] && DUR=2 # long enough for the mid-run sample to see every brew
start_server c10k --time-scale 0.2
BASE_KB=$(rss_kb)
row_header
# Sample the server's open connections and RSS while all of them brew.
(
    sleep $((DUR / 2 + 1))
    echo "mid-run: $(curl -s --max-time 5 "http://127.0.0.1:$PORT/healthz") rss_kb=$(rss_kb)" \
        >"$OUT/c10k-mid.txt"
) &
SAMPLER=$!
run_wrk async latte "$C10K" "$C10K" 20s
wait $SAMPLER
PEAK_KB=$(hwm_kb)
cat "$OUT/c10k-mid.txt" | tee -a "$SUMMARY"
MID_KB=$(sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p' "$OUT/c10k-mid.txt")
# Steady state (mid-run, every connection has an order brewing) is the
# per-connection cost; the peak adds transient response buffers and malloc
# fragmentation.
awk -v b="$BASE_KB" -v m="${MID_KB:-0}" -v p="$PEAK_KB" -v n="$C10K" 'BEGIN {
    printf "    server RSS %.1f MB idle, %.1f MB mid-run, %.1f MB peak: %.2f KiB per brewing connection steady (goal <= 4: %s), %.2f KiB at peak\n",
        b / 1024, m / 1024, p / 1024, (m - b) / n, ((m - b) / n <= 4 ? "MET" : "MISSED"), (p - b) / n }' |
    tee -a "$SUMMARY"
MEMORY_JSON="{\"connections\":$C10K,\"idle_kb\":${BASE_KB:-0},\"mid_kb\":${MID_KB:-0},\"peak_kb\":${PEAK_KB:-0},\"goal_kib_per_conn\":4}"
stop_server
DUR=$DUR_SAVED

# 4 --------------------------------------------------------------------------
echo | tee -a "$SUMMARY"
# httperf multiplexes with select(): keep rate x latency well under its 1,024
# descriptors or it reports fd-unavail (a client limit, not a server error).
RATE=${RATE:-1000}
echo "4. open loop: httperf, $RATE new connections/s for ${DUR}s, one POST /async/order?item=latte each (T = 100 ms)" |
    tee -a "$SUMMARY"
start_server openloop --time-scale 0.02
RAW=$OUT/httperf-async.txt
taskset -c "$LOAD_CPU" httperf --hog --server 127.0.0.1 --port "$PORT" --method POST \
    --uri '/async/order?item=latte' --rate "$RATE" --num-conns $((RATE * DUR)) --num-calls 1 \
    --timeout 5 >"$RAW" 2>&1
# replies / test-duration (httperf's own "Reply rate" samples only every 5 s)
REPLY_RATE=$(awk '/^Total: / {r = $7; d = $9} END {if (d > 0) printf "%.0f", r / d}' "$RAW")
RESP_MS=$(sed -n 's/^Reply time \[ms\]: response \([0-9.]*\).*/\1/p' "$RAW")
STATUS=$(grep '^Reply status' "$RAW")
ERRS=$(sed -n 's/^Errors: total \([0-9]*\).*/\1/p' "$RAW")
OK2XX=$(sed -n 's/.*2xx=\([0-9]*\).*/\1/p' <<<"$STATUS")
echo "    offered $RATE/s: replies $REPLY_RATE/s, mean response ${RESP_MS} ms (ideal 100), errors ${ERRS:-?}, 2xx ${OK2XX:-?} of $((RATE * DUR))" |
    tee -a "$SUMMARY"
OPEN_JSON="{\"rate\":$RATE,\"duration_s\":$DUR,\"reply_rate\":${REPLY_RATE:-0},\"mean_ms\":${RESP_MS:-0},\"ideal_ms\":100,\"errors\":${ERRS:-null},\"ok_2xx\":${OK2XX:-0},\"connections\":$((RATE * DUR))}"
if [ "${ERRS:-1}" != 0 ] || [ "${OK2XX:-0}" != $((RATE * DUR)) ]; then
    FAILED=1
fi
stop_server

echo | tee -a "$SUMMARY"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average after: $LOAD_AFTER" | tee -a "$SUMMARY"

# results.json: every figure above, for bench/plot.mjs (which describes the fields)
{
    printf '{"started":"%s","mode":"%s","cores":%d,"server_cpu":%s,"load_cpu":%s,"duration_s":%s,' \
        "$STARTED" "$MODE" "$(nproc)" "$SERVER_CPU" "$LOAD_CPU" "$DUR"
    printf '"load_before":"%s","load_after":"%s","failed":%s,\n "runs":[\n  ' \
        "$LOAD_BEFORE" "$LOAD_AFTER" "$([ $FAILED = 0 ] && echo false || echo true)"
    sep=
    for run in "${JSON_RUNS[@]}"; do
        printf '%s%s' "$sep" "$run"
        sep=$',\n  '
    done
    printf '\n ],\n "goal":%s,\n "memory":%s,\n "open_loop":%s\n}\n' "$GOAL_JSON" "${MEMORY_JSON:-null}" "${OPEN_JSON:-null}"
} >"$OUT/results.json"
if command -v gnuplot >/dev/null; then
    node bench/plot.mjs "$OUT/results.json" "$OUT" && echo "pictures: $OUT/bench-*.svg" | tee -a "$SUMMARY"
fi
echo "results: $OUT" | tee -a "$SUMMARY"
if [ $FAILED != 0 ]; then
    echo "modes.sh: some runs saw errors (non-2xx or socket errors): see $OUT" >&2
    exit 1
fi
