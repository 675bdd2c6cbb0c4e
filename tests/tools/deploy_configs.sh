#!/bin/bash
# deploy/: the HAProxy and Prometheus configs pass their own tools' checks
# (haproxy -c, promtool check config), both the host templates rendered for
# three replicas and the compose ones; the compose file has the services it
# promises. Then, for real: two cafe-server replicas behind HAProxy with the
# rendered config -- requests reach both, a replica killed with SIGKILL
# leaves the rotation and no request fails after it -- and Prometheus with
# the rendered config scrapes both. Exit 77 when haproxy or promtool is
# missing. Breaking what it checks: a config the tools refuse (checked by
# feeding haproxy -c a broken copy: it must fail), no health check (the
# killed replica keeps getting requests: 503s through HAProxy).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/tools/lib.bash
source deploy/render.sh
cafe_need haproxy promtool curl node

# One GET of a full URL with a deadline: its status (000 when no answer).
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$1" || true; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# --- the configs, checked by their own tools ---------------------------------
deploy_render_haproxy 18080 18404 18081 18082 18083 >"$CAFE_TMP/haproxy.cfg"
deploy_render_prometheus 18404 18081 18082 18083 >"$CAFE_TMP/prometheus.yml"
haproxy -c -q -f "$CAFE_TMP/haproxy.cfg" || die "haproxy refuses the rendered template"
haproxy -c -q -f deploy/haproxy-compose.cfg || die "haproxy refuses deploy/haproxy-compose.cfg"
promtool check config "$CAFE_TMP/prometheus.yml" >/dev/null || die "promtool refuses the template"
promtool check config deploy/prometheus-compose.yml >/dev/null || die "promtool refuses the compose one"
[ "$(grep -c '^    server replica[0-9] 127.0.0.1:1808[1-3] check$' "$CAFE_TMP/haproxy.cfg")" = 3 ] ||
    die "the rendered HAProxy config does not list 3 checked replicas"
grep -q 'option httpchk GET /healthz' "$CAFE_TMP/haproxy.cfg" || die "no /healthz check"
grep -q '"127.0.0.1:18081", "127.0.0.1:18082", "127.0.0.1:18083"' "$CAFE_TMP/prometheus.yml" ||
    die "the rendered Prometheus config does not list the 3 replicas"
# The check can fail: a config without its backend is refused.
sed '/^backend replicas/,/^$/d' "$CAFE_TMP/haproxy.cfg" >"$CAFE_TMP/broken.cfg"
if haproxy -c -q -f "$CAFE_TMP/broken.cfg" 2>/dev/null; then die "haproxy -c accepts anything"; fi
# The compose file, parsed as YAML where PyYAML is there (no compose tool on
# this machine): the services, the files it mounts and builds from, the
# variables it gives the replicas (each one cafe-server reads), and the ports
# of the replicas, HAProxy and Prometheus agreeing across the three files.
if python3 -c 'import yaml' 2>/dev/null; then
    python3 - "$CAFE_SERVER_BIN" <<'PY' || die "deploy/compose.yaml and its configs disagree"
import os, re, subprocess, sys, yaml
def need(ok, why):
    if not ok:
        sys.exit(f"compose: {why}")
c = yaml.safe_load(open("deploy/compose.yaml"))
s = c["services"]
need(set(s) >= {"redis", "cafe", "haproxy", "prometheus"}, f"services {sorted(s)}")
for name, svc in s.items():
    for v in svc.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith("."):
            need(os.path.isfile(os.path.join("deploy", src)), f"{name} mounts {src}, which is missing")
        else:
            need(src in (c.get("volumes") or {}), f"{name} uses volume {src}, not declared")
    b = svc.get("build")
    if b:
        need(os.path.isfile(os.path.join("deploy", b["context"], b["dockerfile"])), f"{name} builds from a missing Dockerfile")
    for d in svc.get("depends_on", []):
        need(d in s, f"{name} depends on unknown {d}")
cmd = " ".join(s["redis"]["command"])
need("--appendonly yes" in cmd and "--appendfsync always" in cmd, f"redis without appendonly + fsync always: {cmd}")
env = s["cafe"]["environment"]
need(env.get("CAFE_STORE", "").startswith("redis://redis:"), f"CAFE_STORE {env.get('CAFE_STORE')}")
if os.access(sys.argv[1], os.X_OK):
    help = subprocess.run([sys.argv[1], "--help"], capture_output=True, text=True).stdout
    for k in env:
        need(f"env {k}," in help, f"cafe-server reads no {k}")
port = str(env["CAFE_PORT"])
ha = open("deploy/haproxy-compose.cfg").read()
need(re.search(rf"server-template \w+ \d+ cafe:{port} check", ha), f"haproxy-compose.cfg does not check cafe:{port}")
prom = yaml.safe_load(open("deploy/prometheus-compose.yml"))
jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
need(str(jobs["cafe"]["dns_sd_configs"][0]["port"]) == port and jobs["cafe"]["dns_sd_configs"][0]["names"] == ["cafe"],
     "prometheus-compose.yml does not scrape the cafe service on its port")
binds = set(re.findall(r"^\s*bind :(\d+)", ha, re.M))
published = {p.split(":")[1] for p in s["haproxy"]["ports"]}
need(binds == published, f"HAProxy binds {sorted(binds)}, compose publishes {sorted(published)}")
stats = jobs["haproxy"]["static_configs"][0]["targets"][0].split(":")[1]
need(stats in binds, f"Prometheus scrapes HAProxy on {stats}, which it does not bind")
print(f"compose: {len(s)} services, mounts, build, CAFE_* variables and ports agree")
PY
else
    node -e '
const fs = require("fs"), t = fs.readFileSync("deploy/compose.yaml", "utf8");
for (const s of ["redis:", "cafe:", "haproxy:", "prometheus:"])
  if (!new RegExp("^  " + s, "m").test(t)) throw new Error("compose: no service " + s);
for (const s of ["--appendonly\", \"yes", "dockerfile: Dockerfile", "CAFE_STORE: redis://redis:6379",
                 "haproxy-compose.cfg", "prometheus-compose.yml"])
  if (!t.includes(s)) throw new Error("compose: missing " + s);
' || die "deploy/compose.yaml lacks what it promises"
fi
[ -f Dockerfile ] || die "compose builds on the repository Dockerfile, which is missing"
echo "configs: haproxy -c and promtool accept all four"

# --- for real: two replicas behind HAProxy ------------------------------------
if [ ! -x "$CAFE_SERVER_BIN" ]; then
    echo "no server binary at $CAFE_SERVER_BIN: the live part is skipped"
    exit 0
fi
ports=()
pids=()
for i in 1 2; do
    cafe_start --access-log=off
    cafe_bg "$CAFE_PID"
    ports+=("$CAFE_PORT")
    pids+=("$CAFE_PID")
    CAFE_PID=
done
lb=$(free_port)
stats=$(free_port)
deploy_render_haproxy "$lb" "$stats" "${ports[@]}" >"$CAFE_TMP/live.cfg"
haproxy -db -f "$CAFE_TMP/live.cfg" >"$CAFE_TMP/haproxy.log" 2>&1 &
cafe_bg $!
for _ in $(seq 100); do
    [ "$(status_of "http://127.0.0.1:$lb/healthz")" = 200 ] && break
    sleep 0.1
done
[ "$(status_of "http://127.0.0.1:$lb/healthz")" = 200 ] || die "HAProxy does not answer"
for _ in $(seq 8); do
    [ "$(status_of "http://127.0.0.1:$lb/menu")" = 200 ] || die "GET /menu through HAProxy failed"
done
for p in "${ports[@]}"; do
    n=$({ curl -s "http://127.0.0.1:$p/metrics" || true; } | awk '/^cafe_http_requests_total\{route="\/menu"/ {s += $2} END {print s + 0}')
    [ "$n" -ge 1 ] || die "replica on $p got no request: HAProxy does not balance"
done

# Prometheus with the rendered config scrapes both replicas.
if command -v prometheus >/dev/null; then
    prom=$(free_port)
    deploy_render_prometheus "$stats" "${ports[@]}" >"$CAFE_TMP/live.yml"
    prometheus --config.file="$CAFE_TMP/live.yml" --storage.tsdb.path="$CAFE_TMP/tsdb" \
        --web.listen-address="127.0.0.1:$prom" >"$CAFE_TMP/prometheus.log" 2>&1 &
    cafe_bg $!
    up=0
    for _ in $(seq 150); do
        up=$({ curl -s "http://127.0.0.1:$prom/api/v1/query?query=sum(up%7Bjob%3D%22cafe%22%7D)" || true; } |
            node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{try{const r=JSON.parse(d).data.result;console.log(r.length?r[0].value[1]:0)}catch{console.log(0)}})')
        [ "$up" = 2 ] && break
        sleep 0.2
    done
    [ "$up" = 2 ] || die "Prometheus does not scrape both replicas (up=$up)"
    echo "prometheus: scrapes both replicas"
fi

# One replica killed: it leaves the rotation, and no request fails after.
kill -KILL "${pids[0]}"
sleep 2.5 # fall 2 at inter 1s
fails=0
for _ in $(seq 10); do
    [ "$(status_of "http://127.0.0.1:$lb/menu")" = 200 ] || fails=$((fails + 1))
done
[ "$fails" = 0 ] || die "$fails of 10 requests failed with one replica down"
grep -q "replica1 is DOWN" "$CAFE_TMP/haproxy.log" || die "HAProxy did not mark the killed replica down"
echo "haproxy: balances over both, drops the killed one, no request lost"
