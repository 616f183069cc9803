#!/usr/bin/python3
"""The app's Llama view (issue 16) in the real app, checked against `attnviz compute --model`
and NumPy on random tiny checkpoints from tests/model/make_llama_checkpoint.py:
  1. A Llama folder with grouped-query attention (4 query heads, 2 K/V heads): the app reports
     the K/V head of every query head as compute does; the RoPE step exists, and a hovered
     cell's pair, position, θ and values (Q, then K) are q_unrotated.npy / k_unrotated.npy turned
     by θ = i · θ_base^(−2c/d_head) (computed here from config.json), equal to q.npy / k.npy,
     within 1e-5; the step's own derivation lines carry the same numbers.
  2. "What if RoPE were off": the weights the app exports change, equal NumPy's softmax of the
     unrotated Q·Kᵀ/√d_head (causal) within 1e-5, and untoggling gives compute's weights back
     within 1e-6.
  3. A Mistral folder whose sliding window (3) is shorter than the text: the app's weights are
     compute's (within 1e-6, zero outside the window), the mask step's trace mask is the
     model's own, and a cell outside the window is explained as such.
  4. The RoPE step is refused for a GPT-2 layout (no rotation), with a one-line message.
usage: llama_mode_test.py ATTNVIZ   (under xvfb-run; ctest runs it so)"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

from guitest import check, finish, load, write_script

APP = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAKE = os.path.join(ROOT, "tests", "model", "make_llama_checkpoint.py")
TEXT = "the cat sat on the mat and the dog ran"
work = tempfile.mkdtemp(prefix="attnviz_llama_mode_")
print("work directory:", work, flush=True)


def make(name, *args):
    folder = os.path.join(work, name)
    p = subprocess.run([sys.executable, MAKE, folder] + list(args), capture_output=True, text=True, timeout=120)
    if not check(p.returncode == 0, "make_llama_checkpoint %s (%s)" % (name, p.stderr.strip()[-300:])):
        finish("llama mode")
    return folder


def compute(folder, name):
    out = os.path.join(work, "compute_" + name)
    p = subprocess.run([APP, "compute", "--model", folder, "--text", TEXT, "--layer", "all", "--out", out],
                       capture_output=True, text=True, timeout=120)
    if not check(p.returncode == 0, "compute --model %s (%s)" % (name, p.stderr.strip()[-300:])):
        finish("llama mode")
    return out


def run(lines, name, expect_rc=0):
    script = write_script(os.path.join(work, name + ".txt"), lines + ["quit"])
    p = subprocess.run([APP, "--no-recovery", "--ignore-pointer", "--script", script],
                       capture_output=True, text=True, timeout=180)
    check(p.returncode == expect_rc, "%s: the app exits %d (got %d; stderr: %s)"
          % (name, expect_rc, p.returncode, p.stderr.strip()[-400:]))
    return p


def dump(name):
    return os.path.join(work, name + ".json")


def numbers(name):
    return os.path.join(work, "numbers_" + name)


# ---- 1. Llama with GQA 2: the RoPE step ----------------------------------------------------------
llama = make("llama", "--model-type", "llama", "--heads", "4", "--kv-heads", "2", "--seed", "5")
config = load(os.path.join(llama, "config.json"))
ref = compute(llama, "llama")
LAYER, HEAD, ROW, COL = 1, 3, 6, 1
lines = ["model " + llama, "set text " + TEXT, "layer %d" % LAYER, "head %d" % HEAD, "wait-frames 3",
         "goto rope", "hover %d %d" % (ROW, COL), "wait-frames 3", "dump-state " + dump("rope_q"),
         "set rope k", "wait-frames 2", "dump-state " + dump("rope_k"),
         "set rope q_unrotated", "wait-frames 2", "dump-state " + dump("rope_qu"),
         "goto weights", "wait-frames 3", "export-numbers " + numbers("real"),
         "set rope-off true", "wait-frames 3", "dump-state " + dump("off"), "export-numbers " + numbers("off"),
         "set rope-off false", "wait-frames 3", "export-numbers " + numbers("restored")]
run(lines, "llama")

q_rot = np.load(os.path.join(ref, "layer%d" % LAYER, "q.npy"))  # [H, n, d_head]
k_rot = np.load(os.path.join(ref, "layer%d" % LAYER, "k.npy"))
q_un = np.load(os.path.join(ref, "layer%d" % LAYER, "q_unrotated.npy"))
k_un = np.load(os.path.join(ref, "layer%d" % LAYER, "k_unrotated.npy"))
H, n, dh = q_rot.shape
half = dh // 2
inv = float(config["rope_theta"]) ** (-2.0 * np.arange(half) / dh)  # no rope_scaling in these folders

s = load(dump("rope_q"))
check(s["stage"] == "rope", "goto rope reaches the RoPE step (at %s; error %r)" % (s["stage"], s["error"]))
check("rope" in s["steps"] and s["steps"].index("rope") == s["steps"].index("v") + 1
      and s["steps"].index("rope") + 1 == s["steps"].index("scores"),
      "the strip has rope between v and scores: %s" % s["steps"])
check(s.get("kv_heads") == 2 and s.get("kv_head_of") == [0, 0, 1, 1],
      "the app's K/V head of each query head is [0, 0, 1, 1] with 2 K/V heads (got %s, %s)"
      % (s.get("kv_heads"), s.get("kv_head_of")))


def check_pair(state, key, what):
    r = state.get("rope_pair")
    if not check(r is not None, "%s: the dump has the hovered pair" % what):
        return
    c = COL % half
    before = (k_un if key else q_un)[HEAD, ROW, [c, c + half]]
    after = (k_rot if key else q_rot)[HEAD, ROW, [c, c + half]]
    theta = ROW * inv[c]
    turned = np.array([before[0] * math.cos(theta) - before[1] * math.sin(theta),
                       before[1] * math.cos(theta) + before[0] * math.sin(theta)])
    check(r["key"] == key and r["head"] == HEAD and r["kv_head"] == HEAD // 2 and r["position"] == ROW
          and r["pair"] == [c, c + half],
          "%s: head %d (K/V head %d), position %d, pair (%d, %d) (got %s)" % (what, HEAD, HEAD // 2, ROW, c, c + half, r))
    check(abs(r["inv_freq"] - inv[c]) < 1e-6 * inv[c] + 1e-12 and abs(r["theta"] - theta) < 1e-5,
          "%s: ω_c %.6g and θ %.6f are θ_base^(−2c/d_head) and i·ω_c (got %.6g, %.6f)"
          % (what, inv[c], theta, r["inv_freq"], r["theta"]))
    check(np.allclose(r["before"], before, atol=1e-6), "%s: before = the unrotated file's pair %s (got %s)"
          % (what, before, r["before"]))
    check(np.allclose(r["after"], turned, atol=1e-5) and np.allclose(turned, after, atol=1e-5),
          "%s: after = the 2×2 rotation of before by θ = compute's rotated pair %s (got %s, NumPy %s)"
          % (what, after, r["after"], turned))
    shown = after[0] if COL < half else after[1]
    check(r["rotated_shown"] and abs(r["shown"] - shown) < 1e-6, "%s: the cell shows %.6f (got %.6f)"
          % (what, shown, r["shown"]))
    text = "\n".join(state.get("hover_derivation", []))
    check("θ = i · ω_%d = %d · " % (c, ROW) in text and "pair (%d, %d)" % (c, c + half) in text
          and ("%.3f" % shown).replace("-", "−") in text,
          "%s: the derivation names the pair, θ and the value %.3f:\n%s" % (what, shown, text))


check_pair(s, False, "RoPE step, Q")
check_pair(load(dump("rope_k")), True, "RoPE step, K")
qu = load(dump("rope_qu"))
check(qu["rope_shown"] == "q_unrotated" and abs(qu["rope_pair"]["shown"] - q_un[HEAD, ROW, COL]) < 1e-6
      and not qu["rope_pair"]["rotated_shown"],
      "unrotated Q shows q_unrotated.npy's value %.6f (got %s)" % (q_un[HEAD, ROW, COL], qu.get("rope_pair")))

# ---- 2. what if RoPE were off ----------------------------------------------------------------------
want = np.load(os.path.join(ref, "layer%d" % LAYER, "weights.npy"))
real = np.load(os.path.join(numbers("real"), "weights.npy"))
off = np.load(os.path.join(numbers("off"), "weights.npy"))
restored = np.load(os.path.join(numbers("restored"), "weights.npy"))
check(np.abs(real - want).max() < 1e-6, "real weights = compute's within 1e-6 (max diff %.2g)" % np.abs(real - want).max())
scores = np.einsum("hic,hjc->hij", q_un.astype(np.float64), k_un.astype(np.float64)) / math.sqrt(dh)
scores = np.where(np.tril(np.ones((n, n), bool)), scores, -np.inf)
whatif = np.exp(scores - scores.max(-1, keepdims=True))
whatif /= whatif.sum(-1, keepdims=True)
check(np.abs(off - whatif).max() < 1e-5,
      "RoPE off: weights = NumPy's softmax(unrotated QKᵀ/√d_head) within 1e-5 (max diff %.2g)" % np.abs(off - whatif).max())
check(np.abs(off - want).max() > 1e-3, "RoPE off changes the weights (max change %.3g)" % np.abs(off - want).max())
check(np.abs(restored - want).max() < 1e-6, "RoPE back on: compute's weights again (max diff %.2g)"
      % np.abs(restored - want).max())
o = load(dump("off"))
check(o["rope_off"] and "RoPE off" in o["message"], "the what-if is reported: %r" % o["message"])

# ---- 3. Mistral with a sliding window of 3 -----------------------------------------------------------
WINDOW = 3
mistral = make("mistral", "--model-type", "mistral", "--heads", "4", "--kv-heads", "1", "--seed", "9",
               "--sliding-window", str(WINDOW))
mref = compute(mistral, "mistral")
run(["model " + mistral, "set text " + TEXT, "layer 0", "head 0", "wait-frames 3", "goto weights",
     "export-numbers " + numbers("mistral"), "goto masked", "hover 6 1", "wait-frames 3", "dump-state " + dump("mask_out"),
     "hover 6 5", "wait-frames 2", "dump-state " + dump("mask_in"), "goto rope", "wait-frames 2",
     "dump-state " + dump("mistral_rope")], "mistral")
mw = np.load(os.path.join(mref, "layer0", "weights.npy"))
aw = np.load(os.path.join(numbers("mistral"), "weights.npy"))
nm = mw.shape[1]
check(nm > WINDOW, "the text (%d tokens) is longer than the window %d" % (nm, WINDOW))
check(aw.shape == mw.shape and np.abs(aw - mw).max() < 1e-6,
      "sliding window: the app's weights = compute's within 1e-6 (max diff %.2g)" % np.abs(aw - mw).max())
outside = np.array([[j <= i - WINDOW for j in range(nm)] for i in range(nm)])
check(np.all(aw[:, outside] == 0), "no weight outside the window of %d" % WINDOW)
mo = load(dump("mask_out"))
check(mo["trace_mask"] == "custom" and mo.get("sliding_window") == WINDOW,
      "the mask step runs the model's own mask (trace mask %s, window %s)" % (mo["trace_mask"], mo.get("sliding_window")))
check(any("outside the sliding window of %d tokens" % WINDOW in l for l in mo.get("hover_derivation", [])),
      "cell (6, 1) is explained as outside the window: %s" % mo.get("hover_derivation"))
mi = load(dump("mask_in"))
check(any(l.startswith("allowed") for l in mi.get("hover_derivation", [])) and
      any("within the sliding window" in l for l in mi.get("hover_derivation", [])),
      "cell (6, 5) is allowed, within the window: %s" % mi.get("hover_derivation"))
check(load(dump("mistral_rope"))["stage"] == "rope" and load(dump("mistral_rope")).get("kv_head_of") == [0, 0, 0, 0],
      "Mistral with one K/V head: every query head reads kv0, and the RoPE step exists")

# ---- 4. no RoPE step without a rotation (GPT-2) --------------------------------------------------------
p = subprocess.run([APP, "export", "--model", llama, "--text", TEXT, "--stage", "rope", "--png",
                    os.path.join(work, "rope.png")], capture_output=True, text=True, timeout=120)
check(p.returncode == 0 and os.path.getsize(os.path.join(work, "rope.png")) > 0,
      "attnviz export --stage rope of the Llama folder (rc %d: %s)" % (p.returncode, p.stderr.strip()[-200:]))
p = subprocess.run([APP, "export", "--sample", "pronoun", "--stage", "rope", "--png", os.path.join(work, "x.png")],
                   capture_output=True, text=True, timeout=120)
lines_out = [l for l in p.stderr.strip().splitlines() if l]
check(p.returncode != 0 and len(lines_out) == 1 and "rotary" in lines_out[0],
      "export --stage rope of GPT-2 is refused in one line naming the rotation (rc %d: %r)" % (p.returncode, p.stderr))

finish("llama mode")
