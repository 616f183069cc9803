#!/usr/bin/env bash
# End-to-end checks of `attnviz` on the command line. Usage: cli_test.sh PATH/TO/attnviz
set -uo pipefail
bin=$1
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

check() {  # check NAME COMMAND...: the command must succeed
  local name=$1; shift
  if "$@" >"$work/out" 2>"$work/err"; then passed=$((passed + 1))
  else failed=$((failed + 1)); echo "FAIL: $name"; cat "$work/out" "$work/err" | head -20; fi
}

# expect_error NAME CODE MESSAGE_SUBSTRING COMMAND...: exit code, one-line stderr containing MESSAGE
expect_error() {
  local name=$1 code=$2 message=$3; shift 3
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$work/err")
  if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -qF -- "$message" "$work/err"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name: exit $rc (want $code), $lines stderr line(s), want message containing: $message"
    cat "$work/err"
  fi
}

check "version" bash -c "'$bin' --version | grep -qE '^attnviz [0-9]+\.[0-9]+\.[0-9]+$'"
check "help" bash -c "'$bin' --help | grep -q 'attnviz compute'"
# The allocator settings main() starts itself again with (huge pages for traces); a user's own
# GLIBC_TUNABLES is left as it is.
check "allocator tuned" bash -c "env -u GLIBC_TUNABLES '$bin' bench --model attnviz-mini --n 16 --repeat 1 --json | grep -q '\"allocator_tunables\":\"glibc.malloc.hugetlb=1:'"
check "user's allocator settings kept" bash -c "GLIBC_TUNABLES=glibc.malloc.check=0 '$bin' bench --model attnviz-mini --n 16 --repeat 1 --json | grep -q '\"allocator_tunables\":\"glibc.malloc.check=0\"'"
for cmd in samples compute export bench; do
  check "$cmd --help" bash -c "'$bin' $cmd --help | grep -q 'usage: attnviz $cmd'"
done
check "samples lists nine or more" bash -c "[ \$('$bin' samples | wc -l) -ge 9 ]"
check "samples has the default" bash -c "'$bin' samples | grep -q '^pronoun	'"

# Every sample computes, and NumPy loads every file with the documented shapes.
for sample in $("$bin" samples | cut -f1); do
  check "compute $sample" "$bin" compute --sample "$sample" --out "$work/$sample"
  check "numpy reads $sample" "$py" - "$work/$sample" <<'PY'
import json, sys, numpy as np, os
d = sys.argv[1]
t = json.load(open(os.path.join(d, "trace.json")))
H, n, m, dv = t["shapes"]["heads"], t["shapes"]["n"], t["shapes"]["m"], t["shapes"]["d_v"]
tokens = t["input"]["mode"] == "tokens"
# One file per stage of the registry, named as `export --stage` names them (the app's
# File > Export numbers writes the same files).
stages = ["scores", "scaled", "masked", "minus_row_max", "exp", "row_sum", "weights", "output"]
assert t["stages"] == stages + (["projected"] if tokens else []), t["stages"]
assert sorted(f for f in os.listdir(d) if f.endswith(".npy")) == sorted(
    [s + ".npy" for s in t["stages"]] + ["q.npy", "k.npy", "v.npy"]), os.listdir(d)
for name in ["scores", "scaled", "masked", "minus_row_max", "exp", "weights"]:
    a = np.load(os.path.join(d, name + ".npy"))
    assert a.shape == (H, n, m) and a.dtype == np.float32, (name, a.shape)
masked, e = np.load(os.path.join(d, "masked.npy")), np.load(os.path.join(d, "exp.npy"))
allowed = np.isfinite(masked)
shifted = np.load(os.path.join(d, "minus_row_max.npy"))
rows = allowed.any(axis=2)
assert np.array_equal(np.isfinite(shifted), allowed)
assert np.allclose(shifted[allowed], (masked - np.where(rows, np.where(allowed, masked, -np.inf).max(axis=2), 0)[..., None])[allowed])
assert np.allclose(np.load(os.path.join(d, "row_sum.npy")), e.sum(axis=2), rtol=1e-5) and np.load(os.path.join(d, "row_sum.npy")).shape == (H, n)
dk = t["shapes"]["d_k"]
assert np.load(os.path.join(d, "q.npy")).shape == (H, n, dk // H)
assert np.load(os.path.join(d, "k.npy")).shape == (H, m, dk // H)
assert np.load(os.path.join(d, "v.npy")).shape == (H, m, dv // H)
o = t["options"]  # the factor stated once: base_scale ÷ temperature = effective_scale
assert abs(o["base_scale"] / o["temperature"] - o["effective_scale"]) <= 1e-6 * abs(o["effective_scale"])
w = np.load(os.path.join(d, "weights.npy"))
assert np.isfinite(w).all()
masked_rows = np.array(t["rows"][0]["fully_masked"])
sums = w.sum(axis=2)
assert np.allclose(sums[:, ~masked_rows], 1, atol=1e-5)
o = np.load(os.path.join(d, "output.npy"))
assert o.shape == (H, n, dv // H), o.shape
if t["input"]["mode"] == "tokens":
    tok = json.load(open(os.path.join(d, "tokens.json")))
    assert len(tok["queries"]) == n and len(tok["keys"]) == m
    p = np.load(os.path.join(d, "projected.npy"))
    assert p.shape == (n, t["shapes"]["d_out"]), p.shape
PY
done

# The articles' first example: the true weights, not the printed 1/3 (independent NumPy check).
check "articles-1d true values" "$py" - "$work/articles-1d" <<'PY'
import sys, numpy as np
d = sys.argv[1]
q = np.array([1., 2, 3])[:, None]; k = np.array([4., 5, 6])[:, None]; v = np.array([7., 8, 9])[:, None]
s = q @ k.T                     # d_k = 1: the scale is 1
w = np.exp(s - s.max(1, keepdims=True)); w /= w.sum(1, keepdims=True)
assert np.abs(np.load(d + "/weights.npy")[0] - w).max() < 1e-6
assert np.abs(np.load(d + "/output.npy")[0] - w @ v).max() < 1e-5
assert abs(w[0, 0] - 1/3) > 0.2
PY

# Matrix files in every format, with a causal mask, heads and temperature, against NumPy.
"$py" - "$work" <<'PY'
import sys, numpy as np, json
d = sys.argv[1]
rng = np.random.default_rng(0)
q = rng.uniform(-3, 3, (7, 8)).astype(np.float32)
k = rng.uniform(-3, 3, (9, 8)).astype(np.float32)
v = rng.uniform(-3, 3, (9, 4)).astype(np.float32)
np.save(d + "/q.npy", q)
np.savetxt(d + "/k.csv", k, delimiter=",", header="a,b,c,d,e,f,g,h", comments="")
json.dump(v.tolist(), open(d + "/v.json", "w"))
mask = rng.uniform(size=(7, 9)) > 0.3
mask[2] = False
np.savetxt(d + "/mask.tsv", mask.astype(int), delimiter="\t", fmt="%d")
PY
check "compute from files" "$bin" compute --q "$work/q.npy" --k "$work/k.csv" --v "$work/v.json" \
  --heads 2 --temperature 0.5 --mask "$work/mask.tsv" --out "$work/files"
check "files match numpy" "$py" - "$work" <<'PY'
import sys, numpy as np, json
d = sys.argv[1]
q = np.load(d + "/q.npy").astype(np.float64)
k = np.loadtxt(d + "/k.csv", delimiter=",", skiprows=1)
v = np.array(json.load(open(d + "/v.json")))
mask = np.loadtxt(d + "/mask.tsv", delimiter="\t").astype(bool)
w_got = np.load(d + "/files/weights.npy"); o_got = np.load(d + "/files/output.npy")
masked_got = np.load(d + "/files/masked.npy")
for h in range(2):
    qh, kh, vh = q[:, 4*h:4*h+4], k[:, 4*h:4*h+4], v[:, 2*h:2*h+2]
    s = qh @ kh.T / np.sqrt(4) / 0.5
    s = np.where(mask, s, -np.inf)
    mx = s.max(1, keepdims=True)
    e = np.where(mask, np.exp(s - np.where(np.isfinite(mx), mx, 0)), 0)
    tot = e.sum(1, keepdims=True)
    w = np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)
    assert np.abs(w_got[h] - w).max() < 1e-5, np.abs(w_got[h] - w).max()
    assert np.abs(o_got[h] - w @ vh).max() < 1e-4
    assert np.isneginf(masked_got[h][~mask]).all()
    assert (w_got[h][2] == 0).all() and (o_got[h][2] == 0).all()
t = json.load(open(d + "/files/trace.json"))
assert t["rows"][0]["fully_masked"][2] is True and t["rows"][0]["argmax"][2] == -1
PY
check "cross-attention tokens" "$bin" compute --tokens "le chat dort" --source "the cat is sleeping now" \
  --d-model 8 --heads 2 --seed 3 --out "$work/cross"
check "cross shapes" "$py" -c "import numpy as np; assert np.load('$work/cross/weights.npy').shape == (2, 3, 5)"

# Usage errors: exit 2 with a hint.
expect_error "no input" 2 "no input" "$bin" compute --out "$work/x"
expect_error "unknown option" 2 "unknown option --bogus (see attnviz compute --help)" "$bin" compute --sample pronoun --bogus --out "$work/x"
expect_error "missing --out" 2 "compute needs --out DIR" "$bin" compute --sample pronoun
expect_error "two inputs" 2 "give only one input" "$bin" compute --sample pronoun --tokens "a b" --out "$work/x"
expect_error "bad temperature" 2 "--temperature must be > 0" "$bin" compute --sample pronoun --temperature 0 --out "$work/x"
expect_error "unknown command" 2 "unknown command frobnicate" "$bin" frobnicate

# Input errors: exit 1, one line naming the file and the place.
printf '1,2\n3\n' >"$work/ragged.csv"
printf '1,2\n3,x\n' >"$work/text.csv"
: >"$work/empty.csv"
printf '\x93NUMPY\x01\x00' >"$work/trunc.npy"
expect_error "ragged rows" 1 "ragged.csv: line 2: 1 values, but line 1 has 2" \
  "$bin" compute --q "$work/ragged.csv" --k "$work/k.csv" --v "$work/v.json" --out "$work/x"
expect_error "non-numeric cell" 1 "text.csv: line 2, column 2: \"x\" is not a number" \
  "$bin" compute --q "$work/text.csv" --k "$work/k.csv" --v "$work/v.json" --out "$work/x"
expect_error "empty file" 1 "empty.csv: no numbers found" \
  "$bin" compute --q "$work/empty.csv" --k "$work/k.csv" --v "$work/v.json" --out "$work/x"
expect_error "truncated npy" 1 "trunc.npy: byte" \
  "$bin" compute --q "$work/trunc.npy" --k "$work/k.csv" --v "$work/v.json" --out "$work/x"
expect_error "missing file" 1 "nope.csv: cannot open (No such file or directory)" \
  "$bin" compute --q "$work/nope.csv" --k "$work/k.csv" --v "$work/v.json" --out "$work/x"
expect_error "shape mismatch" 1 "Q is 7×8 but K is 7×9: Q and K need the same number of columns (d_k)" \
  "$bin" compute --q "$work/q.npy" --k "$work/mask.tsv" --v "$work/v.json" --out "$work/x"
expect_error "heads do not divide" 1 "d_k = 8 does not divide into 3 heads" \
  "$bin" compute --q "$work/q.npy" --k "$work/k.csv" --v "$work/v.json" --heads 3 --out "$work/x"
expect_error "mask shape" 1 "the mask is 7×9 but attention is 9×9" \
  "$bin" compute --q "$work/k.csv" --k "$work/k.csv" --v "$work/v.json" --mask "$work/mask.tsv" --out "$work/x"
expect_error "unknown sample" 1 "unknown sample \"nope\"" "$bin" compute --sample nope --out "$work/x"
expect_error "invalid utf-8" 1 "invalid UTF-8 at byte 1" "$bin" compute --tokens $'a\xff' --out "$work/x"
expect_error "unwritable out" 1 "cannot create /proc/attnviz" "$bin" compute --sample pronoun --out /proc/attnviz

# Issue 14: help, enumerated values, opening the wrong thing, floats written as given.
for opt in --script --screenshot --frames --ignore-pointer --window-size; do
  check "--help lists $opt" bash -c "'$bin' --help | grep -qF -- '$opt'"
done
for cmd in samples compute export bench models tokenize; do
  check "help $cmd is $cmd --help" bash -c "cmp <('$bin' help $cmd) <('$bin' $cmd --help) && '$bin' help $cmd | grep -q 'usage: attnviz $cmd'"
done
expect_error "help unknown" 2 "attnviz help: unknown command nope" "$bin" help nope
expect_error "unknown score" 2 '--score: unknown value "softmax" (expected scaled, dot or cosine)' \
  "$bin" compute --sample pronoun --score softmax --out "$work/x"
expect_error "unknown backend" 2 '--backend: unknown value "tpu" (expected cpu or gpu)' \
  "$bin" compute --sample pronoun --backend tpu --out "$work/x"
expect_error "unknown mask" 2 '--mask: unknown value "triangular" (expected none, causal or causal-top-left, or a mask file' \
  "$bin" compute --sample pronoun --mask triangular --out "$work/x"
expect_error "unknown tokenizer" 2 '--tokenizer: unknown value "bpe" (expected words or chars)' \
  "$bin" compute --tokens "a b" --tokenizer bpe --out "$work/x"
expect_error "unknown positional" 2 '--positional: unknown value "maybe" (expected on or off)' \
  "$bin" compute --tokens "a b" --positional maybe --out "$work/x"
expect_error "mask file still a file" 1 "nope.csv: cannot open" \
  "$bin" compute --sample pronoun --mask "$work/nope.csv" --out "$work/x"
check "compute for trace.json" "$bin" compute --sample pronoun --temperature 0.1 --scale 0.3 --out "$work/t01"
expect_error "open trace.json" 1 "trace.json: this is the trace.json that \`attnviz compute\` writes" \
  env -u DISPLAY "$bin" "$work/t01/trace.json"
expect_error "open tokens.json" 1 "tokens.json: this is the tokens.json" env -u DISPLAY "$bin" "$work/t01/tokens.json"
expect_error "open missing file" 1 "nosuchfile.json: no such file" env -u DISPLAY "$bin" nosuchfile.json
expect_error "mistyped command" 2 "unknown command comptue" "$bin" comptue
check "trace.json writes the temperature given" "$py" -c "
import json; o = json.load(open('$work/t01/trace.json'))['options']
text = open('$work/t01/trace.json').read()
assert o['temperature'] == 0.1 and '0.10000000149011612' not in text, o
assert o['scale'] == 0.3 and o['base_scale'] == 0.3, o"
expect_error "temperature below float" 2 "--temperature 1e-50 is below float32's smallest positive value" \
  "$bin" compute --sample pronoun --temperature 1e-50 --out "$work/x"
expect_error "scale beyond float" 2 "--scale 1e39 is beyond float32's range" \
  "$bin" compute --sample pronoun --scale 1e39 --out "$work/x"

# Extreme values give the limits, never NaN (issue 14's three cases, on the CPU).
printf '1e20\n' >"$work/big.csv"
printf '1e20\n3\n' >"$work/big3.csv"
check "Q=K=V=[[1e20]] dot" "$bin" compute --q "$work/big.csv" --k "$work/big.csv" --v "$work/big.csv" --score dot --out "$work/big"
check "Q=K=V=[[1e20],[3]] dot" "$bin" compute --q "$work/big3.csv" --k "$work/big3.csv" --v "$work/big3.csv" --score dot --out "$work/big3"
check "pronoun at T=1e-40" "$bin" compute --sample pronoun --temperature 1e-40 --out "$work/cold"
check "pronoun at T=1" "$bin" compute --sample pronoun --out "$work/warm"
check "extreme values are the limits" "$py" - "$work" <<'PY'
import json, sys, numpy as np
w = sys.argv[1]
for d, weights, output in (("big", [[1.0]], [[1e20]]), ("big3", [[1.0, 0.0], [1.0, 0.0]], [[1e20], [1e20]])):
    a, o = np.load(f"{w}/{d}/weights.npy")[0], np.load(f"{w}/{d}/output.npy")[0]
    assert (a == np.float32(weights)).all(), (d, a)
    assert (o == np.float32(output)).all(), (d, o)
    for stage in ("minus_row_max", "exp", "row_sum", "weights", "output"):
        assert not np.isnan(np.load(f"{w}/{d}/{stage}.npy")).any(), (d, stage)
# T -> 0: one-hot on each row's largest score (the sample's rows have no ties), every head.
# (At T = 1e-40 the scaled scores are beyond float's range, ±inf; the mask is read at T = 1.)
a, s = np.load(f"{w}/cold/weights.npy"), np.load(f"{w}/cold/scores.npy")
allowed = np.isfinite(np.load(f"{w}/warm/masked.npy"))
assert np.isfinite(a).all() and np.isfinite(np.load(f"{w}/cold/output.npy")).all()
assert (np.abs(a.sum(-1) - 1) <= 1e-6).all()
top = np.where(allowed, s, -np.inf)
assert ((a == 1) == (top == top.max(-1, keepdims=True))).all()
assert (a[a != 1] == 0).all()
t = json.load(open(f"{w}/cold/trace.json"))["options"]
assert t["temperature"] == 1e-40 and t["effective_scale"] > 1e38, t
PY

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
