#!/usr/bin/python3
"""`attnviz patch` (issue 26, "Patching"): activation patching of a decoder.

Two prompts of the same token length, clean and corrupted; the metric is the logit difference
LD = logit[target] - logit[contrast] at the last position. heads.npy [L, H] holds, for every
(layer, head), the fraction of LD recovered, (LD_patched - LD_corrupted) / (LD_clean -
LD_corrupted), when the corrupted run's head output (its slice of z, before W_O, every position)
is the clean run's; resid.npy [L+1, n] the same for row i of the residual stream entering block l
(l = L: the final stream before the final norm).

Checked against an independent float64 PyTorch patching of the reference forward passes
(reference_gpt2.py, reference_llama.py, through their hooks on z and resid_pre): heads.npy and
resid.npy within 1e-4 absolute (recovered fractions), LD_clean and LD_corrupted within 1e-4 of
max(1, |LD|). Exactness, from patch.json's checks (the issue's "patching every head at once
reproduces the clean run", read as: the clean resid[0] at every position, alone or with every
head's clean z, gives the clean run's logits, and the corrupted run patched with its own
activations gives the corrupted run's) must be 0 to 1e-6; and exact in resid.npy: the final
stream's last row recovers 1, its other rows 0, and rows identical in both runs (same token at
layer 0, positions before the first difference at every layer) 0. Runs on a GPT-2 and a Llama
test checkpoint (grouped-query attention) and on the built-in attnviz-mini with the Mary/John
prompts (as Anna/Tom: one token each there). Refusals (prompts of different lengths, an encoder,
a vision model, a target of several tokens, LD_clean = LD_corrupted) exit non-zero, one line.

usage: patching_test.py ATTNVIZ"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_checkpoint  # noqa: E402
import make_llama_checkpoint  # noqa: E402
from reference_gpt2 import Gpt2Reference  # noqa: E402
from reference_llama import LlamaReference  # noqa: E402

torch.set_default_dtype(torch.float64)
failures = []
worst = {}

# The indirect-object prompts with names that are one token each in attnviz-mini (" Mary" is
# three, " John" four): the answer flips from " Anna" to " Tom".
CLEAN = "When Anna and Tom went to the store, Tom gave a drink to"
CORRUPTED = "When Tom and Anna went to the store, Anna gave a drink to"


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(attnviz, *args):
    return subprocess.run([attnviz, "patch", *args], capture_output=True, text=True)


# ---- the reference patching (float64) --------------------------------------------------------


def reference_patching(ref, clean, corrupted, target, contrast):
    """LD_clean, LD_corrupted, heads [L, H] and resid [L+1, n] recovered fractions."""
    keep = {}

    def recorder(name, layer, t):
        keep[(name, layer)] = t.clone()
        return t

    def ld(r):
        return float(r["logits"][-1][target] - r["logits"][-1][contrast])

    ldClean = ld(ref.forward(clean, hook=recorder))
    ldCorrupted = ld(ref.forward(corrupted))
    span = ldClean - ldCorrupted
    L = sum(1 for (name, _) in keep if name == "z")
    H = keep[("z", 0)].shape[0]
    n = len(clean)
    heads = np.zeros((L, H))
    for l in range(L):
        for h in range(H):
            def hook(name, layer, t, l=l, h=h):
                if name == "z" and layer == l:
                    t = t.clone()
                    t[h] = keep[("z", l)][h]
                return t
            heads[l, h] = (ld(ref.forward(corrupted, hook=hook)) - ldCorrupted) / span
    resid = np.zeros((L + 1, n))
    for l in range(L + 1):
        for i in range(n):
            def hook(name, layer, t, l=l, i=i):
                if name == "resid_pre" and layer == l:
                    t = t.clone()
                    t[i] = keep[("resid_pre", l)][i]
                return t
            resid[l, i] = (ld(ref.forward(corrupted, hook=hook)) - ldCorrupted) / span
    return ldClean, ldCorrupted, heads, resid


# ---- attnviz against it ----------------------------------------------------------------------


def patch(name, attnviz, model, clean, corrupted, target, contrast, out):
    p = run(attnviz, "--model", model, "--clean", clean, "--corrupted", corrupted, "--target", target,
            "--contrast", contrast, "--out", out)
    check(p.returncode == 0 and "top heads" in p.stdout, "%s: patch runs (%s)" % (name, p.stderr.strip()))
    if p.returncode != 0:
        return None
    print(p.stdout.strip())
    info = json.load(open(os.path.join(out, "patch.json")))
    return info, np.load(os.path.join(out, "heads.npy")), np.load(os.path.join(out, "resid.npy"))


def compare(name, ref, got):
    info, heads, resid = got
    clean, corrupted = info["clean"]["ids"], info["corrupted"]["ids"]
    n, L, H = info["n"], info["layers"], info["heads"]
    check(heads.shape == (L, H) and resid.shape == (L + 1, n) and heads.dtype == np.float64 and
          resid.dtype == np.float64 and len(clean) == len(corrupted) == n,
          "%s: heads.npy %s, resid.npy %s, float64, n = %d" % (name, heads.shape, resid.shape, n))
    start = time.time()
    ldClean, ldCorrupted, wantHeads, wantResid = reference_patching(ref, clean, corrupted, info["target"],
                                                                    info["contrast"])
    print("%s: reference patching (%d passes) in %.1f s" % (name, L * H + (L + 1) * n + 2, time.time() - start))
    errors = {
        "heads": float(np.abs(heads - wantHeads).max()),
        "resid": float(np.abs(resid - wantResid).max()),
        "LD": max(abs(info["ld_clean"] - ldClean), abs(info["ld_corrupted"] - ldCorrupted)) /
        max(1.0, abs(ldClean), abs(ldCorrupted)),
    }
    for k, e in errors.items():
        worst[k] = max(worst.get(k, 0.0), e)
    check(max(errors.values()) <= 1e-4,
          "%s: heads.npy, resid.npy and the LDs agree with the float64 reference within 1e-4 (%s; LD clean %.4f, "
          "corrupted %.4f)" % (name, ", ".join("%s %.2e" % kv for kv in errors.items()), ldClean, ldCorrupted))
    checks = info["checks"]
    worst["checks"] = max(worst.get("checks", 0.0), max(checks.values()))
    check(all(v <= 1e-6 for v in checks.values()),
          "%s: clean resid[0] (alone, with every clean head) gives the clean logits, a self-patch the corrupted "
          "ones: %s" % (name, checks))
    first = next(i for i in range(n) if clean[i] != corrupted[i])
    same0 = [i for i in range(n) if clean[i] == corrupted[i]]
    exact = (resid[L, n - 1] == 1.0 and np.all(resid[L, :n - 1] == 0.0) and np.all(resid[:, :first] == 0.0) and
             np.all(resid[0, same0] == 0.0))
    check(exact, "%s: exact rows: final stream's last row 1, its others 0, rows before position %d and "
          "unchanged tokens at layer 0 0" % (name, first))


def refused(name, attnviz, args, code=None, words=None):
    p = run(attnviz, *args)
    lines = p.stderr.strip().splitlines()
    ok = p.returncode != 0 and len(lines) == 1 and (code is None or p.returncode == code) and \
        (words is None or all(w in p.stderr for w in words))
    check(ok, "%s: refused, exit %d, one line: %s" % (name, p.returncode, p.stderr.strip()))


def choose_tokens(ref, clean, corrupted):
    """The target and contrast with the largest LD_clean - LD_corrupted: a well-posed test."""
    gap = torch.tensor(ref.forward(clean)["logits"][-1] - ref.forward(corrupted)["logits"][-1])
    return int(torch.argmax(gap)), int(torch.argmin(gap))


def main():
    attnviz = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        gpt = os.path.join(tmp, "gpt2")
        make_checkpoint.makeCheckpoint(gpt, seed=21, n_layer=3, n_head=4, n_embd=32, n_positions=96)
        llama = os.path.join(tmp, "llama")
        make_llama_checkpoint.makeLlamaCheckpoint(llama, seed=22, num_hidden_layers=3, num_attention_heads=4,
                                                  num_key_value_heads=2, max_position_embeddings=96)
        clean, corrupted = "So then Mary gave John the cat", "So then John gave Mary the cat"
        for name, folder, ref in (("gpt2", gpt, Gpt2Reference(gpt)), ("llama", llama, LlamaReference(llama))):
            out = lambda tag: os.path.join(tmp, name + "_" + tag)  # noqa: E731
            first = patch(name + " (ids)", attnviz, folder, clean, corrupted, "#1", "#2", out("ids"))
            if first is None:
                continue
            ids = first[0]["clean"]["ids"], first[0]["corrupted"]["ids"]
            target, contrast = choose_tokens(ref, *ids)
            got = patch(name, attnviz, folder, clean, corrupted, "#%d" % target, "#%d" % contrast, out("tc"))
            if got:
                compare(name, ref, got)
            refused(name + " prompts of different lengths", attnviz,
                    ["--model", folder, "--clean", clean, "--corrupted", "John gave the cat", "--target", "#1",
                     "--contrast", "#2", "--out", out("x")], 2, ["tokens", "same length"])
            refused(name + " a target of several tokens", attnviz,
                    ["--model", folder, "--clean", clean, "--corrupted", corrupted, "--target", " the cat",
                     "--contrast", "#2", "--out", out("x")], 2, ["tokens, not one"])
            refused(name + " LD_clean = LD_corrupted (target = contrast)", attnviz,
                    ["--model", folder, "--clean", clean, "--corrupted", corrupted, "--target", "#3",
                     "--contrast", "#3", "--out", out("x")], 1, ["nothing to recover"])
        # The built-in GPT-2-family model (F16 weights), the indirect-object prompts.
        mini = os.path.join(HERE, "..", "..", "assets", "models", "attnviz-mini")
        out = os.path.join(tmp, "mini")
        start = time.time()
        got = patch("attnviz-mini", attnviz, "attnviz-mini", CLEAN, CORRUPTED, " Anna", " Tom", out)
        print("attnviz-mini: patch took %.2f s (wall, process included)" % (time.time() - start))
        if got:
            check(got[0]["target_token"] == "·Anna" and got[0]["contrast_token"] == "·Tom",
                  "attnviz-mini: target \" Anna\", contrast \" Tom\"")
            compare("attnviz-mini", Gpt2Reference(mini), got)
        refused("attnviz-mini prompts of different lengths", attnviz,
                ["--model", "attnviz-mini", "--clean", CLEAN, "--corrupted", "When Tom went to the store, Anna gave",
                 "--target", " Anna", "--contrast", " Tom", "--out", os.path.join(tmp, "x")], 2,
                ["--clean is", "--corrupted"])
        refused("attnviz-mini a target of several tokens", attnviz,
                ["--model", "attnviz-mini", "--clean", CLEAN, "--corrupted", CORRUPTED, "--target", " Mary",
                 "--contrast", " Tom", "--out", os.path.join(tmp, "x")], 2, ["tokens, not one"])
        for model, what in (("attnviz-mini-bert", "an encoder"), ("attnviz-vit-mini", "a vision model")):
            refused("%s (%s)" % (model, what), attnviz,
                    ["--model", model, "--clean", "a cat", "--corrupted", "a dog", "--target", "#1", "--contrast", "#2",
                     "--out", os.path.join(tmp, "x")], 1, ["decoder"])
    print("max errors: " + ", ".join("%s %.2e" % kv for kv in worst.items()))
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
