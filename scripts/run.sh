#!/bin/bash
# One command: install what is missing, build, run cafe-server on its defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
bash scripts/build.sh build
exec ./build/cafe-server "$@"
