#!/bin/bash
# One command: install what is missing, build, run every test; then the same
# suite built with AddressSanitizer and UndefinedBehaviorSanitizer. Each pass
# ends with the list of tests that were skipped (exit 77: a tool this machine
# cannot run), so a skip is never mistaken for a pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
jobs=$(nproc)

# run_ctest DIR [ctest args...]: runs the suite in DIR, then prints what was
# skipped and why (the test's own "skip: ..." line); keeps ctest's status.
run_ctest()
{
    local dir=$1 rc=0 log
    shift
    log=$(mktemp "${TMPDIR:-/tmp}/cafe-ctest.XXXXXX")
    (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600 "$@") 2>&1 | tee "$log" || rc=$?
    local skipped
    skipped=$(sed -n 's/^ *[0-9]*\/[0-9]* Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*/\1/p' "$log")
    echo
    if [ -z "$skipped" ]; then
        echo "== $dir: no test was skipped"
    else
        echo "== $dir: skipped tests (they did NOT pass; each says why):"
        local t
        for t in $skipped; do
            echo "   $t: $(reason_of "$dir" "$t")"
        done
    fi
    rm -f "$log"
    return "$rc"
}

# The "skip: why" line a skipped test printed, from ctest's log.
reason_of()
{
    awk -v t="$2" '
        $0 ~ "^[0-9]+/[0-9]+ Testing: " t "$" { inside = 1; next }
        inside && /^<end of output>/ { exit }
        inside && /^(skip|SKIP)/ { print; exit }' "$1/Testing/Temporary/LastTest.log"
}

bash scripts/build.sh build
run_ctest build

bash scripts/build.sh build-asan -DCAFE_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The mutation check builds its own plain copy: once (in the plain pass) is enough.
run_ctest build-asan -LE 'docker|bench|mutations'
