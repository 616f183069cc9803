#!/usr/bin/env bash
# The libFuzzer targets (clang 14, ASan + UBSan), built in build-fuzz from the engine sources.
#
#   scripts/fuzz.sh [TARGET...]
#       The check the test command runs: the same on every machine and every run. Each target
#       first replays its committed seed corpus and every saved crash input
#       (tests/reliability/regressions/TARGET/), then mutates from a fixed seed (-seed) for a fixed
#       number of inputs (-runs, sized to about 30 s on a 2-core machine), starting from an empty
#       scratch corpus. A failure here is the change's, and rerunning this command shows it again.
#
#   scripts/fuzz.sh --explore MINUTES [TARGET...]
#       Open-ended search: a random seed (printed, so a find can be rerun), MINUTES per target,
#       and a scratch corpus that grows from run to run in build-fuzz/corpus/. Run it for the
#       parser you changed before the change lands; whatever it finds goes into
#       tests/reliability/regressions/TARGET/ with its fix, where the check above replays it.
#
# Targets: the fuzz_TARGET.cpp files in tests/reliability/fuzz (default: all). Exits non-zero on
# the first crash, leak, timeout or broken invariant of any target; the input is left in
# build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

explore_minutes=""
if [ "${1:-}" = "--explore" ]; then
  [[ "${2:-}" =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] || { echo "usage: $0 --explore MINUTES [TARGET...]" >&2; exit 2; }
  explore_minutes=$2
  shift 2
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/reliability/fuzz/fuzz_*.cpp; do
    t=${f##*/fuzz_}
    targets+=("${t%.cpp}")
  done
fi
for t in "${targets[@]}"; do
  [ -f "tests/reliability/fuzz/fuzz_$t.cpp" ] || { echo "fuzz: no target '$t' (tests/reliability/fuzz/fuzz_$t.cpp)" >&2; exit 2; }
done
build=${ATTNVIZ_FUZZ_BUILD:-build-fuzz}
jobs=${ATTNVIZ_FUZZ_JOBS:-2}

# Inputs each target mutates in the check: about 30 s of each one's speed on a 2-core machine
# (measured with --explore's exec/s), so the check costs the same time it did when it was
# time-boxed, but covers the same inputs everywhere.
runs_for() {
  case "$1" in
    cli_args) echo 60000 ;;
    session) echo 60000 ;;
    tokenizer_json) echo 20000 ;;
    npz) echo 40000 ;;
    image) echo 40000 ;;
    *) echo 100000 ;;
  esac
}

cmake -S tests/reliability/fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null

status=0
for t in "${targets[@]}"; do
  seeds=tests/reliability/corpus/$t
  regressions=tests/reliability/regressions/$t
  mkdir -p "$build/artifacts"
  common=(-timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1
          -artifact_prefix="$build/artifacts/$t-")
  if [ -n "$explore_minutes" ]; then
    work=$build/corpus/$t
    seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
    mode=(-seed="$seed" -max_total_time=$((explore_minutes * 60)))
    echo "== fuzz_$t: explore ${explore_minutes} min, -seed=$seed"
  else
    # A fresh scratch corpus every time: what an earlier run found must not steer this one.
    work=$build/check-corpus/$t
    rm -rf "$work"
    # A guard, not the budget: -runs ends the check long before this on any machine that
    # builds attnviz in reasonable time.
    mode=(-seed=1 -runs="$(runs_for "$t")" -max_total_time=600)
    echo "== fuzz_$t: -seed=1 -runs=$(runs_for "$t")"
  fi
  mkdir -p "$work"
  dirs=("$work" "$seeds")
  [ -d "$regressions" ] && dirs+=("$regressions")
  start=$SECONDS
  if ! "$build/fuzz_$t" "${dirs[@]}" "${mode[@]}" "${common[@]}" >"$build/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t FAILED (log: $build/fuzz_$t.log, input in $build/artifacts/):"
    grep -E "ERROR|invariant|Test unit written|SUMMARY|terminate|what\(\)" "$build/fuzz_$t.log" | head -20 || true
    status=1
    continue
  fi
  grep -E "stat::number_of_executed_units|cov:" "$build/fuzz_$t.log" | tail -2 | tr '\n' ' '
  echo "($((SECONDS - start)) s)"
done
exit $status
