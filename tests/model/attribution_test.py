#!/usr/bin/python3
"""`attnviz attribute` (issue 26, "Each head's direct effect"): direct logit attribution of a
decoder's logit at one position to every head, every MLP, the embeddings and the biases, with the
final norm frozen at its value on the input.

Checked against an independent float64 PyTorch decomposition of the reference forward passes
(reference_gpt2.py, reference_llama.py): each head's output z_h · W_O[h] from the reference's
per-head attention outputs, each MLP's output recomputed from the reference's residual stream
(and checked against resid_post - resid_mid), the embeddings, and the biases (b_O of every layer,
the final norm's beta), each through the frozen final norm and W_U[t] (- W_U[c]). Tolerances,
relative to the largest |share| of the reference decomposition: heads.npy, mlps.npy and
rest.json's embeddings, biases, logit and sum within 1e-4; the shares written add up to the
logit written within 1e-4 (relative to max(|logit|, largest |share|)). --contrast gives
target minus contrast; the default target is the reference's top prediction. Runs on a GPT-2
and a Llama test checkpoint (grouped-query attention, o_proj bias, untied lm_head) and on the
built-in attnviz-mini (GPT-2, F16 weights). Refusals (an encoder, a vision model, a position
outside the text, a target of several tokens, an id outside the vocabulary) exit non-zero with
one line.

usage: attribution_test.py ATTNVIZ"""
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
from reference_gpt2 import Gpt2Reference, activation, layerNorm  # noqa: E402
from reference_llama import LlamaReference, rmsNorm  # noqa: E402

torch.set_default_dtype(torch.float64)
failures = []
worst = {}  # what -> the largest error seen, relative


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


# ---- the reference decomposition (float64) ---------------------------------------------------


def parts_gpt2(ref, ids, i):
    """The final residual stream at position i, taken apart: (embeddings, heads [L][H] vectors,
    attention biases [L], MLP outputs [L]), and the final norm and unembedding."""
    cfg, w = ref.cfg, ref.w
    d, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    dh, eps = d // H, cfg.get("layer_norm_epsilon", 1e-5)
    r = ref.forward(ids)
    hidden = torch.tensor(r["hidden"])
    heads, biases, mlps = [], [], []
    for l in range(L):
        p = f"h.{l}."
        out = torch.tensor(r["layers"][l]["output"])  # [H, n, dh]
        wO = w[p + "attn.c_proj.weight"]  # Conv1D [in, out]
        heads.append([out[h, i] @ wO[h * dh:(h + 1) * dh] for h in range(H)])
        biases.append(w[p + "attn.c_proj.bias"])
        mid = hidden[l] + (out.transpose(0, 1).reshape(len(ids), d) @ wO + w[p + "attn.c_proj.bias"])
        h2 = layerNorm(mid, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        m = activation(cfg.get("activation_function", "gelu_new"), h2 @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        mlp = m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        check_close(mlp[i], hidden[l + 1][i] - mid[i], 1e-9, "gpt2 reference: MLP %d = resid_post - resid_mid" % l)
        mlps.append(mlp[i])
    unembed = w["lm_head.weight"] if "lm_head.weight" in w else w["wte.weight"]
    norm = dict(kind="layernorm", eps=eps, gamma=w["ln_f.weight"], beta=w["ln_f.bias"])
    return dict(embeddings=hidden[0][i], heads=heads, biases=biases, mlps=mlps, final=hidden[L][i],
                norm=norm, unembed=unembed, logits=torch.tensor(r["logits"][i]))


def parts_llama(ref, ids, i):
    cfg, w = ref.cfg, ref.w
    d, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    dh, eps = cfg.get("head_dim") or d // H, cfg.get("rms_norm_eps", 1e-6)
    oBias = make_llama_checkpoint.hasOBias(cfg["model_type"], cfg)
    r = ref.forward(ids)
    hidden = torch.tensor(r["hidden"])
    heads, biases, mlps = [], [], []
    for l in range(L):
        p = f"model.layers.{l}."
        out = torch.tensor(r["layers"][l]["output"])  # [H, n, dh]
        wO = w[p + "self_attn.o_proj.weight"].T  # [H·dh, d]
        bO = w[p + "self_attn.o_proj.bias"] if oBias else torch.zeros(d)
        heads.append([out[h, i] @ wO[h * dh:(h + 1) * dh] for h in range(H)])
        biases.append(bO)
        mid = hidden[l] + out.transpose(0, 1).reshape(len(ids), H * dh) @ wO + bO
        h2 = rmsNorm(mid, w[p + "post_attention_layernorm.weight"], eps)
        gate, up = h2 @ w[p + "mlp.gate_proj.weight"].T, h2 @ w[p + "mlp.up_proj.weight"].T
        mlp = (gate * torch.sigmoid(gate) * up) @ w[p + "mlp.down_proj.weight"].T
        check_close(mlp[i], hidden[l + 1][i] - mid[i], 1e-9, "llama reference: MLP %d = resid_post - resid_mid" % l)
        mlps.append(mlp[i])
    unembed = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    norm = dict(kind="rmsnorm", eps=eps, gamma=w["model.norm.weight"], beta=None)
    return dict(embeddings=hidden[0][i], heads=heads, biases=biases, mlps=mlps, final=hidden[L][i],
                norm=norm, unembed=unembed, logits=torch.tensor(r["logits"][i]))


def check_close(a, b, tol, what):
    err = float((a - b).abs().max() / max(1.0, float(b.abs().max())))
    if err > tol:
        check(False, "%s (off by %.2e)" % (what, err))


def attribute(parts, target, contrast=None):
    """Each part's share of logit_t (- logit_c), the norm frozen at the final stream."""
    norm, x = parts["norm"], parts["final"]
    u = parts["unembed"][target] - (parts["unembed"][contrast] if contrast is not None else 0)
    if norm["kind"] == "layernorm":
        scale = torch.sqrt(((x - x.mean()) ** 2).mean() + norm["eps"])

        def share(v):
            return float(((v - v.mean()) / scale * norm["gamma"]) @ u)
        constant = float(norm["beta"] @ u)
    else:
        scale = torch.sqrt((x * x).mean() + norm["eps"])

        def share(v):
            return float((v / scale * norm["gamma"]) @ u)
        constant = 0.0
    logits = parts["logits"]
    out = dict(heads=np.array([[share(v) for v in layer] for layer in parts["heads"]]),
               mlps=np.array([share(v) for v in parts["mlps"]]),
               embeddings=share(parts["embeddings"]),
               biases=sum(share(b) for b in parts["biases"]) + constant,
               scale=float(scale),
               logit=float(logits[target] - (logits[contrast] if contrast is not None else 0)))
    out["sum"] = float(out["heads"].sum() + out["mlps"].sum() + out["embeddings"] + out["biases"])
    return out


# ---- attnviz ---------------------------------------------------------------------------------


def run(attnviz, *args):
    return subprocess.run([attnviz, "attribute", *args], capture_output=True, text=True)


def compare(name, attnviz, folder, parts_of, ref, ids, position, out, target=None, contrast=None, extra=()):
    args = ["--model", folder, "--ids", ",".join(map(str, ids)), "--out", out, *extra]
    if position is not None:
        args += ["--position", str(position)]
    if target is not None:
        args += ["--target", target]
    if contrast is not None:
        args += ["--contrast", contrast]
    p = run(attnviz, *args)
    check(p.returncode == 0, "%s: attribute %s runs (%s)" % (name, " ".join(args[4:]), p.stderr.strip()))
    if p.returncode != 0:
        return None
    rest = json.load(open(os.path.join(out, "rest.json")))
    heads, mlps = np.load(os.path.join(out, "heads.npy")), np.load(os.path.join(out, "mlps.npy"))
    i = len(ids) - 1 if position is None else position
    parts = parts_of(ref, ids, i)
    if target is None:  # the default: the model's top prediction
        check(rest["target"] == int(torch.argmax(parts["logits"])),
              "%s: the default target is the top prediction (%d)" % (name, rest["target"]))
    want = attribute(parts, rest["target"], rest["contrast"])
    check(abs(want["sum"] - want["logit"]) <= 1e-10 * max(1.0, abs(want["logit"])),
          "%s: the reference's shares add up to its logit (%.3e)" % (name, abs(want["sum"] - want["logit"])))
    top = max(np.abs(want["heads"]).max(), np.abs(want["mlps"]).max(), abs(want["embeddings"]), abs(want["biases"]))
    L, H = want["heads"].shape
    check(heads.shape == (L, H) and heads.dtype == np.float64 and mlps.shape == (L,) and mlps.dtype == np.float64,
          "%s: heads.npy %s %s, mlps.npy %s %s" % (name, heads.shape, heads.dtype, mlps.shape, mlps.dtype))
    errors = {
        "heads": float(np.abs(heads - want["heads"]).max()) / top,
        "mlps": float(np.abs(mlps - want["mlps"]).max()) / top,
        "embeddings": abs(rest["embeddings"] - want["embeddings"]) / top,
        "biases": abs(rest["biases"] - want["biases"]) / top,
        "logit": abs(rest["logit"] - want["logit"]) / top,
        "sum": abs(rest["sum"] - want["sum"]) / top,
        "scale": abs(rest["sigma" if "sigma" in rest else "rms"] - want["scale"]) / want["scale"],
    }
    for k, e in errors.items():
        worst[k] = max(worst.get(k, 0.0), e)
    bad = {k: e for k, e in errors.items() if not e <= 1e-4}
    check(not bad, "%s: heads, MLPs, embeddings, biases, σ/rms, logit and sum within 1e-4 of the reference "
          "(relative to the largest |share| %.3g; worst %.2e%s)" % (name, top, max(errors.values()),
                                                                    " " + str(bad) if bad else ""))
    total = float(heads.sum() + mlps.sum() + rest["embeddings"] + rest["biases"])
    gap = abs(total - rest["logit"]) / max(abs(rest["logit"]), top)
    worst["sum vs logit"] = max(worst.get("sum vs logit", 0.0), gap)
    check(gap <= 1e-4 and abs(total - rest["sum"]) <= 1e-9 * top,
          "%s: the shares written add up to the logit written (%.2e relative)" % (name, gap))
    check(rest["position"] == i and rest["ids"] == ids, "%s: rest.json names position %d and the ids" % (name, i))
    return rest, heads, mlps


def refused(name, attnviz, args, code=None, words=None):
    p = run(attnviz, *args)
    lines = p.stderr.strip().splitlines()
    ok = p.returncode != 0 and len(lines) == 1 and (code is None or p.returncode == code) and \
        (words is None or words in p.stderr)
    check(ok, "%s: refused, exit %d, one line: %s" % (name, p.returncode, p.stderr.strip()))


def main():
    attnviz = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        gpt = os.path.join(tmp, "gpt2")
        make_checkpoint.makeCheckpoint(gpt, seed=11, n_layer=3, n_head=4, n_embd=32)
        llama = os.path.join(tmp, "llama")
        make_llama_checkpoint.makeLlamaCheckpoint(llama, seed=12, num_hidden_layers=3, attention_bias=True)
        rng = np.random.default_rng(7)
        cases = (("gpt2", gpt, Gpt2Reference(gpt), parts_gpt2), ("llama", llama, LlamaReference(llama), parts_llama))
        for name, folder, ref, parts_of in cases:
            vocab = ref.cfg["vocab_size"]
            ids = [int(v) for v in rng.integers(0, vocab - 1, 10)]
            out = lambda tag: os.path.join(tmp, name + "_" + tag)  # noqa: E731
            compare(name, attnviz, folder, parts_of, ref, ids, None, out("default"))
            t, c = int(rng.integers(0, vocab)), int(rng.integers(0, vocab))
            got_t = compare(name, attnviz, folder, parts_of, ref, ids, 4, out("t"), target="#%d" % t)
            got_c = compare(name, attnviz, folder, parts_of, ref, ids, 4, out("c"), target="#%d" % c)
            got = compare(name, attnviz, folder, parts_of, ref, ids, 4, out("tc"), target="#%d" % t,
                          contrast="#%d" % c)
            if got and got_t and got_c:
                rest, heads, mlps = got
                diff = max(float(np.abs(heads - (got_t[1] - got_c[1])).max()),
                           float(np.abs(mlps - (got_t[2] - got_c[2])).max()),
                           abs(rest["logit"] - (got_t[0]["logit"] - got_c[0]["logit"])))
                check(diff <= 1e-9 * max(1.0, float(np.abs(got_t[1]).max())) and rest["contrast"] == c and
                      rest["logit_target"] == got_t[0]["logit"],
                      "%s: --contrast is target minus contrast, share by share (%.1e)" % (name, diff))
            # A token given as text: " the" is one token of the test vocabulary.
            vocabJson = json.load(open(os.path.join(folder, "vocab.json"), encoding="utf-8"))
            got = compare(name, attnviz, folder, parts_of, ref, ids, 2, out("text"), target=" the")
            check(got is not None and got[0]["target"] == vocabJson["Ġthe"],
                  "%s: --target \" the\" is id %d" % (name, vocabJson["Ġthe"]))
            refused(name + " position past the text", attnviz,
                    ["--model", folder, "--ids", ",".join(map(str, ids)), "--position", "10", "--out", out("x")], 2,
                    "--position 10")
            refused(name + " a target of several tokens", attnviz,
                    ["--model", folder, "--ids", ",".join(map(str, ids)), "--target", " the cat", "--out", out("x")],
                    2, "tokens, not one")
            refused(name + " an id outside the vocabulary", attnviz,
                    ["--model", folder, "--ids", "1,2", "--target", "#%d" % vocab, "--out", out("x")], 2)
        # The built-in GPT-2-family model (F16 weights), from a text.
        mini = os.path.join(HERE, "..", "..", "assets", "models", "attnviz-mini")
        ref = Gpt2Reference(mini)
        text = "Anna took the ball. She gave it to Tom because he asked. Then Tom gave it back to"
        out = os.path.join(tmp, "mini")
        p = run(attnviz, "--model", "attnviz-mini", "--text", text, "--target", " Anna", "--contrast", " Tom",
                "--out", out)
        check(p.returncode == 0 and "top heads" in p.stdout and "sum" in p.stdout,
              "attnviz-mini: attribute --text ... --target \" Anna\" --contrast \" Tom\" (%s)" % p.stderr.strip())
        if p.returncode == 0:
            print(p.stdout.strip())
            rest = json.load(open(os.path.join(out, "rest.json")))
            compare("attnviz-mini", attnviz, mini, parts_gpt2, ref, rest["ids"], None, os.path.join(tmp, "mini2"),
                    target="#%d" % rest["target"], contrast="#%d" % rest["contrast"])
            compare("attnviz-mini", attnviz, mini, parts_gpt2, ref, rest["ids"], 5, os.path.join(tmp, "mini3"))
        # Models without a next-token readout.
        refused("attnviz-mini-bert (an encoder)", attnviz,
                ["--model", "attnviz-mini-bert", "--text", "Anna took the ball.", "--out", os.path.join(tmp, "x")], 1,
                "decoders")
        refused("attnviz-vit-mini (a vision model)", attnviz,
                ["--model", "attnviz-vit-mini", "--text", "a cat", "--out", os.path.join(tmp, "x")], 1, "decoders")
    print("max errors (relative to the largest |share|): " + ", ".join("%s %.2e" % kv for kv in worst.items()))
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
