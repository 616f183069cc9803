#!/usr/bin/env bash
# Installs what is missing, builds, and opens attnviz on its default sample.
# Extra arguments go to attnviz, e.g. `scripts/run.sh --sample chinese`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --build build -j"$(nproc)"
exec ./build/app/attnviz "$@"
