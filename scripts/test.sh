#!/bin/bash
# One command: install what is missing, build, run every test; then the same
# suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
jobs=$(nproc)

bash scripts/build.sh build
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

bash scripts/build.sh build-asan -DCAFE_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 600 -LE 'docker|bench')
