# Helpers for the benchmarks that run cafe-server beside nginx
# (bench/menu_vs_nginx.sh, bench/orders_vs_nginx.sh). Source it after
# tests/tools/lib.bash, whose EXIT trap it extends to stop nginx. Not a
# benchmark itself.
# shellcheck disable=SC2034 # its globals are read by the scripts that source it

BENCH_NGINX=${NGINX:-/usr/sbin/nginx}
BENCH_NGINX_PID=
BENCH_NGINX_PIDS=() # master and workers, for bench_cpu_ticks
BENCH_NGINX_CONNECTIONS=${BENCH_NGINX_CONNECTIONS:-4096} # worker_connections
CLK_TCK=$(getconf CLK_TCK)

bench_cleanup()
{
    bench_nginx_stop
    cafe_cleanup
}
trap bench_cleanup EXIT

# bench_need TOOL...: exits 2 naming the first one missing.
bench_need()
{
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "$(basename "$0"): $t is not installed" >&2; exit 2; }
    done
}

# bench_server_bin BIN: sets CAFE_SERVER_BIN to BIN, or (BIN empty) to our
# own optimised build, made now: build/ belongs to whoever runs the tests, and
# may be a Debug or sanitizer tree.
bench_server_bin()
{
    if [ -n "$1" ]; then
        CAFE_SERVER_BIN=$1
    else
        bash scripts/build.sh build-bench -DCAFE_TESTS=OFF >/dev/null
        CAFE_SERVER_BIN=build-bench/cafe-server
    fi
}

# bench_cpu_ticks PID...: utime+stime of the processes (all their threads),
# in clock ticks (bench_cpu_split's first two).
bench_cpu_ticks()
{
    local u s
    read -r u s _ <<<"$(bench_cpu_split "$@")"
    echo $((u + s))
}

# bench_cpu_split PID...: "utime stime voluntary involuntary" of the
# processes: utime and stime in clock ticks, every thread (fields 14 and 15
# of /proc/PID/stat, counted after the ")" that ends the command name), and
# context switches summed over every thread (/proc/PID/status has the
# leader's only).
# The same reads for every server, so the split is as fair as the total.
bench_cpu_split()
{
    local u=0 s=0 p rest f
    for p in "$@"; do
        rest=$(cat "/proc/$p/stat")
        rest=${rest##*) }
        read -r -a f <<<"$rest"
        u=$((u + f[11]))
        s=$((s + f[12]))
    done
    local cs
    cs=$(for p in "$@"; do cat /proc/"$p"/task/*/status 2>/dev/null; done |
        awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2}
             END {print v + 0, n + 0}')
    echo "$u $s $cs"
}

# bench_rss_kb PID...: the processes' VmRSS summed, in KiB.
bench_rss_kb()
{
    local sum=0 p
    for p in "$@"; do
        sum=$((sum + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
    done
    echo "$sum"
}

# bench_to_ms VALUE: wrk's "1.23ms" / "456.00us" / "1.02s" in milliseconds.
bench_to_ms()
{
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

# bench_field NAME LINE: the value of NAME=... in bench/wrk/order.lua's RESULT line.
bench_field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

# bench_free_port: a TCP port nothing listens on, below the kernel's
# ephemeral range (where every client's local port comes from: a port there
# may be some connection's own, and bind() fails with EADDRINUSE).
bench_free_port()
{
    local p lo
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    for _ in $(seq 50); do
        p=$((10000 + RANDOM % (lo - 10000)))
        if [ -z "$(ss -Htan "sport = :$p")" ]; then
            echo "$p"
            return
        fi
    done
    echo "$(basename "$0"): no free port" >&2
    exit 1
}

# bench_nginx_start MAIN HTTP URL: nginx with one worker pinned to
# SERVER_CPU, our own prefix in $CAFE_TMP, the MAIN lines at top level
# (load_module ...) and HTTP inside http { } after the settings common to
# every benchmark (no access log, keep-alive without a request cap); waits
# until URL answers. Sets BENCH_NGINX_PID and BENCH_NGINX_PIDS.
bench_nginx_start()
{
    local main=$1 http=$2 url=$3 tmp=$CAFE_TMP
    chmod 755 "$tmp" # the worker drops to nobody and must read what is there
    cat >"$tmp/nginx.conf" <<EOF
$main
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
worker_rlimit_nofile $(ulimit -Hn);
events { worker_connections $BENCH_NGINX_CONNECTIONS; }
http {
    access_log off;
    server_tokens off;
    # keep-alive without a per-connection request cap, as cafe-server does
    # (nginx's default keepalive_requests 1000 adds reconnects).
    keepalive_timeout 60s;
    keepalive_requests 100000000;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
$http
}
EOF
    taskset -c "$SERVER_CPU" "$BENCH_NGINX" -e "$tmp/nginx-error.log" -p "$tmp" -c "$tmp/nginx.conf" &
    BENCH_NGINX_PID=$!
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && break
        if ! kill -0 "$BENCH_NGINX_PID" 2>/dev/null; then
            cat "$tmp/nginx-error.log" >&2
            echo "$(basename "$0"): nginx did not start" >&2
            exit 1
        fi
        sleep 0.05
    done
    mapfile -t BENCH_NGINX_PIDS < <(echo "$BENCH_NGINX_PID"; pgrep -P "$BENCH_NGINX_PID")
}

bench_nginx_stop()
{
    if [ -n "$BENCH_NGINX_PID" ]; then # its master stops the workers
        kill -TERM "$BENCH_NGINX_PID" 2>/dev/null || true
        wait "$BENCH_NGINX_PID" 2>/dev/null || true
        BENCH_NGINX_PID=
        BENCH_NGINX_PIDS=()
    fi
}

bench_nginx_version() { "$BENCH_NGINX" -v 2>&1 | sed 's|.*/||'; }

# bench_write_results EXTRA: writes $OUT.json (the run's settings, EXTRA --
# more "key":"value", members ending in a comma -- and every entry of
# JSON_RUNS) and copies $REPORT to $OUT.txt; fails if $FAILED is not 0.
bench_write_results()
{
    {
        printf '{"started":"%s","server_cpu":%s,"load_cpu":%s,"duration_s":%s,"warmup_s":%s,"brew_s":%s,' \
            "$STARTED" "$SERVER_CPU" "$LOAD_CPU" "$DUR" "$WARMUP" "$BREW_S"
        printf '"cafe":"%s","commit":"%s",%s' "$BIN" "$(git log -1 --format=%h 2>/dev/null || echo '?')" "$1"
        printf '"load_before":"%s","load_after":"%s","failed":%s,\n "runs":[\n  ' "$LOAD_BEFORE" \
            "$(cut -d' ' -f1-3 /proc/loadavg)" "$([ "$FAILED" = 0 ] && echo false || echo true)"
        local sep='' run
        for run in "${JSON_RUNS[@]}"; do
            printf '%s%s' "$sep" "$run"
            sep=$',\n  '
        done
        printf '\n ]\n}\n'
    } >"$OUT.json"
    cp "$REPORT" "$OUT.txt"
    echo "results: $OUT.txt, $OUT.json"
    [ "$FAILED" = 0 ]
}
