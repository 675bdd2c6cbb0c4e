#!/bin/bash
# Browser-side set-up, called by scripts/setup.sh:
#   node_modules/  from package-lock.json with `npm ci` (uPlot, playwright-core)
#   static/vendor/ the dashboard's third-party files, copied from node_modules
#                  (gitignored: nothing third-party is committed, no CDN)
#   scripts/setup-web.sh run    only when static/vendor/ is missing or stale
#   scripts/setup-web.sh test   also makes sure playwright-core is installed
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-run}

vendor_files=(node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css
              node_modules/uplot/LICENSE)

stale() { # true when $1 is missing or older than package-lock.json
    [ ! -e "$1" ] || [ package-lock.json -nt "$1" ]
}

if [ "$profile" = test ] || stale static/vendor/uPlot.esm.js; then
    if stale node_modules/.package-lock.json || [ ! -d node_modules/uplot ] ||
        { [ "$profile" = test ] && [ ! -d node_modules/playwright-core ]; }; then
        if ! command -v npm >/dev/null; then
            [ "$(id -u)" -ne 0 ] && sudo=sudo || sudo=
            echo "setup-web: installing nodejs npm"
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
                nodejs npm >/dev/null
        fi
        npm ci --no-audit --no-fund --loglevel=error
        touch node_modules/.package-lock.json
    fi
    if stale static/vendor/uPlot.esm.js; then
        mkdir -p static/vendor
        cp "${vendor_files[@]}" static/vendor/
        mv static/vendor/LICENSE static/vendor/uPlot.LICENSE
        echo "setup-web: static/vendor/ built from package-lock.json"
    fi
fi
