#!/bin/bash
# Installs what the project needs on Debian 12, skipping what is already there.
#   scripts/setup.sh run    build and run the server
#   scripts/setup.sh test   also everything the test suite uses
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-run}
# The plain `cmake -S . -B build` configures the test suite too (CAFE_TESTS is
# on by default), and that needs cmocka and node: both belong to `run`, or
# run.sh fails on a fresh machine before it builds the server.
packages=(gcc libc6-dev make cmake pkg-config libevent-dev libjansson-dev node-llhttp ca-certificates
          libcmocka-dev libhiredis-dev)
# Debian's nodejs unless a Node.js (>= 18) is already installed.
if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] < 18 ? 1 : 0)'; then
    packages+=(nodejs)
fi
if [ "$profile" = test ]; then
    packages+=(curl wrk procps chromium fonts-dejavu-core prometheus
               podman runc debootstrap uidmap clang libclang-rt-14-dev slowhttptest zzuf
               valgrind nginx-light libnginx-mod-http-echo linux-perf util-linux iproute2 redis-server
               haproxy gnuplot-nox httperf gcovr jq python3-yaml)
    command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

bash scripts/setup-web.sh "$profile" # node_modules (npm ci) and static/vendor/
