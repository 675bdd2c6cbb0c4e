#!/bin/bash
# scripts/cluster.sh end to end, as the README tells a user to try it:
# `bash scripts/cluster.sh 3`, then `curl -d item=latte localhost:8080/order`
# -- here on free ports (its CAFE_*_PORT variables) with 100 ms lattes
# (extra flags go to every replica). The order is answered through HAProxy,
# stored in the script's Redis (appendonly), readable on every replica, and
# HAProxy balances over all three; SIGTERM to the script stops everything it
# started (checked by PID) and it exits. Exit 77 without redis-server or
# haproxy. Breaking what it checks: a replica not given the store (the
# order is missing on the others), a trap that does not stop the children
# (a PID still alive).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/tools/lib.bash
cafe_need redis-server redis-cli haproxy curl node
[ -x "$CAFE_SERVER_BIN" ] || die "no server binary at $CAFE_SERVER_BIN (build first)"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# The script takes a range: LB, LB+1..LB+3 for the replicas, LB+324 for
# HAProxy's stats. Find a base where all of them are free, below the
# kernel's ephemeral range (ip_local_port_range, 32768 up by default), where
# the other tests' servers on port 0 and every client's local port are drawn
# from: a fixed range there was taken between the check and the bind once.
ephemeral=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
for _ in $(seq 50); do
    lb=$((20000 + RANDOM % (ephemeral - 20000 - 400)))
    busy=0
    for p in "$lb" $((lb + 1)) $((lb + 2)) $((lb + 3)) $((lb + 324)); do
        [ -z "$(ss -Htln "sport = :$p")" ] || busy=1
    done
    [ "$busy" = 0 ] && break
done
redis_port=$(free_port)
prom_port=$(free_port)
out=$CAFE_TMP/cluster.out
CAFE_CLUSTER_PORT=$lb CAFE_REDIS_PORT=$redis_port CAFE_PROMETHEUS_PORT=$prom_port \
    CAFE_CLUSTER_DIR=$CAFE_TMP/cluster CAFE_SERVER_BIN=$CAFE_SERVER_BIN \
    bash scripts/cluster.sh 3 --time-scale 0.02 >"$out" 2>&1 &
script=$!
cafe_bg "$script"
for _ in $(seq 300); do
    grep -q 'cluster: try' "$out" && break
    kill -0 "$script" 2>/dev/null || {
        cat "$out" "$CAFE_TMP"/cluster/haproxy.log >&2 2>/dev/null
        die "scripts/cluster.sh exited"
    }
    sleep 0.1
done
grep -q 'cluster: try' "$out" || { cat "$out" >&2; die "scripts/cluster.sh did not come up"; }
mapfile -t children < <(pgrep -P "$script")
[ "${#children[@]}" -ge 5 ] || die "expected redis, 3 replicas and haproxy under the script, got ${#children[@]}"

# The README's line, on this port.
body=$(curl -s -d item=latte "localhost:$lb/order")
[[ $body == *'"status":"ready"'* ]] || die "the order through HAProxy: $body"
id=$(cafe_json_get "$body" id)
for i in 1 2 3; do
    got=$(curl -s "http://127.0.0.1:$((lb + i))/orders/$id")
    [[ $got == *'"status":"ready"'* ]] || die "replica-$i does not have order $id: $got"
done
[ "$(redis-cli -p "$redis_port" hget "cafe:order:$id" status)" = ready ] || die "order $id is not in the script's Redis"
# HAProxy spreads requests over the three.
for _ in $(seq 12); do curl -s -o /dev/null "localhost:$lb/menu"; done
for i in 1 2 3; do
    n=$(curl -s "http://127.0.0.1:$((lb + i))/metrics" |
        awk '/^cafe_http_requests_total\{route="\/menu"/ {s += $2} END {print s + 0}')
    [ "$n" -ge 1 ] || die "replica-$i got no request through HAProxy"
done
echo "cluster.sh: order $id through HAProxy on $lb, on all 3 replicas and in Redis"

kill -TERM "$script"
for _ in $(seq 300); do kill -0 "$script" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$script" 2>/dev/null || die "scripts/cluster.sh still running 30 s after SIGTERM"
for p in "${children[@]}"; do
    ! cafe_alive "$p" || die "PID $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) survived the script's stop"
done
grep -q 'cluster: stopped' "$out" || die "no stop message: $(cat "$out")"
echo "cluster.sh: SIGTERM stopped all ${#children[@]} processes it started"
