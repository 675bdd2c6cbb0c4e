#!/bin/bash
# What the loop timeline costs (docs/timeline.md): the same binary with
# --timeline (the default) and --no-timeline, side by side in one run, on the
# two workloads the issue names -- GET /menu, and async brews at 1,000
# connections (latte at time-scale 0.02: 100 ms brews, 10,000 orders/s
# ideal). Not a test; 127.0.0.1 only; about 4 x ROUNDS x (DUR + WARMUP) s.
#
#   bench/timeline_overhead.sh
#   DUR=10 ROUNDS=5 bench/timeline_overhead.sh      # for figures, on a quiet machine
#   WORKLOADS=menu DUR=3 ROUNDS=2 bench/timeline_overhead.sh
#   BASE_BIN=../main/build-bench/cafe-server bench/timeline_overhead.sh  # "off" = another build
#
# Fair by construction: both servers run at once, pinned to core SERVER_CPU
# (0), wrk to core LOAD_CPU (1); the runs alternate on, off, off, on, ... so
# a drift of the machine's load over the run hits both alike; each run has
# its own warm-up. Measured per run: requests/s from wrk, and the server's
# CPU time per request from /proc/PID/schedstat (nanoseconds on the CPU, not
# clock ticks) over the measured run. The overhead reported is the median
# over the rounds of (on - off) / off, for both. The issue's budget: <= 2 %.
# Writes bench/results/timeline_overhead.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CAFE_SERVER_BIN:-}
source tests/tools/lib.bash
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
DUR=${DUR:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
WORKLOADS=${WORKLOADS:-menu async1000}
OUT=bench/results/timeline_overhead.txt

for tool in wrk taskset curl; do
    command -v "$tool" >/dev/null || { echo "timeline_overhead: $tool is not installed" >&2; exit 2; }
done
if [ -z "$BIN" ]; then # our optimised build: build/ may be Debug or sanitized
    bash scripts/build.sh build-bench -DCAFE_TESTS=OFF >/dev/null
    BIN=build-bench/cafe-server
fi
ulimit -n "$(ulimit -Hn)"
CAFE_SERVER_BIN=$BIN
CAFE_SERVER_CPU=$SERVER_CPU

# Two servers: the lib keeps one PID, so the first is remembered here (and
# killed on an early exit); both are stopped with cafe_stop (exit 0) at the end.
cafe_start --access-log=off --time-scale 0.02 --timeline
on_pid=$CAFE_PID on_url=$CAFE_URL
trap 'kill -KILL "$on_pid" 2>/dev/null || true; cafe_cleanup' EXIT
CAFE_PID=
if [ -n "${BASE_BIN:-}" ]; then # a build from before the timeline, as it is
    CAFE_SERVER_BIN=$BASE_BIN
    cafe_start --access-log=off --time-scale 0.02
else
    cafe_start --access-log=off --time-scale 0.02 --no-timeline
fi
off_pid=$CAFE_PID off_url=$CAFE_URL
curl -fsS -o /dev/null "$on_url/timeline" || { echo "timeline_overhead: the 'on' server has no timeline" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$off_url/timeline")" = 404 ] ||
    { echo "timeline_overhead: the 'off' server records a timeline" >&2; exit 1; }

cpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }

# run WORKLOAD URL PID: sets R_RPS and R_NS (server CPU ns per request).
run() {
    local w=$1 url=$2 pid=$3 args
    case $w in
    menu) args=(-c50 "$url/menu") ;;
    async1000) args=(-c1000 --timeout 10s -s bench/wrk/order.lua "$url/async/order") ;;
    esac
    taskset -c "$LOAD_CPU" wrk -t1 -d"${WARMUP}s" "${args[@]}" >/dev/null
    local t0 t1 raw=$CAFE_TMP/wrk.txt
    t0=$(cpu_ns "$pid")
    taskset -c "$LOAD_CPU" wrk -t1 -d"${DUR}s" "${args[@]}" >"$raw"
    t1=$(cpu_ns "$pid")
    if grep -qE 'Non-2xx|Socket errors' "$raw" || grep -qE 'non2xx=[1-9]|socket_errors=[1-9]' "$raw"; then
        echo "timeline_overhead: $w had errors:" >&2
        cat "$raw" >&2
        exit 1
    fi
    local reqs
    reqs=$(awk '/requests in/ {print $1}' "$raw")
    R_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$raw")
    R_NS=$(awk -v d="$((t1 - t0))" -v n="$reqs" 'BEGIN { printf "%.0f", d / n }')
}

median() { sort -g | awk '{ v[NR] = $1 } END { printf "%+.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", 100 * (a - b) / b }'; }

report=$CAFE_TMP/report.txt
{
    echo "loop timeline on vs off, $(date -u '+%Y-%m-%d %H:%M UTC'), $BIN ($(git log -1 --format=%h 2>/dev/null || echo '?'))"
    [ -z "${BASE_BIN:-}" ] || echo "off: $BASE_BIN, as built (not --no-timeline)"
    echo "both servers on core $SERVER_CPU, wrk -t1 on core $LOAD_CPU, ${DUR} s per run after ${WARMUP} s warm-up, $ROUNDS rounds alternating"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (indicative unless the machine was quiet)"
} | tee "$report"
for w in $WORKLOADS; do
    rps_d=() ns_d=()
    for r in $(seq "$ROUNDS"); do
        # on first in odd rounds, off first in even ones
        if [ $((r % 2)) = 1 ]; then order=(on off); else order=(off on); fi
        for which in "${order[@]}"; do
            if [ "$which" = on ]; then run "$w" "$on_url" "$on_pid"; else run "$w" "$off_url" "$off_pid"; fi
            eval "${which}_rps=$R_RPS ${which}_ns=$R_NS"
        done
        rps_d+=("$(pct "$on_rps" "$off_rps")")
        ns_d+=("$(pct "$on_ns" "$off_ns")")
        printf '%-10s round %d: on %8.0f req/s %6d ns/req | off %8.0f req/s %6d ns/req | rps %s %%, cpu/req %s %%\n' \
            "$w" "$r" "$on_rps" "$on_ns" "$off_rps" "$off_ns" "${rps_d[-1]}" "${ns_d[-1]}" | tee -a "$report"
    done
    printf '%-10s median over %d rounds: requests/s %s %%, server CPU per request %s %% (timeline on vs off)\n' \
        "$w" "$ROUNDS" "$(printf '%s\n' "${rps_d[@]}" | median)" "$(printf '%s\n' "${ns_d[@]}" | median)" |
        tee -a "$report"
done
# The timeline must have been recording what it costs: blocks on the loop.
curl -fsS "$on_url/timeline?seconds=60" | node -e '
    const t = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const l = t.lanes[0];
    console.log(`the "on" server kept ${l.blocks.length} blocks and skipped ${l.skipped} short sections in the last minute`);' |
    tee -a "$report"
cafe_stop
CAFE_PID=$on_pid
cafe_stop
mkdir -p "$(dirname "$OUT")"
cp "$report" "$OUT"
echo "written to $OUT"
