#!/bin/bash
# CI's short fuzz run: builds the libFuzzer targets with clang + ASan + UBSan
# into build-fuzz and runs each for CAFE_FUZZ_SECONDS (default 20), after
# replaying the committed corpus (fuzz/corpus/, where every crash found
# becomes a regression input). Under the sanitizer pass of scripts/test.sh
# (the server binary is ASan-built) it only replays the corpus: the targets
# are sanitizer-built either way, so fuzzing twice buys nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v clang >/dev/null || { echo "skip: no clang"; exit 77; }
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
    { echo "skip: no libFuzzer runtime (libclang-rt-14-dev)"; exit 77; }

seconds=${CAFE_FUZZ_SECONDS:-20}
bin=${CAFE_SERVER_BIN:-build/cafe-server}
# No `ldd | grep -q` under pipefail: ldd may die of SIGPIPE (see cafe_is_asan).
if [ -z "${CAFE_FUZZ_SECONDS:-}" ] && [ -x "$bin" ] && [[ $(ldd "$bin" 2>/dev/null) == *libasan* ]]; then
    seconds=0
fi
# Its own ASan options: the suite's abort_on_error is fine, but keep leaks on.
exec bash fuzz/run.sh "$seconds" build-fuzz
