#!/usr/bin/env bash
# The headless command-line GPU path end to end: `attnviz compute --backend gpu` (EGL, no X)
# writes the same files as `--backend cpu` within the parity tolerances, and
# `attnviz bench --backend gpu` validates and times every kernel.
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset DISPLAY
passed=0 failed=0
run() {  # run NAME COMMAND...
  local name=$1
  shift
  if "$@" >"$work/out" 2>"$work/err"; then passed=$((passed + 1))
  else failed=$((failed + 1)); echo "FAIL: $name"; cat "$work/out" "$work/err" | tail -20; fi
}
for args in "--sample pronoun-toy" "--sample causal-lm-toy --temperature 0.3" "--sample cross-translation --heads 4" \
            "--sample temperature --score cosine --temperature 0.1" "--sample articles-1d"; do
  name=$(echo "$args" | tr -c 'a-z0-9' '_')
  run "compute cpu $args" "$bin" compute $args --backend cpu --out "$work/cpu_$name"
  run "compute gpu $args" "$bin" compute $args --backend gpu --out "$work/gpu_$name"
  run "gpu equals cpu $args" /usr/bin/python3 - "$work/cpu_$name" "$work/gpu_$name" <<'PY'
import json, sys, numpy as np
cpu, gpu = sys.argv[1], sys.argv[2]
for name, abs_tol, rel_tol in [("scores", 1e-4, 1e-5), ("scaled", 1e-4, 1e-5), ("masked", 1e-4, 1e-5),
                               ("weights", 1e-5, 0), ("output", 1e-5, 1e-4)]:
    a, b = np.load(f"{cpu}/{name}.npy"), np.load(f"{gpu}/{name}.npy")
    assert a.shape == b.shape, (name, a.shape, b.shape)
    assert (np.isneginf(a) == np.isneginf(b)).all(), f"{name}: masked cells differ"
    fin = np.isfinite(a)
    err = np.abs(a[fin] - b[fin]) - (abs_tol + rel_tol * np.abs(a[fin]))
    if err.size and err.max() > 0:
        idx = np.argwhere(fin)[err.argmax()]
        raise SystemExit(f"{name}: first worst difference at {tuple(idx)}: cpu {a[tuple(idx)]} gpu {b[tuple(idx)]}")
t = json.load(open(f"{gpu}/trace.json"))
assert t["backend"].startswith("GPU ("), t["backend"]
PY
done
run "bench gpu" "$bin" bench --backend gpu --n 64 --d 32 --heads 2 --repeat 1 --json
grep -q '"flash"' "$work/out" || { failed=$((failed + 1)); echo "FAIL: bench reports no flash kernel"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
