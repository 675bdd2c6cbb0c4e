#!/bin/bash
# Fresh-machine proof of the README's two commands. In a bare
# debian:bookworm-slim container (the podman base image of tests/docker), from
# `git archive HEAD` (what a clone gets: nothing untracked, no build trees, no
# node_modules), runs
#   1. bash scripts/run.sh   -- must install, build and serve /healthz and
#                               /menu; then SIGTERM must end it with exit 0
#   2. bash scripts/test.sh  -- the whole suite, as CI runs it (CI=true)
# so any package or install step missing from scripts/setup.sh shows up here
# and not on a new CI machine. Not a ctest: it takes 20-40 minutes.
#   bench/fresh-machine.sh            both steps
#   bench/fresh-machine.sh run        step 1 only (a few minutes)
# Output: the full log in bench/results/fresh-machine.log, a summary at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/docker/podman-lib.bash
source tests/docker/podman-lib.bash

what=${1:-all}
case $what in all | run) ;; *) echo "usage: $0 [all|run]" >&2; exit 2 ;; esac

reason=$(podman_unusable_reason)
[ -z "$reason" ] || { echo "fresh-machine: podman unusable: $reason" >&2; exit 1; }
podman_can_run || { echo "fresh-machine: podman cannot start containers here" >&2; exit 1; }
ensure_base_image

mkdir -p bench/results
log=bench/results/fresh-machine.log
tmp=$(mktemp -d /var/tmp/cafe-fresh.XXXXXX)
name=cafe-fresh-$$
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    P rm -f -t 0 "$name" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

git archive --format=tar HEAD >"$tmp/repo.tar"
echo "fresh-machine: $(git log -1 --format='%h %s' HEAD)"
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
    echo "fresh-machine: note: uncommitted changes are NOT in the copy (HEAD only)"

# A bare Debian image lacks this network's proxy CA (host_npm_cafile): lend
# it, or `npm ci` fails -- a fact of this network, not a missing install step.
ca_args=()
cafile=$(host_npm_cafile)
if [ -n "$cafile" ]; then
    cp "$cafile" "$tmp/ca.crt"
    ca_args=(-e NODE_EXTRA_CA_CERTS=/fresh/ca.crt)
fi

port=$(host_free_port) || { echo "fresh-machine: no free port" >&2; exit 1; }

# The script run inside the container, as root on a bare Debian 12.
cat >"$tmp/inner.sh" <<'INNER'
#!/bin/bash
set -euo pipefail
what=$1 port=$2
[ ! -f /fresh/ca.crt ] || echo "cafile=/fresh/ca.crt" >/root/.npmrc
mkdir -p /work/repo && tar -x -C /work/repo -f /fresh/repo.tar && cd /work/repo

get() { # GET $1 on the server with bash alone (a fresh machine has no curl)
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$1" >&3
    timeout 5 cat <&3
    exec 3<&-
}

echo "=== step 1: bash scripts/run.sh --port $port"
start=$SECONDS
bash scripts/run.sh --port "$port" >/fresh/run.out 2>/fresh/run.err &
pid=$!
until grep -q '^listening on http://' /fresh/run.out 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "FAIL run.sh exited before listening:"; tail -40 /fresh/run.err; exit 1
    fi
    ((SECONDS - start < 900)) || { echo "FAIL run.sh not listening after 900 s"; exit 1; }
    sleep 1
done
echo "run.sh: $(grep -m1 '^listening on' /fresh/run.out) after $((SECONDS - start)) s (set-up and build included)"
get /healthz | sed -n 1p | grep ' 200 ' >/dev/null || { echo "FAIL /healthz"; exit 1; }
get /menu | grep '"latte"' >/dev/null || { echo "FAIL /menu has no latte"; exit 1; }
get / | sed -n 1p | grep ' 200 ' >/dev/null || { echo "FAIL GET / (dashboard)"; exit 1; }
get /vendor/uPlot.esm.js | sed -n 1p | grep ' 200 ' >/dev/null || { echo "FAIL static/vendor not built"; exit 1; }
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] || { echo "FAIL run.sh's server exited $rc on SIGTERM"; tail -20 /fresh/run.err; exit 1; }
echo "PASS step 1: run.sh built and served /healthz, /menu, /, /vendor; SIGTERM -> exit 0"
[ "$what" = all ] || exit 0

echo "=== step 2: bash scripts/test.sh"
start=$SECONDS
rc=0; CI=true timeout 5400 bash scripts/test.sh </dev/null || rc=$?
echo "test.sh exit $rc after $((SECONDS - start)) s"
# ctest hides a skipped test's output: show why the image test skipped here.
drc=0
dout=$(bash tests/docker/image.sh 2>&1) || drc=$?
echo "docker/image inside this container: exit $drc, $(tail -1 <<<"$dout")"
if [ "$rc" = 0 ]; then echo "PASS step 2: test.sh"; else echo "FAIL step 2: test.sh exit $rc"; fi
exit "$rc"
INNER

# --shm-size: podman's default 64 MB /dev/shm is too small for Chromium (the
# browser tests); a real machine has half its memory there.
echo "fresh-machine: running in $BASE_IMAGE (log: $log)"
start=$(date +%s)
rc=0
# shellcheck disable=SC2046 # one flag per line, no spaces inside
P run --rm --name "$name" --network host $(podman_run_flags) --shm-size 2g \
    -v "$tmp:/fresh" "${ca_args[@]}" -e CI=true "$BASE_IMAGE" \
    bash /fresh/inner.sh "$what" "$port" >"$log" 2>&1 || rc=$?
echo "fresh-machine: exit $rc after $(($(date +%s) - start)) s"
grep -E '^(=== |PASS|FAIL|run.sh:|test.sh exit|docker/image inside|setup: installing|setup-web:)|tests passed|tests failed|\*\*\*|Skipped|Not Run|Failed' "$log" || true
exit "$rc"
