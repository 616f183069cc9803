#!/usr/bin/python3
"""RoBERTa and DistilBERT in the app (issue 24): the test checkpoints of encoder_forward_test.py
opened with `attnviz --model DIR --text T` (DistilBERT with a sentence pair, set by a script line),
and the app's weights and tokens checked against `attnviz compute` on the same input — whose
numbers encoder_forward_test.py checks against a float64 PyTorch reference. Also: no causal mask
(an encoder sees both ways), the model's head count read-only, the pair's divider, exit 0.

usage: encoder_app_test.py ATTNVIZ [OUTPUT_DIR]"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from guitest import ROOT, check, finish, load, wait_for_json, write_script

sys.path.insert(0, os.path.join(ROOT, "tests", "model"))
import encoder_forward_test as encoders  # noqa: E402

APP = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else None

work = tempfile.mkdtemp(prefix="attnviz_encoder_app_")
try:
    cases = [("roberta", dict(), "hello world, hello", None),
             ("distilbert", dict(heads=2), "w1 w2 w3 w7", "w4 w5")]
    for kind, make, text, pair in cases:
        folder = os.path.join(work, kind)
        config = encoders.makeCheckpoint(folder, kind, seed=3, **make)
        heads = config.get("num_attention_heads", config.get("n_heads"))
        ref = os.path.join(work, kind + "_ref")
        cmd = [APP, "compute", "--model", folder, "--text", text, "--layer", "1", "--out", ref]
        if pair:
            cmd += ["--text-pair", pair]
        p = subprocess.run(cmd, capture_output=True, text=True)
        check(p.returncode == 0, "%s: compute runs (%s)" % (kind, p.stderr.strip()))
        state = os.path.join(work, kind + ".json")
        shot = os.path.join(OUT or work, "encoder_%s.png" % kind)
        lines = ["layer 1", "head 1", "goto weights"]
        if pair:
            lines.append("set text-pair " + pair)
        lines += ["wait-frames 4", "screenshot " + shot, "dump-state " + state, "quit"]
        script = write_script(os.path.join(work, kind + ".txt"), lines)
        code = subprocess.run([APP, "--no-recovery", "--ignore-pointer", "--model", folder, "--text", text,
                               "--script", script], timeout=120).returncode
        s = wait_for_json(state)
        check(code == 0 and not s["error"] and not s["script_failed"],
              "%s: the app opens the checkpoint and runs the script (exit %d, error %r)" % (kind, code, s["error"]))
        tokens = load(os.path.join(ref, "tokens.json"))
        check(s["query_tokens"] == tokens["tokens"], "%s: the app's tokens are compute's: %s" % (kind, s["query_tokens"]))
        want = np.load(os.path.join(ref, "layer1", "weights.npy"))[1]
        got = np.array(s["weights"], np.float64)
        check(got.shape == want.shape and np.abs(got - want).max() <= 1e-6,
              "%s: layer 1 head 1's weights on screen are compute's within 1e-6 (%s)"
              % (kind, np.abs(got - want).max() if got.shape == want.shape else got.shape))
        check(s["mask"] == "none" and (want > 0).all(), "%s: no mask: every query sees every key" % kind)
        check(s["heads"] == heads and s["layers"] == config.get("num_hidden_layers", config.get("n_layers")),
              "%s: the model's shape: %s layers of %s heads" % (kind, s["layers"], s["heads"]))
        if pair:
            first_b = tokens["type_ids"].index(1) if "type_ids" in tokens else None
            check(first_b is not None and s["query_tokens"][first_b - 1] == "[SEP]",
                  "%s: the pair is read as [CLS] A [SEP] B [SEP] (B from token %s)" % (kind, first_b))
finally:
    shutil.rmtree(work, ignore_errors=True)
finish("encoders in the app")
