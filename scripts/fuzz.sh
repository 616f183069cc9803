#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, ASan + UBSan) in build-fuzz and runs each for N
# seconds (default 60), starting from the committed seed corpus and the saved crash inputs.
# Exits non-zero on the first crash, leak, timeout or broken invariant; the crashing input is
# left in build-fuzz/artifacts/ (add it to tests/reliability/regressions/TARGET/ with a fix).
#
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]     targets: the fuzz_TARGET.cpp files in
#                                                   tests/reliability/fuzz (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/reliability/fuzz/fuzz_*.cpp; do
    t=${f##*/fuzz_}
    targets+=("${t%.cpp}")
  done
fi
build=${ATTNVIZ_FUZZ_BUILD:-build-fuzz}
jobs=${ATTNVIZ_FUZZ_JOBS:-2}

cmake -S tests/reliability/fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null

status=0
for t in "${targets[@]}"; do
  seeds=tests/reliability/corpus/$t
  regressions=tests/reliability/regressions/$t
  # New inputs go to a scratch corpus in the build dir, never into the committed seeds.
  work=$build/corpus/$t
  mkdir -p "$work" "$build/artifacts"
  dirs=("$work" "$seeds")
  [ -d "$regressions" ] && dirs+=("$regressions")
  echo "== fuzz_$t: ${seconds}s"
  if ! "$build/fuzz_$t" "${dirs[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=8192 -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
      >"$build/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t FAILED (log: $build/fuzz_$t.log, input in $build/artifacts/):"
    grep -E "ERROR|invariant|Test unit written|SUMMARY|terminate|what\(\)" "$build/fuzz_$t.log" | head -20 || true
    status=1
    continue
  fi
  grep -E "stat::number_of_executed_units|cov:" "$build/fuzz_$t.log" | tail -2 | tr '\n' ' '
  echo
done
exit $status
