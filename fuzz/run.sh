#!/bin/bash
# Builds the libFuzzer targets with clang + ASan + UBSan and runs each for a
# bounded time, starting from its committed corpus (fuzz/corpus/<target>/).
#   fuzz/run.sh SECONDS [BUILD_DIR]     (default 30 s each, build-fuzz)
# SECONDS 0 only replays the committed corpus (the regression inputs).
# New interesting inputs go to BUILD_DIR/fuzz/corpus/<target>/ (the committed
# corpus is only read); a crash leaves BUILD_DIR/fuzz/crash-* and fails.
# CAFE_FUZZ_NO_BUILD=1 skips the build (the `fuzz` CMake target sets it);
# CAFE_FUZZ_JOBS is passed to cmake --build -j (default 2).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
build=${2:-$src/build-fuzz}
case $build in /*) ;; *) build=$src/$build ;; esac
targets=(fuzz_http_parser fuzz_order_json fuzz_router fuzz_menu fuzz_order_record)

if [ "${CAFE_FUZZ_NO_BUILD:-0}" != 1 ]; then
    cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="${CC:-clang}" -DCAFE_FUZZ=ON -DCAFE_TESTS=OFF \
        -DCAFE_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j"${CAFE_FUZZ_JOBS:-2}" --target "${targets[@]}" >/dev/null
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}:halt_on_error=1
status=0
for t in "${targets[@]}"; do
    work=$build/fuzz/corpus/$t
    mkdir -p "$work"
    dict=()
    [ -f "$src/fuzz/$t.dict" ] && dict=(-dict="$src/fuzz/$t.dict")
    log=$build/fuzz/$t.log
    # The committed corpus is replayed first (regressions), then mutated.
    limit=(-max_total_time="$seconds")
    [ "$seconds" = 0 ] && limit=(-runs=0)
    if "$build/fuzz/$t" "${limit[@]}" -timeout=10 -rss_limit_mb=1024 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz/" "${dict[@]}" \
        "$work" "$src/fuzz/corpus/$t" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "fuzz: $t ok: ${runs:-?} runs in ${seconds}s${cov:+, $cov}"
    else
        echo "fuzz: $t FAILED (log $log):"
        grep -A30 -m1 'ERROR\|property violated\|runtime error' "$log" || tail -40 "$log"
        ls "$build"/fuzz/crash-* "$build"/fuzz/leak-* "$build"/fuzz/timeout-* 2>/dev/null || true
        status=1
    fi
done
exit $status
