# Renders the host templates of deploy/ for replicas on the given ports.
# Source it (scripts/cluster.sh, tests/tools/deploy_configs.sh), then:
#   deploy_render_haproxy LISTEN_PORT STATS_PORT REPLICA_PORT... > haproxy.cfg
#   deploy_render_prometheus HAPROXY_STATS_PORT REPLICA_PORT... > prometheus.yml
DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

deploy_render_haproxy()
{
    local listen=$1 stats=$2 i=0 port servers= t
    shift 2
    for port in "$@"; do
        i=$((i + 1))
        servers+="    server replica$i 127.0.0.1:$port check"$'\n'
    done
    t=$(<"$DEPLOY_DIR/haproxy.cfg.in")
    t=${t//@LISTEN@/$listen}
    t=${t//@STATS@/$stats}
    printf '%s\n' "${t//@SERVERS@/${servers%$'\n'}}"
}

deploy_render_prometheus()
{
    local stats=$1 port targets= t
    shift
    for port in "$@"; do
        targets+="${targets:+, }\"127.0.0.1:$port\""
    done
    t=$(<"$DEPLOY_DIR/prometheus.yml.in")
    t=${t//@TARGETS@/$targets}
    printf '%s\n' "${t//@HAPROXY@/$stats}"
}
