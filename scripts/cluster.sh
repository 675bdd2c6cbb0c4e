#!/bin/bash
# The café as a cluster on this machine: Redis (appendonly yes, appendfsync
# always), N replicas sharing it, HAProxy in front on 8080 and, if
# installed, Prometheus on 9090 (docs/store.md).
#   bash scripts/cluster.sh 3 [cafe-server flags...]
#   curl -d item=latte localhost:8080/order
# Replica i listens on 127.0.0.1:(8080 + i), is named replica-i and logs to
# build/cluster/replica-i.log; Ctrl-C stops everything it started (by PID).
# CAFE_CLUSTER_PORT (8080) moves the whole range; CAFE_REDIS_PORT (6390)
# Redis; CAFE_PROMETHEUS_PORT (9090) Prometheus; data and logs stay in
# CAFE_CLUSTER_DIR (build/cluster/) for a look afterwards; CAFE_SERVER_BIN
# (build/cafe-server) is the replicas' binary. tests/tools/cluster_script.sh
# runs it on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/render.sh

n=${1:-}
[[ $n =~ ^[1-9][0-9]?$ ]] || { echo "usage: scripts/cluster.sh N [cafe-server flags...]  (N = 1..99)" >&2; exit 2; }
shift
lb=${CAFE_CLUSTER_PORT:-8080}
redis_port=${CAFE_REDIS_PORT:-6390}
stats=$((lb + 324)) # 8404 beside 8080: HAProxy's Prometheus exporter
prom_port=${CAFE_PROMETHEUS_PORT:-9090}
dir=${CAFE_CLUSTER_DIR:-build/cluster}
bin=${CAFE_SERVER_BIN:-build/cafe-server}

for tool in redis-server haproxy; do
    command -v "$tool" >/dev/null || { echo "cluster: $tool is missing (bash scripts/setup.sh test)" >&2; exit 1; }
done
[ -x "$bin" ] || bash scripts/build.sh build
if ! "$bin" --help 2>&1 | grep -q -- '--store'; then
    echo "cluster: this cafe-server has no --store flag yet (the Redis store is not wired into app/)" >&2
    exit 1
fi

pids=()
stop()
{
    local p
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    echo "cluster: stopped (logs and data in $dir/)"
}
trap stop EXIT
trap 'exit 130' INT # through the EXIT trap, once
trap 'exit 143' TERM

wait_for() # URL-or-"redis" WHAT
{
    local i
    for i in $(seq 100); do
        if [ "$1" = redis ]; then
            redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0
        else
            curl -s -o /dev/null --max-time 1 "$1" && return 0
        fi
        sleep 0.1
    done
    echo "cluster: $2 did not come up (see $dir/)" >&2
    exit 1
}

mkdir -p "$dir"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --appendonly yes \
    --appendfsync always --save '' --logfile redis.log &
pids+=($!)
wait_for redis "redis on $redis_port"

ports=()
for ((i = 1; i <= n; i++)); do
    port=$((lb + i))
    ports+=("$port")
    "$bin" --host 127.0.0.1 --port "$port" --store "redis://127.0.0.1:$redis_port" \
        --store-prefix cafe: --replica-id "replica-$i" "$@" >"$dir/replica-$i.log" 2>&1 &
    pids+=($!)
done
for port in "${ports[@]}"; do wait_for "http://127.0.0.1:$port/healthz" "the replica on $port"; done

deploy_render_haproxy "$lb" "$stats" "${ports[@]}" >"$dir/haproxy.cfg"
haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$lb/healthz" "HAProxy on $lb"

if command -v prometheus >/dev/null; then
    deploy_render_prometheus "$stats" "${ports[@]}" >"$dir/prometheus.yml"
    prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus" \
        --web.listen-address=127.0.0.1:$prom_port >"$dir/prometheus.log" 2>&1 &
    pids+=($!)
fi

echo "cluster: redis 127.0.0.1:$redis_port, $n replicas on ${ports[*]}, HAProxy http://127.0.0.1:$lb"
command -v prometheus >/dev/null && echo "cluster: Prometheus http://127.0.0.1:$prom_port"
echo "cluster: try  curl -d item=latte localhost:$lb/order   (Ctrl-C stops it all)"
wait -n "${pids[@]}" || true
echo "cluster: a process ended; stopping the rest" >&2
