#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the ctest suite (engine, command line,
# figures, GPU parity on Mesa, GUI under Xvfb, a one-minute soak), then a three-minute soak of
# the app, the engine, CLI, export, GPU and reliability tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, and every fuzzer's reproducible check (fixed seed and input count,
# the committed corpus and every saved crash input replayed; scripts/fuzz.sh).
# `scripts/test.sh --quick` runs the ctest suite only. Each step's time is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
times=()
step() {  # step NAME COMMAND...: runs it and records how long it took
  local name=$1 start=$SECONDS
  shift
  "$@"
  times+=("$name $((SECONDS - start)) s")
}
report() { printf 'test.sh: %s\n' "${times[@]}"; }
trap report EXIT
step setup scripts/setup.sh
step build cmake --build build -j"$(nproc)"
step ctest bash -c 'cd build && ctest --output-on-failure -j1'
if [ "${1:-}" != "--quick" ]; then
  step soak scripts/soak.sh --minutes 3 --app build/app/attnviz --out build/soak
  # The GUI is not run under the sanitizers, so it is not built there either.
  step sanitizers env ATTNVIZ_ASAN_CMAKE_ARGS=-DATTNVIZ_WITH_GUI=OFF scripts/sanitize.sh
  step fuzz scripts/fuzz.sh
fi
