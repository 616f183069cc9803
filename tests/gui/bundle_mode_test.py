#!/usr/bin/python3
"""Attention bundles (issue 15) in the real app, against NumPy references computed here:
  1. `attnviz QKV.npz` (q, k, v given, causal): the token labels are the bundle's, every
     attention stage is in the strip, layer 1 head 1's weights (dump and pixels) are NumPy's
     softmax(q kᵀ/√d) within 1e-5, and the recomputed-vs-given difference is reported below 1e-5.
  2. `attnviz W.safetensors` (weights only): the strip holds the weights step alone, every layer
     and head is reachable, the weights shown are the file's (dump within 1e-6, pixels), the
     layers × heads overview is drawn; a broken bundle (5-D attention) and one whose rows do
     not sum to 1 leave it in place with a one-line message; --allow-unnormalised opens the latter.
  3. A bundle session saved in 1 and reopened in a new run: same bundle, layer, head and step.
  4. A session naming a bundle that no longer exists is refused in one line naming the path,
     and the previous document stays.
  5. Given weights that disagree with the recomputed ones (another scale) are flagged with the
     largest difference and where; `]` (a real key press) and a real click on the overview
     thumbnail of layer 0 head 1 change the layer and head.
usage: bundle_mode_test.py ATTNVIZ   (under xvfb-run; ctest runs it so)"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from guitest import app_window, centre, check, check_pixels, click, finish, load, touch, wait_for_json, write_script

APP = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from attnviz_bundle import save_bundle  # noqa: E402

work = tempfile.mkdtemp(prefix="attnviz_bundle_mode_")
print("work directory:", work, flush=True)
ATTENTION_STEPS = ["scores", "scaled", "masked", "minus_row_max", "exp", "row_sum", "weights", "output"]


# ---- helpers -----------------------------------------------------------------------------------

def run(lines, name, args=(), expect_rc=0):
    script = write_script(os.path.join(work, name + ".txt"), lines + ["quit"])
    p = subprocess.run([APP, *args, "--no-recovery", "--script", script, "--ignore-pointer"],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == expect_rc, "%s: the app exits %d (got %d; stderr: %s)"
          % (name, expect_rc, p.returncode, p.stderr.strip()[-400:]))
    return p


def softmax_weights(q, k, scale, causal):
    s = (q.astype(np.float64) @ np.swapaxes(k.astype(np.float64), -1, -2)) * scale
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def max_diff(got, want):
    return float(np.abs(np.array(got, np.float64) - want).max())


def one_line(message, needle):
    return needle in message and "\n" not in message


# ---- the bundles -------------------------------------------------------------------------------

rng = np.random.default_rng(15)
TOKENS = ["the", "cat", "sat", "on", "the", "mat"]
L, H, N, D = 2, 2, len(TOKENS), 4
q = rng.standard_normal((L, H, N, D)).astype(np.float32)
k = rng.standard_normal((L, H, N, D)).astype(np.float32)
v = rng.standard_normal((L, H, N, 3)).astype(np.float32)
qkv_ref = softmax_weights(q, k, 1 / np.sqrt(D), causal=True)
qkv = os.path.join(work, "qkv.npz")
save_bundle(qkv, TOKENS, qkv_ref, q=q, k=k, v=v, metadata={"model": "bundle_mode_test"})
# The same q, k with weights from another scale: what a model that scales differently gives.
offset = os.path.join(work, "offset.npz")
save_bundle(offset, TOKENS, softmax_weights(q, k, 1.0, causal=True), q=q, k=k, v=v)

W_TOKENS = ["A", "long", "way", "ahead", "!"]
raw = 1.0 + (np.arange(3)[:, None, None, None] * 7 + np.arange(2)[None, :, None, None] * 5 +
             np.arange(5)[None, None, :, None] * 3 + np.arange(5)[None, None, None, :]) % 11
given = (raw / raw.sum(-1, keepdims=True)).astype(np.float32)  # [3, 2, 5, 5], not causal
weights_only = os.path.join(work, "weights.safetensors")
save_bundle(weights_only, W_TOKENS, given)

bad = os.path.join(work, "bad.npz")
np.savez(bad, attention=given[None], tokens=np.array(W_TOKENS))  # a batch axis left in: 5-D
unnormalised = os.path.join(work, "row_sum.npz")
skewed = given.copy()
skewed[1, 0, 2] *= 1.5
np.savez(unnormalised, attention=skewed, tokens=np.array(W_TOKENS))

# ---- 1. q, k, v given -----------------------------------------------------------------------

print("== q, k, v", flush=True)
d = {name: os.path.join(work, "qkv_%s.json" % name) for name in ("first", "layer1")}
shot = os.path.join(work, "qkv_l1_h1.png")
session = os.path.join(work, "sessions", "qkv_session.json")
os.makedirs(os.path.dirname(session))
run(["wait-frames 3", "dump-state " + d["first"], "layer 1", "head 1", "goto weights", "wait-frames 3",
     "dump-state " + d["layer1"], "screenshot " + shot, "save " + session], "qkv", args=[qkv])
s = load(d["first"])
check(s["bundle"] == os.path.abspath(qkv) and s["layers"] == L and s["layer"] == 0,
      "qkv.npz opens as a bundle of %d layers at layer 0 (bundle %r, layers %s, layer %s)"
      % (L, s["bundle"], s["layers"], s["layer"]))
check(s["query_tokens"] == TOKENS and s["key_tokens"] == TOKENS,
      "the axes carry the bundle's tokens (got %s)" % s["query_tokens"])
check(s["steps"] == ATTENTION_STEPS, "with q, k, v every attention stage is in the strip (got %s)" % s["steps"])
check(s["stage"] == "scores", "a bundle with q, k opens at the scores (got %s)" % s["stage"])
check(0 <= s["given_max_diff"] < 1e-5,
      "recomputed vs given weights, layer 0: max |difference| %.3g < 1e-5" % s["given_max_diff"])
check(s["error"] == "" and "Opened" in s["message"] and "2 layers × 2 heads" in s["message"],
      "the status bar says what was opened (%r)" % s["message"])
s = load(d["layer1"])
check(s["layer"] == 1 and s["head"] == 1 and s["stage"] == "weights",
      "`layer 1`, `head 1`, `goto weights` (got layer %s head %s %s)" % (s["layer"], s["head"], s["stage"]))
diff = max_diff(s["weights"], qkv_ref[1, 1])
check(diff < 1e-5, "layer 1 head 1: the app's weights are NumPy's softmax(q kᵀ/2), causal, within 1e-5 (%.2g)" % diff)
check(0 <= s["given_max_diff"] < 1e-5, "layer 1 compared with the given weights too (%.3g)" % s["given_max_diff"])
want = qkv_ref[1, 1].copy()
want[np.triu(np.ones((N, N), bool), 1)] = np.nan
check_pixels(shot, want, "qkv layer 1 head 1 weights")

# ---- 3. the session saved above, reopened ----------------------------------------------------

print("== session", flush=True)
text = open(session).read()
check('"mode": "bundle"' in text and '"version": 2' in text and '"layer": 1' in text,
      "the saved session is version 2, mode bundle, view.layer 1")
reopened = os.path.join(work, "reopened.json")
run(["wait-frames 3", "dump-state " + reopened], "reopen", args=[session])
s = load(reopened)
check(s["bundle"] == os.path.abspath(qkv) and s["layer"] == 1 and s["head"] == 1 and s["stage"] == "weights",
      "reopened: the bundle at layer 1, head 1, weights (got %r, layer %s, head %s, %s)"
      % (s["bundle"], s["layer"], s["head"], s["stage"]))
check(s["query_tokens"] == TOKENS and max_diff(s["weights"], qkv_ref[1, 1]) < 1e-5,
      "reopened: the same tokens and weights")

# ---- 2. weights only; broken bundles leave it in place -----------------------------------------

print("== weights only", flush=True)
d = {name: os.path.join(work, "w_%s.json" % name) for name in ("first", "last", "bad", "rows", "allowed")}
shot = os.path.join(work, "w_l2_h1.png")
run(["wait-frames 3", "dump-state " + d["first"], "layer 2", "head 1", "hover 1 2", "wait-frames 3",
     "unhover", "next", "goto output", "goto scores", "wait-frames 2", "dump-state " + d["last"], "screenshot " + shot,
     "open-bundle " + bad, "wait-frames 2", "dump-state " + d["bad"],
     "open-bundle " + unnormalised, "wait-frames 2", "dump-state " + d["rows"],
     "open-bundle --allow-unnormalised " + unnormalised, "wait-frames 3", "dump-state " + d["allowed"]],
    "weights", args=[weights_only], expect_rc=1)  # the refused bundles fail the script
s = load(d["first"])
check(s["bundle"] == os.path.abspath(weights_only) and s["layers"] == 3,
      "weights.safetensors (no config.json beside it) opens as a bundle of 3 layers (got %r, %s)"
      % (s["bundle"], s["layers"]))
check(s["steps"] == ["weights"] and s["stage"] == "weights" and s["trace_stages"] == ["weights"],
      "weights only: the strip and the trace hold the weights step alone (steps %s, trace %s)"
      % (s["steps"], s["trace_stages"]))
check(s["query_tokens"] == W_TOKENS and s["given_max_diff"] < 0 and s["error"] == "",
      "weights only: the bundle's tokens, nothing to compare, no error (%r)" % s["error"])
check(max_diff(s["weights"], given[0, 0]) < 1e-6, "layer 0 head 0: the file's weights")
check("overview_2_1" in s["widgets"] and "layer_slider" in s["widgets"],
      "the layers × heads overview (every layer and head) and the layer slider are drawn")
s = load(d["last"])
check(s["layer"] == 2 and s["head"] == 1 and s["stage"] == "weights",
      "layer 2 head 1; next, goto output and goto scores stay on the only step (got layer %s head %s %s)"
      % (s["layer"], s["head"], s["stage"]))
check(max_diff(s["weights"], given[2, 1]) < 1e-6, "layer 2 head 1: the weights shown are the file's, within 1e-6")
check_pixels(shot, given[2, 1].astype(np.float64), "weights-only layer 2 head 1")
for name, path, needle in (("bad", bad, "batch"), ("rows", unnormalised, "allow-unnormalised")):
    s = load(d[name])
    check(s["bundle"] == os.path.abspath(weights_only) and s["layer"] == 2 and max_diff(s["weights"], given[2, 1]) < 1e-6,
          "%s: the previous bundle stays, at layer 2 (bundle %r)" % (os.path.basename(path), s["bundle"]))
    check(one_line(s["message"], os.path.basename(path)) and needle in s["message"],
          "%s: a one-line message naming the file and %r (%r)" % (os.path.basename(path), needle, s["message"]))
s = load(d["allowed"])
check(s["bundle"] == os.path.abspath(unnormalised) and s["layers"] == 3,
      "open-bundle --allow-unnormalised opens the rows as given (bundle %r)" % s["bundle"])

# ---- 4. a session whose bundle is gone ---------------------------------------------------------

print("== missing bundle", flush=True)
gone = os.path.join(work, "gone.json")
with open(gone, "w") as f:
    f.write(text.replace(os.path.abspath(qkv), os.path.join(work, "moved_away.npz")))
after = os.path.join(work, "gone_after.json")
run(["open-bundle " + weights_only, "wait-frames 2", "open " + gone, "wait-frames 2", "dump-state " + after],
    "gone", expect_rc=1)
s = load(after)
check(s["bundle"] == os.path.abspath(weights_only) and s["steps"] == ["weights"],
      "a session naming a missing bundle leaves the previous bundle open (got %r)" % s["bundle"])
check(one_line(s["message"], "moved_away.npz") and "does not exist" in s["message"],
      "the status bar names the missing bundle in one line (%r)" % s["message"])

# ---- 5. given weights that disagree; the ] key and a click on the overview ---------------------

print("== mismatch, keys, click", flush=True)
dumps = {name: os.path.join(work, "x_%s.json" % name) for name in ("first", "key", "click")}
go = {name: os.path.join(work, "go_" + name) for name in dumps}
lines = ["wait-frames 5", "dump-state " + dumps["first"]]
for name in ("key", "click"):
    lines += ["wait-for-file " + go[name], "wait-frames 3", "dump-state " + dumps[name]]
script = write_script(os.path.join(work, "xdotool.txt"), lines + ["quit"])
proc = subprocess.Popen([APP, offset, "--no-recovery", "--script", script],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    s = wait_for_json(dumps["first"])
    window = app_window()
    check(s["given_max_diff"] > 1e-4 and "bundle_warning" in s["widgets"],
          "weights from another scale: max |recomputed − given| %.3g > 1e-4, and the warning is drawn"
          % s["given_max_diff"])
    want = float(np.abs(softmax_weights(q[0], k[0], 0.5, True) - softmax_weights(q[0], k[0], 1.0, True)).max())
    check(abs(s["given_max_diff"] - want) < 1e-5,
          "the difference reported is NumPy's for layer 0 (%.6f, NumPy %.6f)" % (s["given_max_diff"], want))
    subprocess.run(["xdotool", "mousemove", "--window", window, "5", "5"], check=True)
    subprocess.run(["xdotool", "keydown", "bracketright"], check=True)
    time.sleep(0.15)
    subprocess.run(["xdotool", "keyup", "bracketright"], check=True)
    time.sleep(0.3)
    touch(go["key"])
    s = wait_for_json(dumps["key"])
    check(s["layer"] == 1, "the ] key shows the next layer (got layer %s)" % s["layer"])
    click(window, *centre(s["widgets"]["overview_0_1"]))
    touch(go["click"])
    s = wait_for_json(dumps["click"])
    check(s["layer"] == 0 and s["head"] == 1, "a click on the overview's L0 H1 shows layer 0, head 1 (got %s, %s)"
          % (s["layer"], s["head"]))
    out, _ = proc.communicate(timeout=60)
    check(proc.returncode == 0, "xdotool run: the app exits 0 (%s)" % out.decode(errors="replace").strip()[-300:])
finally:
    if proc.poll() is None:
        proc.kill()

finish("bundle mode")
