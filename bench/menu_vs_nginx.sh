#!/bin/bash
# GET /menu: cafe-server against nginx serving the very same bytes, and
# cafe-server with its access log on against itself with it off, in one run.
# Not a test; about 45 s per round. 127.0.0.1 only.
#
#   bench/menu_vs_nginx.sh
#   CAFE_SERVER_BIN=build-ops/cafe-server DUR=10 CONNS=50 ROUNDS=2 bench/menu_vs_nginx.sh
#
# Fair by construction:
#   - each server on core SERVER_CPU (0), wrk on core LOAD_CPU (1), taskset;
#   - one process doing the work each: cafe-server's single loop, nginx with
#     one worker (its master, idle, is counted too);
#   - the same body bytes and the same Content-Type: /menu is fetched from
#     cafe-server and written to a file nginx serves with that type;
#   - no access log on either side (cafe --access-log=off, nginx access_log
#     off): the log format is ours to choose, the HTTP work is what is compared;
#   - the access log's own cost: a second cafe-server, the same but for
#     --access-log=on, its stderr going to a file, measured in the same
#     rounds (cafe, cafe+log, nginx, one after the other);
#   - keep-alive without a per-connection request cap on either side (nginx's
#     default keepalive_requests 1000 would add reconnects ours does not do);
#   - nginx tuned for this case, not left at its defaults (see its config).
# Measures requests/s and p50/p99 from wrk (after a short warm-up), and
# requests per server CPU-second: utime+stime from /proc/PID/stat over the
# measured run, divided by CLK_TCK. The issue's goal: cafe >= 1.1x nginx in
# requests per CPU-second, and cafe+log within 5 % of cafe in req/s and in
# requests per CPU-second. Writes bench/results/menu_vs_nginx.txt. At the end
# cafe-server must exit 0 on SIGTERM (tests/tools/lib.bash starts and stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CAFE_SERVER_BIN:-}
source tests/tools/lib.bash
source bench/lib.bash
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
DUR=${DUR:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-1}
OUT=bench/results/menu_vs_nginx.txt

bench_need wrk taskset curl "$BENCH_NGINX"
bench_server_bin "$BIN"
BIN=$CAFE_SERVER_BIN
ulimit -n "$(ulimit -Hn)"
tmp=$CAFE_TMP
log_pid=''
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    [ -z "$log_pid" ] || kill -KILL "$log_pid" 2>/dev/null || true
    bench_cleanup
}
trap cleanup EXIT

# bench NAME URL PID...: warm-up, then the measured wrk run; sets R_* globals.
bench() {
    local name=$1 url=$2
    shift 2
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$url" >/dev/null
    local t0 t1
    t0=$(bench_cpu_ticks "$@")
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url" >"$tmp/wrk-$name.txt"
    t1=$(bench_cpu_ticks "$@")
    local w=$tmp/wrk-$name.txt
    if grep -qE 'Non-2xx|Socket errors' "$w"; then
        echo "menu_vs_nginx: $name had errors:" >&2
        cat "$w" >&2
        exit 1
    fi
    R_REQS=$(awk '/requests in/ {print $1}' "$w")
    R_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$w")
    R_P50=$(bench_to_ms "$(awk '$1 == "50%" {print $2}' "$w")")
    R_P99=$(bench_to_ms "$(awk '$1 == "99%" {print $2}' "$w")")
    R_TICKS=$((t1 - t0))
}

# --- cafe-server, with the access log and without -------------------------
CAFE_SERVER_BIN=$BIN
CAFE_SERVER_CPU=$SERVER_CPU
cafe_start --access-log=on
log_pid=$CAFE_PID
log_url=$CAFE_URL/menu
log_file=$tmp/access.log
mv "$CAFE_TMP/server.err" "$log_file" # it keeps writing there: the next start makes a new one
cafe_start --access-log=off
cafe_pid=$CAFE_PID
cafe_url=$CAFE_URL/menu

# The same bytes and type for nginx.
mkdir -p "$tmp/www"
ctype=$(curl -fsS -o "$tmp/www/menu" -w '%{content_type}' "$cafe_url")
chmod 644 "$tmp/www/menu"
[ -n "$ctype" ] || { echo "menu_vs_nginx: /menu has no Content-Type" >&2; exit 1; }

# --- nginx: one worker, our own config and prefix, a free port --------------
nginx_port=$(bench_free_port)
nginx_url=http://127.0.0.1:$nginx_port/menu
bench_nginx_start "" "
    # nginx at its best for one small cached file (measured here: +50 % over
    # the defaults): pread+writev beats sendfile for 1.3 KB, the open file is
    # cached (no open/fstat/close per request), and no ETag (we send none).
    sendfile off;
    open_file_cache max=16 inactive=60s;
    open_file_cache_valid 60s;
    etag off;
    server {
        listen 127.0.0.1:$nginx_port;
        location = /menu {
            types { }
            default_type \"$ctype\";
            alias $tmp/www/menu;
        }
    }" "$nginx_url"
nginx_pids=("${BENCH_NGINX_PIDS[@]}")
cmp -s <(curl -fsS "$nginx_url") "$tmp/www/menu" || { echo "menu_vs_nginx: nginx serves other bytes" >&2; exit 1; }
[ "$(curl -fsS -o /dev/null -w '%{content_type}' "$nginx_url")" = "$ctype" ] ||
    { echo "menu_vs_nginx: nginx sends another Content-Type" >&2; exit 1; }

# --- the runs ------------------------------------------------------------
report=$tmp/report.txt
{
    echo "GET /menu: cafe-server vs nginx $(bench_nginx_version), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "body $(stat -c %s "$tmp/www/menu") bytes, Content-Type: $ctype; access logs off on both"
    echo "server on core $SERVER_CPU, wrk -t1 -c$CONNS on core $LOAD_CPU, ${DUR} s per run after ${WARMUP} s warm-up, $ROUNDS round(s)"
    echo "cafe: $BIN ($(git log -1 --format=%h 2>/dev/null || echo '?')); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "header bytes: cafe $(curl -fsS -o /dev/null -w '%{size_header}' "$cafe_url"), nginx $(curl -fsS -o /dev/null -w '%{size_header}' "$nginx_url")"
    echo
    printf '%-8s %-5s %12s %10s %10s %10s %14s\n' server round 'req/s' 'p50 ms' 'p99 ms' 'cpu s' 'req/cpu-s'
} >"$report"
declare -A total_reqs total_ticks total_secs
for server in cafe cafe+log nginx; do
    total_reqs[$server]=0 total_ticks[$server]=0 total_secs[$server]=0
done
for round in $(seq "$ROUNDS"); do
    for server in cafe cafe+log nginx; do
        case $server in
        cafe) bench cafe "$cafe_url" "$cafe_pid" ;;
        cafe+log) bench cafe-log "$log_url" "$log_pid" ;;
        nginx) bench nginx "$nginx_url" "${nginx_pids[@]}" ;;
        esac
        total_reqs[$server]=$((total_reqs[$server] + R_REQS))
        total_ticks[$server]=$((total_ticks[$server] + R_TICKS))
        total_secs[$server]=$((total_secs[$server] + DUR))
        awk -v s="$server" -v r="$round" -v rps="$R_RPS" -v p50="$R_P50" -v p99="$R_P99" \
            -v n="$R_REQS" -v t="$R_TICKS" -v hz="$CLK_TCK" 'BEGIN {
            cpu = t / hz
            printf "%-8s %-5s %12.0f %10.3f %10.3f %10.2f %14.0f\n", s, r, rps, p50, p99, cpu, (cpu > 0 ? n / cpu : 0) }' >>"$report"
    done
done
awk -v cr="${total_reqs[cafe]}" -v ct="${total_ticks[cafe]}" -v nr="${total_reqs[nginx]}" \
    -v nt="${total_ticks[nginx]}" -v hz="$CLK_TCK" 'BEGIN {
    c = cr / (ct / hz); n = nr / (nt / hz)
    printf "\nrequests per server CPU-second: cafe %.0f, nginx %.0f, ratio %.2fx (goal >= 1.10x): %s\n",
        c, n, c / n, (c / n >= 1.10 ? "MET" : "NOT MET") }' >>"$report"
# The access log's cost, from the same rounds: req/s over the whole measured
# time, and requests per CPU-second (the writer thread's CPU included).
logged=$(grep -c ' access .*"GET /menu ' "$log_file" || true)
dropped=$(curl -fsS "${log_url%/menu}/metrics" | awk '$1 == "cafe_log_lines_dropped_total" {print $2}')
awk -v cr="${total_reqs[cafe]}" -v ct="${total_ticks[cafe]}" -v lr="${total_reqs[cafe+log]}" \
    -v lt="${total_ticks[cafe+log]}" -v secs="${total_secs[cafe]}" -v hz="$CLK_TCK" \
    -v logged="$logged" -v dropped="$dropped" 'BEGIN {
    rps = lr / cr; cpu = (lr / (lt / hz)) / (cr / (ct / hz))
    printf "access log on vs off: req/s %.3fx, requests per CPU-second %.3fx (goal >= 0.95x each): %s\n",
        rps, cpu, (rps >= 0.95 && cpu >= 0.95 ? "MET" : "NOT MET")
    printf "  (%.0f vs %.0f req/s; %d /menu lines in its log, %d dropped)\n", lr / secs, cr / secs, logged, dropped }' >>"$report"

cafe_stop
CAFE_PID=$log_pid
log_pid=''
cafe_stop
mkdir -p "$(dirname "$OUT")"
cp "$report" "$OUT"
cat "$report"
