#!/bin/bash
# Pipelining flood: clients that write pipelined GET /menu requests as fast
# as the socket takes them and never read a byte of the answers. The engine
# must stop reading once a connection's unread output passes
# --max-output-bytes, and the write timeout must cut the connection; so the
# server's memory (VmRSS) stays flat however long the flood lasts, and other
# clients keep being answered. The flooders reconnect when cut, so the
# pressure lasts the whole run.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/tools/lib.bash
command -v curl >/dev/null || { echo "skip: curl not installed"; exit 77; }

secs=${CAFE_FLOOD_SECONDS:-16}
clients=${CAFE_FLOOD_CLIENTS:-8}
out_kb=256
if cafe_is_asan; then # freed memory sits in ASan's quarantine: keep it small
    export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=16
fi
cafe_start --access-log=off --max-output-bytes $((out_kb * 1024)) --write-timeout-ms 3000

flood()
{
    local req batch=""
    printf -v req 'GET /menu HTTP/1.1\r\nHost: flood\r\n\r\n'
    for _ in $(seq 500); do batch+=$req; done
    while :; do
        # Each connection writes until the server cuts it (write timeout).
        (exec 3<>"/dev/tcp/127.0.0.1/$CAFE_PORT" && while printf '%s' "$batch" >&3; do :; done) \
            2>/dev/null || true
        sleep 0.1
    done
}
for _ in $(seq "$clients"); do
    flood &
    cafe_bg $!
done

requests_total()
{
    curl -s --max-time 5 "$CAFE_URL/metrics" |
        awk '/^cafe_http_requests_total/ {n += $NF} END {printf "%d\n", n}'
}

samples=()
bad=0
probes=0
for i in $(seq "$secs"); do
    sleep 1
    samples+=("$(cafe_rss_kb "$CAFE_PID")")
    code=$(cafe_probe /healthz 5)
    probes=$((probes + 1))
    [ "$code" = 200 ] || { bad=$((bad + 1)); echo "probe at ${i}s: $code" >&2; }
done
served=$(requests_total)
for p in "${CAFE_BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
sleep 0.5

# Flat: after a warm-up third, RSS may not keep growing. A leak per request
# or an unbounded output buffer grows with the (hundreds of thousands of)
# requests served; the bound here is generous for a loaded 2-core machine.
n=${#samples[@]}
warm=${samples[$((n / 3))]}
last=${samples[$((n - 1))]}
peak=0
for s in "${samples[@]}"; do [ "$s" -gt "$peak" ] && peak=$s; done
echo "flood: $clients clients x ${secs}s, $served requests served, RSS KiB: ${samples[*]}"
echo "flood: RSS after warm-up $warm KiB, at the end $last KiB, peak $peak KiB"
echo "probe: $probes requests, $bad without a 200"
limit=$((warm + warm / 4 + clients * out_kb * 2))
fail=0
[ "$last" -le "$limit" ] || { echo "RSS grew from $warm to $last KiB (limit $limit)"; fail=1; }
[ "$bad" = 0 ] || fail=1
[ "$served" -gt 1000 ] || { echo "the flood did not get through ($served requests)"; fail=1; }

cafe_stop 20
echo "server exited 0 after SIGTERM in ${CAFE_STOP_MS} ms"
[ "$fail" = 0 ] || die "pipelining flood"
echo "PASS"
