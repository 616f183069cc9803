#!/usr/bin/env bash
# --mask causal-top-left against PyTorch 1.13's scaled_dot_product_attention(is_causal=True)
# (Debian's python3-torch), for n < m, n > m and n = m, two heads, on each backend named.
# Usage: causal_torch_test.sh PATH/TO/attnviz cpu [gpu]
set -uo pipefail
bin=$1; shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0 passed=0
for backend in "$@"; do
  for shape in "3 7" "7 3" "5 5"; do
    read -r n m <<<"$shape"
    dir="$work/$backend-$n-$m"
    mkdir -p "$dir"
    /usr/bin/python3 - "$dir" "$n" "$m" <<'PY'
import sys, numpy as np
d, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(n * 100 + m)
for name, rows, width in (("q", n, 4), ("k", m, 4), ("v", m, 3)):
    np.save(f"{d}/{name}.npy", rng.uniform(-2, 2, (2, rows, width)).astype(np.float32))
PY
    if ! "$bin" compute --q "$dir/q.npy" --k "$dir/k.npy" --v "$dir/v.npy" --mask causal-top-left \
         --backend "$backend" --out "$dir/out" 2>"$dir/err"; then
      echo "FAIL: compute $backend $n×$m: $(cat "$dir/err")"; failed=$((failed + 1)); continue
    fi
    if /usr/bin/python3 - "$dir" <<'PY'
import json, sys, numpy as np, torch
d = sys.argv[1]
q, k, v = (torch.from_numpy(np.load(f"{d}/{x}.npy")).double()[None] for x in "qkv")  # [1, H, rows, d]
out, weights = torch.nn.functional._scaled_dot_product_attention(q, k, v, None, 0.0, True, True)
ours_w = np.load(f"{d}/out/weights.npy").astype(np.float64)
ours_o = np.load(f"{d}/out/output.npy").astype(np.float64)
ref_w, ref_o = weights[0].numpy(), out[0].numpy()
# The mask must be the same cell for cell: zero exactly where torch's weights are zero.
assert ((ours_w == 0) == (ref_w == 0)).all(), ("masks differ", ours_w == 0, ref_w == 0)
assert np.abs(ours_w - ref_w).max() <= 1e-6, np.abs(ours_w - ref_w).max()   # float32 vs float64
assert np.abs(ours_o - ref_o).max() <= 1e-5, np.abs(ours_o - ref_o).max()
assert json.load(open(f"{d}/out/trace.json"))["options"]["mask"] == "causal-top-left"
PY
    then passed=$((passed + 1)); else echo "FAIL: torch comparison $backend $n×$m"; failed=$((failed + 1)); fi
  done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
