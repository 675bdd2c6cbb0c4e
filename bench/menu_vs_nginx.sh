#!/bin/bash
# GET /menu: cafe-server against nginx serving the very same bytes, in one run.
# Not a test; about 30 s per round. 127.0.0.1 only.
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
#   - keep-alive without a per-connection request cap on either side (nginx's
#     default keepalive_requests 1000 would add reconnects ours does not do);
#   - nginx tuned for this case, not left at its defaults (see its config).
# Measures requests/s and p50/p99 from wrk (after a short warm-up), and
# requests per server CPU-second: utime+stime from /proc/PID/stat over the
# measured run, divided by CLK_TCK. The issue's goal: cafe >= 1.1x nginx in
# requests per CPU-second. Writes bench/results/menu_vs_nginx.txt. At the end
# cafe-server must exit 0 on SIGTERM (tests/tools/lib.bash starts and stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CAFE_SERVER_BIN:-}
source tests/tools/lib.bash
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
DUR=${DUR:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-1}
NGINX=${NGINX:-/usr/sbin/nginx}
OUT=bench/results/menu_vs_nginx.txt

for tool in wrk taskset curl "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "menu_vs_nginx: $tool is not installed" >&2; exit 2; }
done
# Our own optimised build unless told otherwise: build/ belongs to whoever
# runs the tests, and may be a Debug or sanitizer tree.
if [ -z "$BIN" ]; then
    bash scripts/build.sh build-bench -DCAFE_TESTS=OFF >/dev/null
    BIN=build-bench/cafe-server
fi
ulimit -n "$(ulimit -Hn)"
CLK_TCK=$(getconf CLK_TCK)

tmp=$CAFE_TMP
chmod 755 "$tmp" # nginx's worker drops to nobody and must read the file
nginx_pid=''
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    if [ -n "$nginx_pid" ]; then # its master stops the workers
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    cafe_cleanup
}
trap cleanup EXIT

# cpu_ticks PID...: utime+stime of the processes, in clock ticks. Fields 14 and
# 15 of /proc/PID/stat, counted after the ")" that ends the command name.
cpu_ticks() {
    local sum=0 p rest
    for p in "$@"; do
        rest=$(cat "/proc/$p/stat")
        rest=${rest##*) }
        # after "comm) ": state is field 3, so utime/stime are words 12 and 13
        read -r -a f <<<"$rest"
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}

# to_ms VALUE: wrk's "1.23ms" / "456.00us" / "1.02s" in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

# bench NAME URL PID...: warm-up, then the measured wrk run; sets R_* globals.
bench() {
    local name=$1 url=$2
    shift 2
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$url" >/dev/null
    local t0 t1
    t0=$(cpu_ticks "$@")
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$url" >"$tmp/wrk-$name.txt"
    t1=$(cpu_ticks "$@")
    local w=$tmp/wrk-$name.txt
    if grep -qE 'Non-2xx|Socket errors' "$w"; then
        echo "menu_vs_nginx: $name had errors:" >&2
        cat "$w" >&2
        exit 1
    fi
    R_REQS=$(awk '/requests in/ {print $1}' "$w")
    R_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$w")
    R_P50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$w")")
    R_P99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$w")")
    R_TICKS=$((t1 - t0))
}

# --- cafe-server ----------------------------------------------------------
CAFE_SERVER_BIN=$BIN
CAFE_SERVER_CPU=$SERVER_CPU
cafe_start --access-log=off
cafe_pid=$CAFE_PID
cafe_url=$CAFE_URL/menu

# The same bytes and type for nginx.
mkdir -p "$tmp/www"
ctype=$(curl -fsS -o "$tmp/www/menu" -w '%{content_type}' "$cafe_url")
chmod 644 "$tmp/www/menu"
[ -n "$ctype" ] || { echo "menu_vs_nginx: /menu has no Content-Type" >&2; exit 1; }

# --- nginx: one worker, our own config and prefix, a free port --------------
nginx_port=
for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Htln "sport = :$p")" ]; then nginx_port=$p; break; fi
done
[ -n "$nginx_port" ] || { echo "menu_vs_nginx: no free port" >&2; exit 1; }
cat >"$tmp/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
worker_rlimit_nofile $(ulimit -Hn);
events { worker_connections 4096; }
http {
    access_log off;
    server_tokens off;
    # nginx at its best for one small cached file (measured here: +50 % over
    # the defaults): pread+writev beats sendfile for 1.3 KB, the open file is
    # cached (no open/fstat/close per request), and no ETag (we send none).
    sendfile off;
    open_file_cache max=16 inactive=60s;
    open_file_cache_valid 60s;
    etag off;
    keepalive_timeout 5s;
    keepalive_requests 100000000;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        location = /menu {
            types { }
            default_type "$ctype";
            alias $tmp/www/menu;
        }
    }
}
EOF
taskset -c "$SERVER_CPU" "$NGINX" -e "$tmp/nginx-error.log" -p "$tmp" -c "$tmp/nginx.conf" &
nginx_pid=$!
nginx_url=http://127.0.0.1:$nginx_port/menu
for _ in $(seq 100); do
    curl -fsS -o /dev/null "$nginx_url" 2>/dev/null && break
    kill -0 "$nginx_pid" 2>/dev/null || { cat "$tmp/nginx-error.log" >&2; echo "menu_vs_nginx: nginx did not start" >&2; exit 1; }
    sleep 0.05
done
cmp -s <(curl -fsS "$nginx_url") "$tmp/www/menu" || { echo "menu_vs_nginx: nginx serves other bytes" >&2; exit 1; }
[ "$(curl -fsS -o /dev/null -w '%{content_type}' "$nginx_url")" = "$ctype" ] ||
    { echo "menu_vs_nginx: nginx sends another Content-Type" >&2; exit 1; }
mapfile -t nginx_pids < <(echo "$nginx_pid"; pgrep -P "$nginx_pid")

# --- the runs ------------------------------------------------------------
report=$tmp/report.txt
{
    echo "GET /menu: cafe-server vs nginx $("$NGINX" -v 2>&1 | sed 's|.*/||'), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "body $(stat -c %s "$tmp/www/menu") bytes, Content-Type: $ctype; access logs off on both"
    echo "server on core $SERVER_CPU, wrk -t1 -c$CONNS on core $LOAD_CPU, ${DUR} s per run after ${WARMUP} s warm-up, $ROUNDS round(s)"
    echo "cafe: $BIN ($(git log -1 --format=%h 2>/dev/null || echo '?')); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "header bytes: cafe $(curl -fsS -o /dev/null -w '%{size_header}' "$cafe_url"), nginx $(curl -fsS -o /dev/null -w '%{size_header}' "$nginx_url")"
    echo
    printf '%-6s %-5s %12s %10s %10s %10s %14s\n' server round 'req/s' 'p50 ms' 'p99 ms' 'cpu s' 'req/cpu-s'
} >"$report"
declare -A total_reqs total_ticks
total_reqs=([cafe]=0 [nginx]=0)
total_ticks=([cafe]=0 [nginx]=0)
for round in $(seq "$ROUNDS"); do
    for server in cafe nginx; do
        if [ "$server" = cafe ]; then
            bench cafe "$cafe_url" "$cafe_pid"
        else
            bench nginx "$nginx_url" "${nginx_pids[@]}"
        fi
        total_reqs[$server]=$((total_reqs[$server] + R_REQS))
        total_ticks[$server]=$((total_ticks[$server] + R_TICKS))
        awk -v s="$server" -v r="$round" -v rps="$R_RPS" -v p50="$R_P50" -v p99="$R_P99" \
            -v n="$R_REQS" -v t="$R_TICKS" -v hz="$CLK_TCK" 'BEGIN {
            cpu = t / hz
            printf "%-6s %-5s %12.0f %10.3f %10.3f %10.2f %14.0f\n", s, r, rps, p50, p99, cpu, (cpu > 0 ? n / cpu : 0) }' >>"$report"
    done
done
awk -v cr="${total_reqs[cafe]}" -v ct="${total_ticks[cafe]}" -v nr="${total_reqs[nginx]}" \
    -v nt="${total_ticks[nginx]}" -v hz="$CLK_TCK" 'BEGIN {
    c = cr / (ct / hz); n = nr / (nt / hz)
    printf "\nrequests per server CPU-second: cafe %.0f, nginx %.0f, ratio %.2fx (goal >= 1.10x): %s\n",
        c, n, c / n, (c / n >= 1.10 ? "MET" : "NOT MET") }' >>"$report"

cafe_stop
mkdir -p "$(dirname "$OUT")"
cp "$report" "$OUT"
cat "$report"
