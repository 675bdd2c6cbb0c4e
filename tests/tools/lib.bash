# Helpers for tests/tools/*.sh and bench/*.sh: start the real server on a
# free port, probe it, stop it and insist on exit 0. Source it; it sets an
# EXIT trap that stops (by PID) whatever it started and removes $CAFE_TMP.
# Not a test itself (tests/CMakeLists.txt only runs *.sh).

CAFE_SERVER_BIN=${CAFE_SERVER_BIN:-build/cafe-server}
CAFE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cafe-tools.XXXXXX")
CAFE_PID=
CAFE_PORT=
CAFE_URL=
CAFE_BG_PIDS=()

cafe_cleanup()
{
    cafe_bg_stop
    if [ -n "$CAFE_PID" ] && kill -0 "$CAFE_PID" 2>/dev/null; then
        kill -KILL "$CAFE_PID" 2>/dev/null || true
    fi
    [ "${CAFE_KEEP_TMP:-0}" = 1 ] || rm -rf "$CAFE_TMP"
}
trap cafe_cleanup EXIT

die()
{
    echo "FAIL: $*" >&2
    if [ -f "$CAFE_TMP/server.err" ]; then
        echo "--- server stderr (tail) ---" >&2
        tail -30 "$CAFE_TMP/server.err" >&2
    fi
    exit 1
}

# Remembers a background helper so the EXIT trap ends it.
cafe_bg() { CAFE_BG_PIDS+=("$1"); }

# Ends the background helpers now. SIGKILL: a bash helper blocked in a write
# to a socket the server stopped reading does not act on SIGTERM (bash only
# notes it and restarts the write).
cafe_bg_stop()
{
    local p
    for p in "${CAFE_BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${CAFE_BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done # no "Killed" notes
    CAFE_BG_PIDS=()
}

# cafe_need TOOL...: skips the test (exit 77, ctest's SKIP_RETURN_CODE) when
# a tool is not installed.
cafe_need()
{
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "skip: $t not installed"; exit 77; }
    done
}

# cafe_json_get JSON EXPR: one value out of a helper's JSON line, e.g.
# `cafe_json_get "$res" 'statuses["500"]'`; 0 when it is missing, an object
# as JSON.
cafe_json_get()
{
    node -e "const v = JSON.parse(process.argv[1]).$2;
        process.stdout.write(typeof v === 'object' && v ? JSON.stringify(v) : String(v ?? 0))" "$1"
}

# cafe_start [server flags...]: starts the server on 127.0.0.1, a free port.
# CAFE_SERVER_CPU (e.g. 0) pins it with taskset. Sets CAFE_PID/PORT/URL.
cafe_start()
{
    local pin=()
    [ -n "${CAFE_SERVER_CPU:-}" ] && pin=(taskset -c "$CAFE_SERVER_CPU")
    [ -x "$CAFE_SERVER_BIN" ] || die "no server binary at $CAFE_SERVER_BIN (build first)"
    : >"$CAFE_TMP/server.out"
    "${pin[@]}" "$CAFE_SERVER_BIN" --host 127.0.0.1 --port 0 "$@" \
        >"$CAFE_TMP/server.out" 2>"$CAFE_TMP/server.err" &
    CAFE_PID=$!
    local i line
    for i in $(seq 200); do
        line=$(grep -o 'listening on http://[^ ]*' "$CAFE_TMP/server.out" || true)
        [ -n "$line" ] && break
        kill -0 "$CAFE_PID" 2>/dev/null || die "server exited at start-up"
        sleep 0.05
    done
    [ -n "$line" ] || die "server did not print its address"
    CAFE_URL=${line#listening on }
    CAFE_PORT=${CAFE_URL##*:}
}

# True while the process has not exited (a zombie counts as exited).
cafe_alive()
{
    local state
    state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# cafe_stop [seconds]: SIGTERM, wait up to seconds (default 15), require
# exit 0 (a crash or a sanitizer report fails). Prints the elapsed ms.
cafe_stop()
{
    local limit=${1:-15} start end rc=0
    start=$(date +%s%N)
    cafe_alive "$CAFE_PID" || die "server is not running before SIGTERM (crashed?)"
    kill -TERM "$CAFE_PID"
    local deadline=$((start + limit * 1000000000))
    while cafe_alive "$CAFE_PID"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || die "server still running ${limit}s after SIGTERM"
        sleep 0.05
    done
    wait "$CAFE_PID" || rc=$?
    end=$(date +%s%N)
    CAFE_STOP_MS=$(((end - start) / 1000000))
    CAFE_PID_DONE=$CAFE_PID
    CAFE_PID=
    [ "$rc" = 0 ] || die "server exited with $rc after SIGTERM"
}

# VmRSS of a process in KiB.
cafe_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# cafe_sample_rss SECONDS [COMMAND...]: once a second for SECONDS, dies if the
# server is gone, appends its VmRSS (KiB) to CAFE_RSS, then runs COMMAND (a
# probe, say). cafe_max prints the largest of its arguments.
cafe_sample_rss()
{
    local n=$1 i
    shift
    CAFE_RSS=()
    for i in $(seq "$n"); do
        sleep 1
        cafe_alive "$CAFE_PID" || die "server died ${i}s into the run"
        CAFE_RSS+=("$(cafe_rss_kb "$CAFE_PID")")
        [ $# = 0 ] || "$@"
    done
}
cafe_max() { printf '%s\n' "$@" | sort -n | tail -1; }

# cafe_requests_total [REGEX]: the server's request counter from /metrics,
# summed over the series whose line matches REGEX (all by default).
cafe_requests_total()
{
    curl -s --max-time 5 "$CAFE_URL/metrics" |
        awk -v re="${1:-.}" '/^cafe_http_requests_total/ && $0 ~ re {n += $NF} END {printf "%d\n", n}'
}

# One GET with a deadline; prints the status code (000 when no answer).
cafe_probe()
{
    curl -s -o /dev/null -w '%{http_code}' --max-time "${2:-3}" "$CAFE_URL${1:-/healthz}" || true
}

# Whether the server binary is built with AddressSanitizer (slower: the
# figures, not the verdicts, change). Not `ldd | grep -q`: under pipefail,
# grep quitting early makes ldd die of SIGPIPE and the answer "no" (12 % of
# calls, measured).
cafe_is_asan() { [[ $(ldd "$CAFE_SERVER_BIN" 2>/dev/null) == *libasan* ]]; }
