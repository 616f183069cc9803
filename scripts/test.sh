#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the ctest suite (engine, command line,
# figures, GPU parity on Mesa, GUI under Xvfb), then the sanitizer run and the fuzzers.
# `scripts/test.sh --quick` runs the ctest suite only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure -j1)
if [ "${1:-}" != "--quick" ]; then
  scripts/sanitize.sh
  scripts/fuzz.sh
fi
