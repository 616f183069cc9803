#!/usr/bin/python3
"""`attnviz compute --model` writes the logit lens (issue 26) for decoders: logit_lens.json (per
entry and position the ten most probable tokens) and logit_lens_next.npy [L+1, n-1]. Checked
against an independent float64 PyTorch readout of the reference forward passes
(reference_gpt2.py, reference_llama.py): entry l is the final norm and unembedding applied to the
residual stream after block l (entry 0 the embeddings). Tolerances: probabilities within 1e-5
absolute; the top-10 ids equal wherever neighbouring reference probabilities differ by more than
1e-6 (a near-tie may order either way in float32). The last entry is the model's own prediction:
its top token equals the argmax of logits.npy. Encoders and vision models write no lens.

usage: logit_lens_test.py ATTNVIZ"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_checkpoint  # noqa: E402
import make_llama_checkpoint  # noqa: E402
from reference_gpt2 import Gpt2Reference, layerNorm  # noqa: E402
from reference_llama import LlamaReference, rmsNorm  # noqa: E402

torch.set_default_dtype(torch.float64)
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def readout_gpt2(ref, hidden):
    w, eps = ref.w, ref.cfg.get("layer_norm_epsilon", 1e-5)
    return layerNorm(torch.tensor(hidden), w["ln_f.weight"], w["ln_f.bias"], eps) @ w["wte.weight"].T


def readout_llama(ref, hidden):
    w, cfg = ref.w, ref.cfg
    unembed = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return rmsNorm(torch.tensor(hidden), w["model.norm.weight"], cfg.get("rms_norm_eps", 1e-6)) @ unembed.T


def main():
    attnviz = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        gpt = os.path.join(tmp, "gpt2")
        make_checkpoint.makeCheckpoint(gpt, seed=5)
        llama = os.path.join(tmp, "llama")
        subprocess.run([sys.executable, os.path.join(HERE, "make_llama_checkpoint.py"), llama, "--seed", "6"],
                       check=True, capture_output=True)
        rng = np.random.default_rng(3)
        for name, folder, ref, readout in (("gpt2", gpt, Gpt2Reference(gpt), readout_gpt2),
                                           ("llama", llama, LlamaReference(llama), readout_llama)):
            vocab = ref.cfg["vocab_size"]
            ids = [int(v) for v in rng.integers(0, vocab, 9)]
            out = os.path.join(tmp, name + "_out")
            p = subprocess.run([attnviz, "compute", "--model", folder, "--ids", ",".join(map(str, ids)), "--out", out],
                               capture_output=True, text=True)
            check(p.returncode == 0, "%s: compute runs (%s)" % (name, p.stderr.strip()))
            lens = json.load(open(os.path.join(out, "logit_lens.json")))
            nxt = np.load(os.path.join(out, "logit_lens_next.npy"))
            hidden = ref.forward(ids)["hidden"]  # [L+1, n, d] float64
            L1 = hidden.shape[0]
            check(lens["entries"] == L1 and lens["positions"] == len(ids) and nxt.shape == (L1, len(ids) - 1),
                  "%s: %d entries × %d positions, logit_lens_next.npy %s" % (name, lens["entries"], lens["positions"],
                                                                             nxt.shape))
            worst, ids_ok = 0.0, True
            want_next = np.zeros((L1, len(ids) - 1))
            for e in range(L1):
                probs = torch.softmax(readout(ref, hidden[e]), dim=-1).numpy()
                want_next[e] = probs[np.arange(len(ids) - 1), ids[1:]]
                for i in range(len(ids)):
                    got = lens["top"][e][i]
                    order = np.argsort(-probs[i], kind="stable")[:10]
                    worst = max(worst, float(np.abs(np.array(got["p"]) - probs[i][got["ids"]]).max()))
                    worst = max(worst, float(np.abs(np.array(got["p"]) - probs[i][order]).max()))
                    distinct = np.abs(np.diff(probs[i][order])) > 1e-6
                    same = [a == b for a, b in zip(got["ids"], order)]
                    # A position may differ only inside a run of near-equal probabilities.
                    for k, ok in enumerate(same):
                        if not ok and (k == 0 or distinct[k - 1]) and (k == 9 or distinct[k]):
                            ids_ok = False
            check(worst <= 1e-5, "%s: every top-10 probability within 1e-5 of the float64 reference (worst %.2e)"
                  % (name, worst))
            check(ids_ok, "%s: the top-10 tokens are the reference's (near-ties aside)" % name)
            diff = float(np.abs(nxt - want_next).max())
            check(diff <= 1e-5, "%s: logit_lens_next.npy within 1e-5 of the reference (worst %.2e)" % (name, diff))
            logits = np.load(os.path.join(out, "logits.npy"))
            check(all(lens["top"][L1 - 1][i]["ids"][0] == int(np.argmax(logits[i])) for i in range(len(ids))),
                  "%s: the last entry's top token is the model's own prediction (logits.npy)" % name)
        # Encoders and vision models write no lens.
        for args in (["--model", "attnviz-mini-bert", "--text", "Anna took the ball."],
                     ["--model", "attnviz-vit-mini", "--image",
                      os.path.join(HERE, "..", "..", "assets", "samples", "scenes", "red-circle.png")]):
            out = os.path.join(tmp, "other")
            p = subprocess.run([attnviz, "compute", *args, "--out", out], capture_output=True, text=True)
            check(p.returncode == 0 and not os.path.exists(os.path.join(out, "logit_lens.json")),
                  "%s: no logit lens (%s)" % (args[1], p.stderr.strip()[-100:]))
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
