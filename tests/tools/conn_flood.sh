#!/bin/bash
# Connection flood above --max-connections: the connections over the cap
# are shed with 503 + Retry-After, while clients that were already connected
# keep being served on their keep-alive connections (each of them answered
# at least once a second, none dropped, none left waiting 5 s), and a fresh
# probe is answered once the flood ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/tools/lib.bash
cafe_need node curl

max=${CAFE_FLOOD_MAX_CONNECTIONS:-40}
secs=${CAFE_FLOOD_SECONDS:-10}
cafe_start --access-log=off --max-connections "$max" --idle-timeout-ms 5000
res=$(timeout $((secs + 30)) node tests/tools/conn_flood.mjs "$CAFE_PORT" "$max" "$secs") || die "flood client failed"
echo "conn_flood: max-connections $max, ${secs}s: $res"
get() { cafe_json_get "$res" "$1"; }

fail=0
check() { # check DESCRIPTION CONDITION...
    local what=$1
    shift
    if ! "$@"; then
        echo "FAIL: $what"
        fail=1
    fi
}
# They ask every 100 ms; once a second is the floor on a loaded machine.
check "every existing client was answered at least once a second" [ "$(get existingLeast)" -ge "$secs" ]
check "no existing client waited 5 s for an answer" [ "$(get existingStalled)" = 0 ]
check "no existing client got an error status" [ "$(get existingBad)" = 0 ]
check "no existing client was dropped" [ "$(get existingDropped)" = 0 ]
check "connections over the cap got 503" [ "$(get flood503)" -gt 0 ]
check "every 503 carries Retry-After" [ "$(get flood503NoRetryAfter)" = 0 ]
check "no other status" [ "$(get floodOther)" = 0 ]
check "every flood connection was answered or closed within 5 s" [ "$(get floodNoAnswer)" = 0 ]
shed=$(($(get flood503) + $(get floodReset) + $(get floodClosedSilently)))
echo "conn_flood: shed $shed connections: $(get flood503) with a 503, $(get floodReset) reset, $(get floodClosedSilently) closed without an answer"
# A shed connection is answered, never reset nor closed mute: a reset can
# destroy the 503 before the client reads it (breakage caught: shed
# connections reset, 1,080 of 2,160, and the script said "none reset").
check "no shed connection was reset" [ "$(get floodReset)" = 0 ]
check "no shed connection was closed without an answer" [ "$(get floodClosedSilently)" = 0 ]
check "no connection was refused" [ "$(get floodRefused)" = 0 ]
check "probe answered after the flood" [ "$(cafe_probe /healthz 5)" = 200 ]
cafe_alive "$CAFE_PID" || die "server died in the connection flood"
cafe_stop 20
echo "server exited 0 after SIGTERM in ${CAFE_STOP_MS} ms"
[ "$fail" = 0 ] || die "connection flood"
echo "PASS"
