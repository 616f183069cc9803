#!/usr/bin/python3
"""What the heads did, in the app (issue 26): on the induction sample (attnviz-mini), the logit
lens grid and the heads' direct effects the app shows are the command line's (`compute`'s
logit_lens.json, `attribute`'s heads.npy and mlps.npy, themselves checked against float64 PyTorch
in tests/model/), and real clicks link them to the step-through: a head's cell selects that
layer and head, a guess's cell pins its position and shows its layer; pinning a query moves the
attribution to that position.

usage: lens_test.py ATTNVIZ [OUTPUT_DIR]"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from guitest import app_window, check, click, finish, load, touch, wait_for_json, write_script

APP = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else None

work = tempfile.mkdtemp(prefix="attnviz_lens_")
try:
    first, after_head, after_lens, pinned, go1, go2 = (os.path.join(work, n) for n in (
        "first.json", "head.json", "lens.json", "pinned.json", "go1", "go2"))
    shot = os.path.join(OUT or work, "lens_views.png")
    script = write_script(os.path.join(work, "script.txt"), [
        "layer 0", "head 0", "wait-frames 4", "screenshot " + shot, "dump-state " + first,
        "wait-for-file " + go1, "wait-frames 4", "dump-state " + after_head,
        "wait-for-file " + go2, "wait-frames 4", "dump-state " + after_lens,
        "pin 9 0", "wait-frames 3", "dump-state " + pinned, "quit"])
    proc = subprocess.Popen([APP, "--no-recovery", "--sample", "induction", "--window-size", "1800x1850",
                             "--script", script])
    try:
        window = app_window()
        s = wait_for_json(first)
        cells = s["widgets"]["head-effects-cells"]
        L, H = s["layers"], s["heads"]
        # A real click on head (1, 2): cells are H heads, a gap, the MLP, so H + 2 columns.
        w = (cells[2] - cells[0]) / (H + 2)
        h = (cells[3] - cells[1]) / L
        click(window, cells[0] + 2.5 * w, cells[1] + 1.5 * h)
        subprocess.run(["xdotool", "mousemove", "--window", window, "5", "5"], check=True)
        touch(go1)
        head_state = wait_for_json(after_head)
        lens_cells = head_state["widgets"]["logit-lens-cells"]
        entries, n = s["logit_lens"]["entries"], s["logit_lens"]["positions"]
        cw = (lens_cells[2] - lens_cells[0]) / n
        ch = (lens_cells[3] - lens_cells[1]) / entries
        # Entry 1 (the stream after block 0), position 20.
        click(window, lens_cells[0] + 20.5 * cw, lens_cells[1] + 1.5 * ch)
        subprocess.run(["xdotool", "mousemove", "--window", window, "5", "5"], check=True)
        touch(go2)
        lens_state = wait_for_json(after_lens)
        pin_state = wait_for_json(pinned)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(code == 0, "the script ran to the end (exit %s)" % code)
    check(head_state["layer"] == 1 and head_state["head"] == 2,
          "clicking head (1, 2) of the effects grid selects layer 1, head 2 (got layer %s, head %s)"
          % (head_state["layer"], head_state["head"]))
    check(lens_state["selected"][0] == 20 and lens_state["layer"] == 0,
          "clicking the guess after block 0 at position 20 pins query 20 and shows layer 0 (selected %s, layer %s)"
          % (lens_state["selected"], lens_state["layer"]))

    # The numbers against the command line on the same text.
    text, ids = s["text"], s["token_ids"]
    ref = os.path.join(work, "ref")
    subprocess.run([APP, "compute", "--model", "attnviz-mini", "--ids", ",".join(map(str, ids)), "--out", ref],
                   check=True, capture_output=True)
    lens = load(os.path.join(ref, "logit_lens.json"))
    top = [[entry[i]["ids"][0] for i in range(len(entry))] for entry in lens["top"]]
    check(top == s["logit_lens"]["top_ids"], "every cell's top guess is compute's logit_lens.json's (%d × %d)" % (entries, n))
    p_err = max(abs(a - entry[i]["p"][0]) for row, entry in zip(s["logit_lens"]["top_p"], lens["top"])
                for i, a in enumerate(row))
    check(p_err < 1e-6, "and its probability (largest difference %.2g)" % p_err)
    for state, position in ((s, n - 1), (pin_state, 9)):
        out = os.path.join(work, "attr%d" % position)
        subprocess.run([APP, "attribute", "--model", "attnviz-mini", "--ids", ",".join(map(str, ids)),
                        "--position", str(position), "--out", out], check=True, capture_output=True)
        heads, mlps = np.load(os.path.join(out, "heads.npy")), np.load(os.path.join(out, "mlps.npy"))
        rest = load(os.path.join(out, "rest.json"))
        e = state["head_effects"]
        err = max(np.abs(np.array(e["heads"]) - heads).max(), np.abs(np.array(e["mlps"]) - mlps).max(),
                  abs(e["logit"] - rest["logit"]))
        check(e["position"] == position and e["target"] == rest["target"] and err < 1e-9,
              "position %d: the app's head and MLP effects are attribute's (target %s, largest difference %.2g)"
              % (position, e["target"], err))
        check(abs(e["sum"] - e["logit"]) <= 1e-4 * max(1.0, abs(e["logit"])),
              "position %d: the shares add up to the logit (%.6f vs %.6f)" % (position, e["sum"], e["logit"]))
finally:
    shutil.rmtree(work, ignore_errors=True)
finish("logit lens and head effects")
