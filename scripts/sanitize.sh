#!/usr/bin/env bash
# Builds attnviz and its tests with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan
# and runs ctest there. Any sanitizer report fails the test that triggered it (UBSan is built
# with -fno-sanitize-recover, ASan aborts on the first error).
#
# usage: scripts/sanitize.sh [CTEST ARGS...]
#   default selection: the engine, CLI, GPU, export, reliability and model tests (-L 'engine|cli|gpu|export|reliability|model')
#   e.g. scripts/sanitize.sh -R 'BadInput|fuzz_replay'    or    scripts/sanitize.sh -LE gui
# ATTNVIZ_ASAN_CMAKE_ARGS adds configure options, e.g. "-DATTNVIZ_WITH_GUI=OFF" to skip the GUI build.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${ATTNVIZ_ASAN_BUILD:-build-asan}
jobs=${ATTNVIZ_JOBS:-2}
selection=("$@")
[ ${#selection[@]} -gt 0 ] || selection=(-L 'engine|cli|gpu|export|reliability|model')

# -march=native is off so that the sanitized build also runs on another CI machine's CPU.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNVIZ_SANITIZE=ON -DATTNVIZ_NATIVE=OFF \
  ${ATTNVIZ_ASAN_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$jobs"

# detect_leaks: every leak is a failure. halt_on_error + abort: a report is a failed test, not
# a log line. Mesa/llvmpipe and the GL loader keep process-lifetime allocations, suppressed in
# tests/reliability/lsan.supp.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/reliability/lsan.supp}
ctest --test-dir "$build" --output-on-failure -j"$jobs" "${selection[@]}"
