#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the ctest suite (engine, command line,
# figures, GPU parity on Mesa, GUI under Xvfb, a one-minute soak), then a three-minute soak of
# the app, the engine, CLI, export, GPU and reliability tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, and every fuzzer's reproducible check (fixed seed and input count,
# the committed corpus and every saved crash input replayed; scripts/fuzz.sh).
# `scripts/test.sh --quick` runs the ctest suite only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure -j1)
if [ "${1:-}" != "--quick" ]; then
  scripts/soak.sh --minutes 3 --app build/app/attnviz --out build/soak
  # The GUI is not run under the sanitizers, so it is not built there either.
  ATTNVIZ_ASAN_CMAKE_ARGS=-DATTNVIZ_WITH_GUI=OFF scripts/sanitize.sh
  scripts/fuzz.sh
fi
