#!/bin/bash
# The mutation check: bash tests/mutations/run.sh [--fast] [--list] [--dir DIR] [--from F.mut] [ID|FILE...]
# (see tests/mutations/README.md). A thin wrapper: the work is in run.mjs.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node tests/mutations/run.mjs "$@"
