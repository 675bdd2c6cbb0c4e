#!/bin/bash
# The container image, for real: builds the repo's Dockerfile with rootful
# podman + runc (no Docker engine here), runs it with
# --network host on a free port, then checks what a user of `docker run`
# relies on: /healthz, /menu, the dashboard's vendored assets, a real order,
# HEALTHCHECK, a non-root server that is PID 1, and that `stop` ends in a
# clean exit 0 within the drain timeout while a brew is still in flight.
# Exit 77 (ctest: skipped) only where podman cannot run at all (not root, not
# installed, or nested in a container that gives it no cgroups/mounts).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/docker/podman-lib.bash
source tests/docker/podman-lib.bash

skip() { echo "SKIP docker/image: $*"; exit 77; }
fail() { echo "FAIL docker/image: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

reason=$(podman_unusable_reason)
[ -z "$reason" ] || skip "$reason"
P info >/dev/null 2>&1 || skip "podman cannot set up its storage here: $(P info 2>&1 | tail -1)"
podman_can_run || skip "podman cannot start a container here (nested in a container?): $(
    # shellcheck disable=SC2046 # one flag per line, no spaces inside
    P run --rm --network host $(podman_run_flags) "$PROBE_IMAGE" /usr/bin/true 2>&1 | tail -1)"
# One image test at a time on this machine (several people run the suite
# here): the cache clean-up below must not remove another run's build layers.
exec 8>"$CAFE_DOCKER_DIR/.image-test.lock"
flock -w 600 8 || fail "another docker/image run held the lock for 10 minutes"
ensure_base_image

tmp=$(mktemp -d)
image=localhost/async-cafe:test-$$
name=cafe-image-test-$$
cleanup() {
    P rm -f -t 0 "$name" >/dev/null 2>&1 || true
    P rmi -f "$image" >/dev/null 2>&1 || true
    # The newest build stage stays as layer cache (reruns skip apt and npm);
    # older ones go, and past 8 GiB (bench/fresh-machine.sh's container counts
    # too) every untagged image goes.
    P images --filter dangling=true --format '{{.CreatedAt}} {{.ID}}' 2>/dev/null | sort -r |
        tail -n +2 | while read -r _ _ _ _ id; do P rmi "$id" >/dev/null 2>&1 || true; done
    if [ "$(du -sm "$CAFE_DOCKER_DIR/storage" 2>/dev/null | cut -f1)" -gt 8192 ]; then
        P image prune -f >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# If npm here trusts a custom CA file (host_npm_cafile), lend it and an npmrc
# naming it to the build's RUN steps as read-only bind mounts; nothing of it
# lands in a layer and the Dockerfile stays as a user runs it.
build_mounts=()
cafile=$(host_npm_cafile)
if [ -n "$cafile" ]; then
    mkdir -p "$tmp/ca"
    cp "$cafile" "$tmp/ca/ca.crt"
    echo "cafile=/run/cafe-build-ca/ca.crt" >"$tmp/npmrc"
    build_mounts=(-v "$tmp/ca:/run/cafe-build-ca:ro" -v "$tmp/npmrc:/root/.npmrc:ro")
fi

start=$(date +%s)
if ! P build --isolation chroot --network host --format docker "${build_mounts[@]}" \
    -t "$image" . >"$tmp/build.log" 2>&1; then
    tail -40 "$tmp/build.log" >&2
    fail "podman build failed"
fi
ok "image built in $(($(date +%s) - start)) s"
size=$(P image inspect --format '{{.Size}}' "$image")
ok "image size $((size / 1000000)) MB ($size bytes; base debian:bookworm-slim $(($(P image inspect --format '{{.Size}}' "$BASE_IMAGE") / 1000000)) MB)"

# What the image declares.
P image inspect --format '{{.Config.ExposedPorts}}' "$image" | grep '8080/tcp' >/dev/null || fail "EXPOSE 8080 missing"
[ -n "$(P image inspect --format '{{.Config.Healthcheck}}' "$image")" ] || fail "no HEALTHCHECK (built as OCI?)"
user=$(P image inspect --format '{{.Config.User}}' "$image")
case $user in '' | root | 0 | 0:*) fail "image runs as root (User='$user')" ;; esac
ok "EXPOSE 8080, HEALTHCHECK, USER $user"

# A free port on the host (the container shares the host's network).
port=$(host_free_port) || fail "no free port found"

# Time scale 0.5: a latte takes 2.5 s, a drip 2 s -- long enough to still be
# brewing when we stop the container with a 0.8 s drain timeout.
drain_ms=800
# shellcheck disable=SC2046 # one flag per line, no spaces inside
P run -d --name "$name" --network host $(podman_run_flags) \
    -e CAFE_PORT="$port" -e CAFE_TIME_SCALE=0.5 -e CAFE_DRAIN_TIMEOUT_MS=$drain_ms \
    "$image" >/dev/null 2>"$tmp/run.err" || { cat "$tmp/run.err" >&2; fail "podman run failed"; }
url=http://127.0.0.1:$port
for _ in $(seq 100); do
    curl -fsS -m 2 -o /dev/null "$url/healthz" 2>/dev/null && break
    [ "$(P inspect --format '{{.State.Running}}' "$name")" = true ] || break
    sleep 0.1
done
logs() { P logs "$name" 2>&1 | tail -30; }
curl -fsS -m 5 -o /dev/null "$url/healthz" || { logs >&2; fail "/healthz does not answer on $url"; }
P logs "$name" 2>/dev/null | grep -x "listening on http://0.0.0.0:$port" >/dev/null ||
    { logs >&2; fail "no 'listening on http://0.0.0.0:$port' line on stdout"; }
ok "listening on http://0.0.0.0:$port, /healthz answers"

curl -fsS -m 5 -D "$tmp/menu.h" -o "$tmp/menu.json" "$url/menu"
grep -qi '^content-type: application/json' "$tmp/menu.h" || fail "/menu is not JSON: $(cat "$tmp/menu.h")"
grep -q '"latte"' "$tmp/menu.json" || fail "/menu has no latte: $(head -c 300 "$tmp/menu.json")"
ok "GET /menu is JSON with a latte"

# The dashboard and its vendored chart library (built by npm in the image).
curl -fsS -m 5 -o "$tmp/index.html" "$url/" || fail "GET / (dashboard) failed"
curl -fsS -m 5 -o /dev/null "$url/vendor/uPlot.esm.js" || fail "static/vendor/uPlot.esm.js not served"
ok "dashboard and static/vendor served"

code=$(curl -sS -m 20 -o "$tmp/order.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"item":"latte","customer":"Docker"}' "$url/order")
[ "$code" = 201 ] || fail "POST /order answered $code: $(cat "$tmp/order.json")"
grep -q '"status": *"ready"' "$tmp/order.json" || fail "order not ready: $(cat "$tmp/order.json")"
ok "POST /order latte -> 201, ready"

timeout 30 "${PODMAN[@]}" healthcheck run "$name" 2>/dev/null || fail "podman healthcheck run failed"
ok "HEALTHCHECK passes"

# Non-root and PID 1: the process podman started is cafe-server itself (exec
# form, no shell that would swallow SIGTERM), owned by a non-root uid.
pid=$(P inspect --format '{{.State.Pid}}' "$name")
[ "$(cat "/proc/$pid/comm")" = cafe-server ] || fail "PID 1 is $(cat "/proc/$pid/comm"), not cafe-server"
uid=$(awk '/^Uid:/{print $2}' "/proc/$pid/status")
[ "$uid" != 0 ] || fail "cafe-server runs as root"
[ "$(P exec "$name" id -u)" != 0 ] || fail "exec in the container is root"
ok "cafe-server is PID 1 in the container, uid $uid"

# Stop with work in flight: a drip (2 s here, timers only) nobody waits for,
# and one a client waits for. SIGTERM must drain within drain_ms, answer the
# waiting client, and exit 0 -- not be SIGKILLed at podman's 10 s.
curl -fsS -m 5 -o /dev/null -X POST -d '{"item":"drip"}' "$url/order?wait=0" || fail "POST /order?wait=0 failed"
curl -sS -m 20 -o "$tmp/waiting.json" -w '%{http_code}' -X POST -d '{"item":"drip"}' \
    "$url/order" >"$tmp/waiting.code" 2>"$tmp/waiting.err" &
waiter=$!
# Stop only once both brews are in flight: a request still unread in its
# socket when SIGTERM lands is a different (racy) case.
for _ in $(seq 50); do
    [ "$(curl -fsS -m 2 "$url/orders?status=brewing" | grep -o '"id"' | wc -l)" -ge 2 ] && break
    sleep 0.05
done
t0=$(date +%s%N)
P stop -t 10 "$name" >/dev/null 2>&1 || fail "podman stop failed"
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
wait "$waiter" || fail "the waiting client got no answer: $(cat "$tmp/waiting.err")"
exit_code=$(P inspect --format '{{.State.ExitCode}}' "$name")
[ "$exit_code" = 0 ] || { logs >&2; fail "exit code $exit_code after SIGTERM"; }
((elapsed_ms < drain_ms + 3000)) || fail "stop took $elapsed_ms ms (drain timeout $drain_ms ms)"
ok "podman stop: exit 0 in $elapsed_ms ms (drain $drain_ms ms); waiting client answered $(cat "$tmp/waiting.code")"

echo "PASS docker/image"
