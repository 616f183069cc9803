#!/usr/bin/env python3
"""The painted mask editor (Options ▸ paint mask, then clicks on step 2 Mask's cells).

scripted  causal-lm-toy (n = 10, 2 heads, causal), `set paint-mask on` and `mask-toggle R C` on cells
          that were allowed (now masked), one that was masked (now allowed) and row 0's only
          allowed cell (row 0 entirely masked). The dumped mask must be causal with exactly those
          cells flipped, and the exported weights must match a NumPy softmax of the exported
          scaled scores under that mask: masked cells exactly 0, other rows summing to 1, the
          fully masked row all zeros (never NaN).
xdotool   a real click on the "paint mask" checkbox, then a real click on a heatmap cell, placed
          from the screenshot sidecar's heatmap geometry: that cell, and only it, is masked, and
          no cell is pinned (in paint mode a click paints instead).
usage: mask_paint_test.py ATTNVIZ"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from guitest import app_window, centre, check, click, finish, load, touch, wait_for_json, write_script

APP = sys.argv[1]
N = 10
CAUSAL = {(r, c) for r in range(N) for c in range(N) if c > r}


def masked_set(state):
    return {tuple(x) for x in state.get("masked_cells", [])}


def scripted(work):
    print("== scripted", flush=True)
    toggles = [(3, 1), (3, 2), (7, 0), (2, 7), (0, 0)]
    expected = set(CAUSAL)
    for cell in toggles:
        expected ^= {cell}
    stages, state = os.path.join(work, "stages"), os.path.join(work, "scripted.json")
    lines = ["sample causal-lm-toy", "set paint-mask on"] + ["mask-toggle %d %d" % t for t in toggles] + \
            ["wait-frames 2", "export-numbers %s npy" % stages, "quit"]
    script = write_script(os.path.join(work, "scripted.txt"), lines)
    p = subprocess.run([APP, "--no-recovery", "--ignore-pointer", "--script", script, "--dump-state", state],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "the app exits 0 (stderr: %s)" % p.stderr.strip()[-300:])
    s = load(state)
    check(s["mask"] == "custom" and s["paint_mask"] is True and s["step_name"].lower().startswith("mask"),
          "paint mode: custom mask, on the mask step (%s, %s)" % (s["mask"], s["step_name"]))
    check(masked_set(s) == expected, "masked cells are causal with the toggled ones flipped")
    allowed = np.ones((N, N), dtype=bool)
    for r, c in masked_set(s):
        allowed[r, c] = False
    all_scaled = np.load(os.path.join(stages, "scaled.npy")).astype(np.float64)  # [H, n, m]
    all_weights = np.load(os.path.join(stages, "weights.npy"))
    for h in range(s["heads"]):
        scaled, weights = all_scaled[h], all_weights[h]
        ref = np.zeros_like(scaled)
        for i in range(N):
            row = scaled[i, allowed[i]]
            if row.size:
                e = np.exp(row - row.max())
                ref[i, allowed[i]] = e / e.sum()
        check(not np.isnan(weights).any(), "head %d: no NaN in the weights" % h)
        check(np.all(weights[~allowed] == 0), "head %d: every masked cell is exactly 0" % h)
        sums = weights.sum(axis=1)
        check(np.allclose(sums[1:], 1, atol=1e-5) and np.all(weights[0] == 0),
              "head %d: rows renormalised to 1, the fully masked row 0 all zeros" % h)
        err = float(np.abs(weights - ref).max())
        check(err < 1e-6, "head %d: weights match NumPy's masked softmax (max |diff| %.1e)" % (h, err))


def clicked(work):
    print("== xdotool", flush=True)
    layout, before, after = (os.path.join(work, n) for n in ("layout.json", "before.json", "after.json"))
    shot, go1, go2 = (os.path.join(work, n) for n in ("mask.png", "go1", "go2"))
    script = write_script(os.path.join(work, "clicked.txt"), [
        "sample causal-lm-toy", "wait-frames 3", "dump-state " + layout,
        "wait-for-file " + go1, "wait-frames 3", "screenshot " + shot, "dump-state " + before,
        "wait-for-file " + go2, "wait-frames 3", "dump-state " + after, "quit"])
    proc = subprocess.Popen([APP, "--no-recovery", "--script", script])
    try:
        window = app_window()
        click(window, *centre(wait_for_json(layout)["widgets"]["paint-mask"]))
        touch(go1)
        s = wait_for_json(before)
        geo = wait_for_json(shot + ".json")
        check(s["paint_mask"] is True and s["step"] == 2 and masked_set(s) == CAUSAL,
              "the checkbox click turned paint mode on at the mask step, starting from causal")
        check(geo["valid"] and geo["step"] == 2 and geo["rows"] == N and geo["cols"] == N,
              "the sidecar places the %dx%d mask heatmap" % (geo["rows"], geo["cols"]))
        row, col = 6, 2
        x = geo["origin"][0] + (col + 0.5) * geo["cell"][0]
        y = geo["origin"][1] + (row + 0.5) * geo["cell"][1]
        click(window, x, y)
        touch(go2)
        s = wait_for_json(after)
        check(masked_set(s) == CAUSAL | {(row, col)}, "the clicked cell (%d, %d), and only it, is masked" % (row, col))
        check(s["selected"] == [-1, -1], "in paint mode the click paints instead of pinning")
        check(proc.wait(timeout=60) == 0, "the app exits 0")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


work = tempfile.mkdtemp(prefix="attnviz_mask_")
try:
    scripted(work)
    clicked(work)
finally:
    shutil.rmtree(work, ignore_errors=True)
finish("painted mask")
