#!/bin/bash
# Pipelining flood: clients that write pipelined GET /menu requests as fast
# as the socket takes them and never read a byte of the answers. Passes when
#   - the engine stops reading once a connection's unread output passes
#     --max-output-bytes: the server's memory (VmRSS) stays within a few MiB
#     of where it started (without that bound it reaches gigabytes), and
#     does not keep growing after a warm-up (a leak per request),
#   - the write timeout cuts every flooder, and not sooner: they reconnect
#     when cut, so each opens about one connection per write timeout (one
#     each if nothing cuts them),
#   - other clients keep being answered, and SIGTERM ends it with exit 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/tools/lib.bash
cafe_need curl

secs=${CAFE_FLOOD_SECONDS:-16}
clients=${CAFE_FLOOD_CLIENTS:-8}
out_kb=256
write_timeout_ms=3000
slack_kb=$((16 * 1024))
if cafe_is_asan; then # freed memory sits in ASan's quarantine: keep it small
    export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=16
    slack_kb=$((64 * 1024)) # measured: +34 MiB at the peak
fi
# Idle and header deadlines far away: only the write timeout may cut.
cafe_start --access-log=off --max-output-bytes $((out_kb * 1024)) --write-timeout-ms "$write_timeout_ms" \
    --idle-timeout-ms 600000 --header-timeout-ms 600000
rss_start=$(cafe_rss_kb "$CAFE_PID")

# One flooder: connects, writes until the server cuts it, notes the
# connection in its own file, and again. No nested subshell, so killing the
# flooder's PID (cafe_bg_stop) closes its connection too.
flood()
{
    local req batch="" n=0
    trap '' PIPE # a write after the cut fails instead of killing the flooder
    printf -v req 'GET /menu HTTP/1.1\r\nHost: flood\r\n\r\n'
    for _ in $(seq 500); do batch+=$req; done
    while :; do
        if exec 3<>"/dev/tcp/127.0.0.1/$CAFE_PORT"; then
            n=$((n + 1))
            echo "$n" >"$CAFE_TMP/flood.$BASHPID"
            while printf '%s' "$batch" >&3; do :; done
            exec 3>&-
        fi
        sleep 0.1
    done 2>/dev/null
}
for _ in $(seq "$clients"); do
    flood &
    cafe_bg $!
done

bad=0
probe()
{
    local code
    code=$(cafe_probe /healthz 5)
    [ "$code" = 200 ] || { bad=$((bad + 1)); echo "probe: $code" >&2; }
}
cafe_sample_rss "$secs" probe
served=$(cafe_requests_total 'route="/menu"')
cafe_bg_stop
connects=$(cat "$CAFE_TMP"/flood.* 2>/dev/null | sort -n | tr '\n' ' ')
least=$(cat "$CAFE_TMP"/flood.* 2>/dev/null | sort -n | head -1)
most=$(cat "$CAFE_TMP"/flood.* 2>/dev/null | sort -n | tail -1)

n=${#CAFE_RSS[@]}
warm=${CAFE_RSS[$((n / 3))]}
last=${CAFE_RSS[$((n - 1))]}
peak=$(cafe_max "${CAFE_RSS[@]}")
echo "flood: $clients clients x ${secs}s, $served requests served, RSS KiB: $rss_start, ${CAFE_RSS[*]}"
echo "flood: RSS at the start $rss_start KiB, after warm-up $warm, at the end $last, peak $peak"
echo "flood: connections per flooder (cut by the ${write_timeout_ms} ms write timeout, then reopened): ${connects:-none}"
echo "probe: $secs requests, $bad without a 200"
# Backpressure: each flooder may hold out_kb of unread output (and some
# request bytes read before it stops); the slack covers allocator pages.
bound=$((rss_start + clients * out_kb * 2 + slack_kb))
# No growth after warm-up: a leak per request grows with the requests served.
grow_limit=$((warm + warm / 4 + clients * out_kb))
fail=0
[ "$peak" -le "$bound" ] || { echo "FAIL: RSS peaked at $peak KiB (bound $bound: is --max-output-bytes applied?)"; fail=1; }
[ "$last" -le "$grow_limit" ] || { echo "FAIL: RSS grew from $warm to $last KiB (limit $grow_limit)"; fail=1; }
[ "${least:-0}" -ge 2 ] || { echo "FAIL: a flooder was never cut (connections: ${connects:-none}): write timeout?"; fail=1; }
# ... and not before the timeout: a loaded machine makes it late, never early.
[ "${most:-0}" -le $((secs * 1000 / write_timeout_ms + 2)) ] ||
    { echo "FAIL: flooders were cut sooner than the write timeout (connections: $connects)"; fail=1; }
[ "$bad" = 0 ] || { echo "FAIL: $bad probes unanswered"; fail=1; }
[ "$served" -gt 1000 ] || { echo "FAIL: the flood did not get through ($served requests)"; fail=1; }

cafe_stop 20
echo "server exited 0 after SIGTERM in ${CAFE_STOP_MS} ms"
[ "$fail" = 0 ] || die "pipelining flood"
echo "PASS"
