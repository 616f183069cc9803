#!/usr/bin/python3
"""Model mode (issue 13) in the real app, checked against `attnviz compute --model`:
  1. `model attnviz-mini`, then a sentence typed into the tokens box with xdotool: the app's
     token ids are compute's ids for that text.
  2. At the weights step, layer 1, every head: the heatmap's pixels are the colour map of
     compute's layer1/weights.npy[h] (within one LUT entry), masked cells hatched.
  3. A real click on the overview thumbnail of layer 1, head 2 selects that layer and head.
  4. The `]` and `[` keys change the layer, `,` and `.` the head.
  5. A model-mode session saved and reopened in a new run: same model, text, layer, head, step
     (a version 2 file with "mode": "model" and the step by name).
  6. `model /nonexistent/folder` and a model folder with a broken config.json leave the previous
     model loaded, with the error in the status message, and the app goes on running.
  7. A GPT-2-layout folder from tests/model/make_checkpoint.py opens with `model DIR` and its
     layer-0 weights on screen match compute --model on it.
  8. Every model step (embedding at layer 0, resid_pre after it, ln_1, q, k, v, resid_mid): the
     hover derivation's numbers add up to its result, and that result is compute's number.
Nothing here hard-codes the built-in model's numbers: the model may be retrained.
usage: model_mode_test.py ATTNVIZ   (under xvfb-run; ctest runs it so)"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from guitest import app_window, centre, check, check_pixels, click, finish, load, touch, wait_for_json, write_script

APP = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = "attnviz-mini"
TYPED = "the cat sat on the mat and the cat ran away"
TEXT = "Anna gave the red ball to Tom. Later Anna gave the red ball to Tom again."
work = tempfile.mkdtemp(prefix="attnviz_model_mode_")
print("work directory:", work, flush=True)


# ---- helpers -----------------------------------------------------------------------------------

def compute(model, text, name):
    out = os.path.join(work, "compute_" + name)
    p = subprocess.run([APP, "compute", "--model", model, "--text", text, "--layer", "all", "--out", out],
                       capture_output=True, text=True, timeout=120)
    if not check(p.returncode == 0, "compute --model %s (%s)" % (model, p.stderr.strip()[-300:])):
        finish("model mode")
    return out


def run(lines, name, expect_rc=0, pointer=False):
    script = write_script(os.path.join(work, name + ".txt"), lines + ["quit"])
    args = [APP, "--no-recovery", "--script", script] + ([] if pointer else ["--ignore-pointer"])
    p = subprocess.run(args, capture_output=True, text=True, timeout=180)
    check(p.returncode == expect_rc, "%s: the app exits %d (got %d; stderr: %s)"
          % (name, expect_rc, p.returncode, p.stderr.strip()[-400:]))
    return p


def check_heatmap(png, want, stage, head, what):
    """The screenshot's heatmap at `stage` and `head` shows `want` ([n, n], NaN = masked), on
    the [0, max weight] (or [0, 1]) colour range."""
    g = load(png + ".json")
    n = want.shape[0]
    if not check(g["valid"] and g["stage"] == stage and g["head"] == head and g["rows"] == n and g["cols"] == n,
                 "%s: the sidecar shows stage %s head %d, %dx%d (got stage %s head %s, %sx%s)"
                 % (what, stage, head, n, n, g.get("stage"), g["head"], g["rows"], g["cols"])):
        return
    lo, hi = g["range"]
    wmax = float(np.nanmax(want))
    check(lo == 0 and (abs(hi - wmax) < 1e-4 or hi == 1),
          "%s: the colour range is [0, max weight %.4f] or [0, 1] (got [%g, %g])" % (what, wmax, lo, hi))
    check_pixels(png, want, what)


def causal_weights(weights):
    """compute's [n, n] weights with the causal mask's cells as NaN (the app hatches them)."""
    w = weights.astype(np.float64).copy()
    w[np.triu(np.ones_like(w, bool), 1)] = np.nan
    return w


def make_checkpoint(folder, *extra):
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "model", "make_checkpoint.py"),
                        "--layers", "2", "--heads", "2", "--d-model", "16", "--vocab-size", "300",
                        "--n-positions", "64", *extra, folder], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "make_checkpoint.py writes %s (%s)" % (folder, p.stderr.strip()[-300:]))


# ---- the built-in model's layout and steps -----------------------------------------------------

ref = compute(MODEL, TEXT, "text")
ref_tokens = load(os.path.join(ref, "tokens.json"))
heads = np.load(os.path.join(ref, "layer1", "weights.npy")).shape[0]
info = os.path.join(work, "info.json")
run(["model " + MODEL, "set text " + TEXT, "wait-frames 3", "dump-state " + info], "info")
s = load(info)
check(s["model"] == MODEL and s["token_ids"] == ref_tokens["ids"],
      "model %s with `set text`: the app's token ids are compute's (%d tokens)" % (MODEL, len(ref_tokens["ids"])))
check(s["heads"] == heads, "the app shows the model's %d heads (got %s)" % (heads, s["heads"]))
if not check("weights" in s["steps"], "model mode has a weights step (steps: %s)" % s["steps"]):
    finish("model mode")
W = "weights"  # scripts go to a step by its name

# ---- 2. pixels at the weights step, layer 1, every head ---------------------------------------

print("== pixels, layer 1", flush=True)
lines = ["model " + MODEL, "set text " + TEXT, "layer 1", "goto " + W]
for h in range(heads):
    lines += ["head %d" % h, "screenshot " + os.path.join(work, "l1_h%d.png" % h)]
run(lines, "pixels")
w1 = np.load(os.path.join(ref, "layer1", "weights.npy"))
for h in range(heads):
    check_heatmap(os.path.join(work, "l1_h%d.png" % h), causal_weights(w1[h]), W, h, "%s layer 1 head %d" % (MODEL, h))

# ---- 1, 3, 4. real typing, a click on the overview, the layer and head keys --------------------

print("== xdotool", flush=True)
typed_ref = load(os.path.join(compute(MODEL, TYPED, "typed"), "tokens.json"))
dumps = {k: os.path.join(work, "x_%s.json" % k) for k in
         ("layout", "typed", "next_layer", "prev_layer", "clicked", "prev_head", "next_head")}
go = {k: os.path.join(work, "go_" + k) for k in dumps}
# The default sample may already show the model at another layer: start from layer 0.
lines = ["model " + MODEL, "layer 0", "wait-frames 5", "dump-state " + dumps["layout"]]
for k in list(dumps)[1:]:
    lines += ["wait-for-file " + go[k], "wait-frames 3", "dump-state " + dumps[k]]
script = write_script(os.path.join(work, "xdotool.txt"), lines + ["quit"])
proc = subprocess.Popen([APP, "--no-recovery", "--script", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def xdo(*args):
    subprocess.run(["xdotool", *args], check=True, timeout=30)


def press(keys):
    # Held across a frame: Dear ImGui 1.86 reads key state once per frame.
    xdo("keydown", keys)
    time.sleep(0.15)
    xdo("keyup", keys)
    time.sleep(0.3)


def step(key, action):
    action()
    touch(go[key])
    return wait_for_json(dumps[key])


try:
    window = app_window()
    layout = wait_for_json(dumps["layout"])
    widgets = layout["widgets"]
    check(layout["model"] == MODEL, "xdotool run: the script loaded %s" % MODEL)
    for name in ("tokens-text", "overview_1_2"):
        check(name in widgets, "dump-state has the %s rectangle" % name)
    # A spot on no widget, to leave the text box: the status bar's right end (the window fills
    # the 1600x1000 screen).
    blank = (1590, 992)

    def type_text():
        click(window, *centre(widgets["tokens-text"]))
        press("ctrl+a")
        xdo("type", "--delay", "40", TYPED)
        time.sleep(1.0)
        click(window, *blank)  # leave the box: keys now go to the shortcuts

    s = step("typed", type_text)
    check(s["text"] == TYPED, "the typed text is the tokens box's text (got %r)" % s["text"])
    check(s["token_ids"] == typed_ref["ids"],
          "typed text: the app's token ids %s are compute --model's %s" % (s["token_ids"], typed_ref["ids"]))
    check(s["model"] == MODEL and s["layer"] == 0, "still %s at layer 0 (got %r, %s)" % (MODEL, s["model"], s["layer"]))
    s = step("next_layer", lambda: press("bracketright"))
    check(s["layer"] == 1, "] moves to the next layer (layer %s, want 1)" % s["layer"])
    s = step("prev_layer", lambda: press("bracketleft"))
    check(s["layer"] == 0, "[ moves back to the previous layer (layer %s, want 0)" % s["layer"])
    widgets = s["widgets"]
    s = step("clicked", lambda: click(window, *centre(widgets["overview_1_2"])))
    check(s["layer"] == 1 and s["head"] == 2,
          "a click on thumbnail overview_1_2 selects layer 1 head 2 (got layer %s head %s)" % (s["layer"], s["head"]))
    s = step("prev_head", lambda: press("comma"))
    check(s["layer"] == 1 and s["head"] == 1, ", selects the previous head (got layer %s head %s)" % (s["layer"], s["head"]))
    s = step("next_head", lambda: press("period"))
    check(s["head"] == 2, ". selects the next head (got head %s)" % s["head"])
    check(s["token_ids"] == typed_ref["ids"], "layer and head changes keep the typed tokens")
    out = proc.communicate(timeout=60)[0].decode(errors="replace")
    check(proc.returncode == 0, "xdotool run: the app exits 0 (%s)" % out.strip()[-300:])
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()

# ---- 5. save and reopen a model-mode session ---------------------------------------------------

print("== session", flush=True)
session = os.path.join(work, "model_session.json")
saved, reopened = os.path.join(work, "saved.json"), os.path.join(work, "reopened.json")
run(["model " + MODEL, "set text " + TEXT, "layer 1", "head 2", "goto " + W, "save " + session,
     "wait-frames 3", "dump-state " + saved], "save")
f = load(session)
check(f.get("version", 0) >= 2 and f.get("mode") == "model" and f.get("model", {}).get("name") == MODEL
      and f.get("model", {}).get("text") == TEXT,
      "the session file is version 2, mode model, with the model and text (got version %s mode %s model %s)"
      % (f.get("version"), f.get("mode"), f.get("model")))
check(f.get("view", {}).get("layer") == 1 and f.get("view", {}).get("step") == "weights" and f["view"].get("head") == 2,
      "the session file's view has layer 1, head 2, step \"weights\" by name (got %s)" % f.get("view"))
run(["open " + session, "wait-frames 3", "dump-state " + reopened,
     "screenshot " + os.path.join(work, "reopened.png")], "reopen")
a, b = load(saved), load(reopened)
for key in ("model", "text", "layer", "head", "step", "stage", "token_ids", "mode"):
    check(a[key] == b[key], "reopened session: %s is %r (saved %r)" % (key, b[key], a[key]))
check(b["model"] == MODEL and b["layer"] == 1 and b["head"] == 2 and b["stage"] == "weights",
      "reopened: %s, layer 1, head 2, weights" % MODEL)
check_heatmap(os.path.join(work, "reopened.png"), causal_weights(w1[2]), W, 2, "reopened session, layer 1 head 2")

# ---- 6. a bad model leaves the previous one loaded ---------------------------------------------

print("== bad models", flush=True)
broken = os.path.join(work, "broken_model")
make_checkpoint(broken)
with open(os.path.join(broken, "config.json"), "w") as fh:
    fh.write('{"model_type": "gpt2", "n_layer": 2, "n_head":')
bad = {k: os.path.join(work, "bad_%s.json" % k) for k in ("before", "missing", "broken", "after")}
p = run(["model " + MODEL, "set text " + TEXT, "layer 1", "head %d" % (heads - 1), "goto " + W, "wait-frames 3",
         "dump-state " + bad["before"],
         "model /nonexistent/folder", "wait-frames 3", "dump-state " + bad["missing"],
         "model " + broken, "wait-frames 3", "dump-state " + bad["broken"],
         "head 1", "wait-frames 3", "dump-state " + bad["after"]], "bad", expect_rc=1)
check("/nonexistent/folder" in p.stderr and "broken_model" in p.stderr,
      "the failed model lines are reported (stderr: %s)" % p.stderr.strip()[-400:])
before = load(bad["before"])
for k, where in (("missing", "/nonexistent/folder"), ("broken", "broken_model")):
    s = load(bad[k])
    same = all(s[key] == before[key] for key in ("model", "text", "layer", "head", "token_ids", "heads", "step"))
    check(same and s["model"] == MODEL, "after `model %s`: %s still loaded, same text, layer, head, tokens" % (
        where if k == "missing" else broken, MODEL))
    check(where in s["message"], "after a bad model the status message names it (message: %r)" % s["message"])
check("config.json" in load(bad["broken"])["message"],
      "a broken config.json: the message says config.json (%r)" % load(bad["broken"])["message"])
s = load(bad["after"])
check(s["model"] == MODEL and s["head"] == 1 and s["frames"] > load(bad["broken"])["frames"],
      "the app keeps running after the bad models (a later line still selects head 1)")

# ---- 7. a GPT-2-layout folder from make_checkpoint.py ------------------------------------------

print("== make_checkpoint folder", flush=True)
folder = os.path.join(work, "tiny_gpt2")
make_checkpoint(folder)
small = "the cat sat on the mat"
tref = compute(folder, small, "tiny")
tw = np.load(os.path.join(tref, "layer0", "weights.npy"))
tstate = os.path.join(work, "tiny.json")
lines = ["model " + folder, "set text " + small, "layer 0", "goto " + W, "wait-frames 3",
         "dump-state " + tstate]
for h in range(tw.shape[0]):
    lines += ["head %d" % h, "screenshot " + os.path.join(work, "tiny_h%d.png" % h)]
run(lines, "tiny")
s = load(tstate)
check(s["model"] == folder and s["heads"] == tw.shape[0] and s["layer"] == 0,
      "model %s: loaded, %d heads (got model %r, %s heads)" % (folder, tw.shape[0], s["model"], s["heads"]))
check(s["token_ids"] == load(os.path.join(tref, "tokens.json"))["ids"], "the folder's tokenizer: compute's ids")
check(W in s["steps"], "the folder's model has a weights step (steps: %s)" % s["steps"])
for h in range(tw.shape[0]):
    check_heatmap(os.path.join(work, "tiny_h%d.png" % h), causal_weights(tw[h]), W, h, "tiny GPT-2 layer 0 head %d" % h)

# ---- 8. every model step: the hover derivation adds up, and is compute's number ----------------

print("== model steps", flush=True)
hidden = np.load(os.path.join(ref, "hidden.npy"))  # [L + 1, n, d]: 0 the embedding, l after block l
NUMBER = re.compile(r"[−-]?\d+\.\d+(?:e[+-]?\d+)?")


def numbers(line):
    return [float(x.replace("−", "-")) for x in NUMBER.findall(line)]


I, J, H = 3, 2, 1  # a query row, a column (a dimension) and a head
for layer in (0, 1):
    lines = ["model " + MODEL, "set text " + TEXT, "layer %d" % layer, "head %d" % H, "wait-frames 3",
             "dump-state " + os.path.join(work, "steps_%d.json" % layer)]
    run(lines, "steps%d" % layer)
    steps = load(os.path.join(work, "steps_%d.json" % layer))["steps"]
    want = ["embedding" if layer == 0 else "resid_pre", "ln_1", "q", "k", "v"]
    check(steps[:5] == want and steps[-1] == "resid_mid" and "weights" in steps,
          "layer %d: the strip starts %s and ends with resid_mid (got %s)" % (layer, want, steps))
    lines = ["model " + MODEL, "set text " + TEXT, "layer %d" % layer, "head %d" % H]
    for name in want + ["resid_mid"]:
        lines += ["goto " + name, "hover %d %d" % (I, J), "wait-frames 2",
                  "dump-state " + os.path.join(work, "step_%d_%s.json" % (layer, name))]
    run(lines, "hover%d" % layer)
    qkv = {c: np.load(os.path.join(ref, "layer%d" % layer, c + ".npy")) for c in "qkv"}  # [H, n, d_head]
    for name in want + ["resid_mid"]:
        s = load(os.path.join(work, "step_%d_%s.json" % (layer, name)))
        d = s.get("hover_derivation") or []
        what = "layer %d step %s, cell (%d, %d)" % (layer, name, I, J)
        if not check(s["stage"] == name and len(d) >= 2, "%s: a derivation (%s, %s)" % (what, s["stage"], d)):
            continue
        result = numbers(d[-1])[-1]
        if name in ("embedding", "resid_pre"):
            parts = numbers(d[-1])
            check(abs(parts[0] + parts[1] - result) <= 0.0015 and abs(result - hidden[layer][I][J]) <= 0.0006,
                  "%s: %s adds up and is hidden[%d] = %.4f" % (what, d[-1], layer, hidden[layer][I][J]))
        elif name == "ln_1":
            x, mu, scale, gamma, beta = numbers(d[-1])[:5]
            check(abs((x - mu) * scale * gamma + beta - result) <= 0.01,
                  "%s: %s adds up" % (what, d[-1]))
        elif name in "qkv":
            listed = [numbers(line)[-1] for line in d if line.strip().startswith("t=")]
            rest = [numbers(line)[-1] for line in d if "other" in line]
            bias = [numbers(line)[-1] for line in d if line.strip().startswith("bias")]
            check(len(listed) == 5 and abs(sum(listed) + sum(rest) + sum(bias) - result) <= 0.005,
                  "%s: the largest terms, the rest and the bias add up to %.3f (%s)" % (what, result, d))
            check(abs(result - qkv[name][H][I][J]) <= 0.0006,
                  "%s: the result %.3f is compute's %s.npy %.4f" % (what, result, name, qkv[name][H][I][J]))
        else:  # resid_mid: x + Y + b
            parts = numbers(d[-1])
            check(abs(parts[0] + parts[1] + parts[2] - result) <= 0.002, "%s: %s adds up" % (what, d[-1]))
            if layer == 0:  # resid_mid + the MLP is the next block's input: compare the x part
                check(abs(parts[0] - hidden[0][I][J]) <= 0.0006, "%s: x is hidden[0]" % what)

if not __import__("guitest").failures:
    shutil.rmtree(work, ignore_errors=True)
finish("model mode")
