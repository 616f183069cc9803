#!/usr/bin/python3
"""attnviz compute --model on encoders (model_type bert, roberta, distilbert) against an
independent float64 PyTorch forward written here from Hugging Face's modeling_bert.py,
modeling_roberta.py and modeling_distilbert.py.

  encoder_forward_test.py ATTNVIZ [--keep]

Random tiny checkpoints in Hugging Face's layout (NumPy): BERT as BertForMaskedLM (the "bert."
prefix, decoder tied, then stored), as BertModel (no prefix, a pooler to ignore, old
LayerNorm.gamma/beta names, a position_ids buffer, no head), sentence pairs with token types,
F32/F16/BF16; RoBERTa (the "roberta." prefix, lm_head, positions counted from pad_token_id + 1,
one token type); DistilBERT (q_lin … output_layer_norm, vocab_transform/vocab_layer_norm/
vocab_projector, no token types, LayerNorm eps fixed at 1e-12 whatever the config says). Each runs
`attnviz compute --model DIR --ids … [--type-ids …] --layer all --out OUT`. Tolerances (attnviz
in float32 from the same stored weights, the reference in float64):
  weights.npy                        |got - ref| <= 1e-5
  hidden.npy, logits.npy, q, k, v    |got - ref| <= 1e-4 * max|ref| of that array
  tokens.json                        ids and type_ids exactly
Then refusals, each exit 1 or 2 with one stderr line naming the fault: relative position
embeddings, a tensor of the wrong shape, more tokens than the positions allow (RoBERTa's limit is
max_position_embeddings − pad_token_id − 1), a type id the model has no embedding for, --type-ids
of another length, and --text-pair on a decoder.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_checkpoint  # noqa: E402
from model_forward_test import FAIL, WORST, compare, load, run  # noqa: E402
import reference_gpt2  # noqa: E402

reference_gpt2.DTYPES.setdefault("I64", ("<i8", 8))  # the position_ids buffer, read and unused

P = 40


def vocabSize(kind):
    return 300 if kind == "roberta" else 48  # RoBERTa's byte-level BPE needs its 256 bytes


def names(kind):
    """Where each part lives in the checkpoint of this model_type."""
    if kind == "distilbert":
        return dict(layer="transformer.layer.{l}.", q="attention.q_lin", k="attention.k_lin", v="attention.v_lin",
                    o="attention.out_lin", ln1="sa_layer_norm", fc1="ffn.lin1", fc2="ffn.lin2", ln2="output_layer_norm",
                    transform="vocab_transform", headLn="vocab_layer_norm", decoder="vocab_projector",
                    bias="vocab_projector.bias")
    head = dict(transform="lm_head.dense", headLn="lm_head.layer_norm", decoder="lm_head.decoder", bias="lm_head.bias") \
        if kind == "roberta" else \
        dict(transform="cls.predictions.transform.dense", headLn="cls.predictions.transform.LayerNorm",
             decoder="cls.predictions.decoder", bias="cls.predictions.bias")
    return dict(layer="encoder.layer.{l}.", q="attention.self.query", k="attention.self.key",
                v="attention.self.value", o="attention.output.dense", ln1="attention.output.LayerNorm",
                fc1="intermediate.dense", fc2="output.dense", ln2="output.LayerNorm", **head)


def makeCheckpoint(out, kind, seed, dtype="F32", prefix=True, head=True, tied=True, oldNames=False, extras=False,
                   d=32, layers=2, heads=4, inner=48, pad=None, configEdits=None):
    rng = np.random.default_rng(seed)
    V = vocabSize(kind)
    r = lambda *s: rng.normal(0, 0.3, s).astype(np.float32)  # noqa: E731
    n = names(kind)
    p = (kind + ".") if prefix else ""
    g, b = ("gamma", "beta") if oldNames else ("weight", "bias")
    t = [(p + "embeddings.word_embeddings.weight", r(V, d)), (p + "embeddings.position_embeddings.weight", r(P, d))]
    types = 0 if kind == "distilbert" else (1 if kind == "roberta" else 2)
    if types:
        t.append((p + "embeddings.token_type_embeddings.weight", r(types, d)))
    t += [(p + f"embeddings.LayerNorm.{g}", 1 + r(d)), (p + f"embeddings.LayerNorm.{b}", r(d))]
    for l in range(layers):
        h = p + n["layer"].format(l=l)
        for part in ("q", "k", "v", "o"):
            t += [(h + n[part] + ".weight", r(d, d)), (h + n[part] + ".bias", r(d))]
        t += [(h + n["ln1"] + f".{g}", 1 + r(d)), (h + n["ln1"] + f".{b}", r(d)),
              (h + n["fc1"] + ".weight", r(inner, d)), (h + n["fc1"] + ".bias", r(inner)),
              (h + n["fc2"] + ".weight", r(d, inner)), (h + n["fc2"] + ".bias", r(d)),
              (h + n["ln2"] + f".{g}", 1 + r(d)), (h + n["ln2"] + f".{b}", r(d))]
    if head:
        t += [(n["transform"] + ".weight", r(d, d)), (n["transform"] + ".bias", r(d)),
              (n["headLn"] + f".{g}", 1 + r(d)), (n["headLn"] + f".{b}", r(d)), (n["bias"], r(V))]
        if not tied:
            t.append((n["decoder"] + ".weight", r(V, d)))
    if extras:  # what BertModel / BertForPreTraining checkpoints also hold, all ignored
        t += [(p + "pooler.dense.weight", r(d, d)), (p + "pooler.dense.bias", r(d)),
              ("cls.seq_relationship.weight", r(2, d)), ("cls.seq_relationship.bias", r(2))]
    os.makedirs(out, exist_ok=True)
    make_checkpoint.writeSafetensors(os.path.join(out, "model.safetensors"), t, dtype)
    if extras:  # an int64 position_ids buffer beside them, as old BERT checkpoints store it
        rewriteWithBuffer(os.path.join(out, "model.safetensors"), p + "embeddings.position_ids", P)
    if kind == "distilbert":
        config = {"model_type": "distilbert", "vocab_size": V, "dim": d, "n_layers": layers, "n_heads": heads,
                  "hidden_dim": inner, "max_position_embeddings": P, "activation": "gelu", "layer_norm_eps": 0.1}
    else:
        config = {"model_type": kind, "vocab_size": V, "hidden_size": d, "num_hidden_layers": layers,
                  "num_attention_heads": heads, "intermediate_size": inner, "max_position_embeddings": P,
                  "type_vocab_size": types, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
                  "pad_token_id": 1 if pad is None and kind == "roberta" else (pad or 0)}
    config.update(configEdits or {})
    json.dump(config, open(os.path.join(out, "config.json"), "w"))
    if kind == "roberta":
        make_checkpoint.writeTokenizer(out, V)
    else:
        words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(V - 5)]
        open(os.path.join(out, "vocab.txt"), "w").write("\n".join(words) + "\n")
    return config


def rewriteWithBuffer(path, name, count):
    """Adds an I64 tensor to a safetensors file (the position_ids buffer)."""
    import struct
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    end = len(data)
    header[name] = {"dtype": "I64", "shape": [1, count], "data_offsets": [end, end + 8 * count]}
    data += np.arange(count, dtype="<i8").tobytes()
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)


def reference(folder, kind, config, ids, typeIds, prefix=True, oldNames=False):
    """float64: the embeddings, every block's output, every layer's weights, the logits."""
    t = reference_gpt2.readSafetensors(os.path.join(folder, "model.safetensors"))  # names as stored
    n = names(kind)
    p = (kind + ".") if prefix else ""
    g, b = ("gamma", "beta") if oldNames else ("weight", "bias")
    eps = 1e-12 if kind == "distilbert" else config["layer_norm_eps"]
    ln = lambda x, name: torch.nn.functional.layer_norm(x, (x.shape[-1],), t[name + "." + g], t[name + "." + b], eps)  # noqa: E731
    lin = lambda x, name: x @ t[name + ".weight"].T + t[name + ".bias"]  # noqa: E731
    gelu = lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))  # noqa: E731
    count = len(ids)
    first = config["pad_token_id"] + 1 if kind == "roberta" else 0  # create_position_ids_from_input_ids
    x = t[p + "embeddings.word_embeddings.weight"][ids] + t[p + "embeddings.position_embeddings.weight"][first:first + count]
    if kind != "distilbert":
        x = x + t[p + "embeddings.token_type_embeddings.weight"][typeIds]
    x = ln(x, p + "embeddings.LayerNorm")
    d = x.shape[1]
    H = config["n_heads" if kind == "distilbert" else "num_attention_heads"]
    dh = d // H
    hidden, weights, qkv = [x], [], []
    layers = config["n_layers" if kind == "distilbert" else "num_hidden_layers"]
    for l in range(layers):
        h = p + n["layer"].format(l=l)
        q, k, v = [lin(x, h + n[part]).view(count, H, dh).transpose(0, 1) for part in ("q", "k", "v")]
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh), -1)
        weights.append(a)
        qkv.append((q, k, v))
        y = ln(x + lin((a @ v).transpose(0, 1).reshape(count, d), h + n["o"]), h + n["ln1"])
        x = ln(y + lin(gelu(lin(y, h + n["fc1"])), h + n["fc2"]), h + n["ln2"])
        hidden.append(x)
    logits = None
    if n["transform"] + ".weight" in t:
        z = ln(gelu(lin(x, n["transform"])), n["headLn"])
        decoder = t.get(n["decoder"] + ".weight", t[p + "embeddings.word_embeddings.weight"])
        logits = z @ decoder.T + t[n["bias"]]
    return torch.stack(hidden), weights, qkv, logits


CASES = [
    # name, kind, checkpoint options, reference options, token types
    ("bert_mlm_tied_f32_pair", "bert", dict(), dict(), True),
    ("bert_mlm_untied_bf16", "bert", dict(dtype="BF16", tied=False, layers=3), dict(), True),
    ("bert_model_noprefix_gamma_buffer_f16", "bert", dict(dtype="F16", prefix=False, head=False, oldNames=True, extras=True),
     dict(prefix=False, oldNames=True), False),
    ("roberta_mlm_f32", "roberta", dict(), dict(), False),
    ("roberta_untied_bf16_pad3", "roberta", dict(dtype="BF16", tied=False, pad=3), dict(), False),
    ("distilbert_mlm_f32", "distilbert", dict(heads=2), dict(), False),
    ("distilbert_noprefix_f16", "distilbert", dict(dtype="F16", prefix=False), dict(prefix=False), False),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attnviz")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="attnviz_encoder_test_")
    rng = np.random.default_rng(7)
    for i, (name, kind, make, refOpts, pairs) in enumerate(CASES):
        WORST[0] = 0.0
        failuresBefore = len(FAIL.messages)
        folder = os.path.join(work, name)
        config = makeCheckpoint(folder, kind, seed=i, **make)
        count = 11
        ids = [int(v) for v in rng.integers(0, vocabSize(kind), count)]
        typeIds = [0] * 6 + [1] * 5 if pairs else [0] * count
        out = os.path.join(work, name + "_out")
        cmd = [args.attnviz, "compute", "--model", folder, "--ids", ",".join(map(str, ids)), "--layer", "all", "--out", out]
        if pairs:
            cmd += ["--type-ids", ",".join(map(str, typeIds))]
        code, _, err = run(cmd)
        if code != 0:
            FAIL.add(name, f"compute exited {code}: {err.strip()}")
            continue
        hidden, weights, qkv, logits = reference(folder, kind, config, ids, typeIds, **refOpts)
        tokens = json.load(open(os.path.join(out, "tokens.json")))
        if tokens["ids"] != ids:
            FAIL.add(name, f"tokens.json ids {tokens['ids']} != {ids}")
        if kind != "distilbert" and tokens.get("type_ids") != typeIds:
            FAIL.add(name, f"tokens.json type_ids {tokens.get('type_ids')} != {typeIds}")
        got = load(name, os.path.join(out, "hidden.npy"))
        if got is not None:
            compare(name + " hidden", got, hidden.numpy(), rel=1e-4)
        for l, a in enumerate(weights):
            w = load(name, os.path.join(out, f"layer{l}", "weights.npy"))
            if w is not None:
                compare(f"{name} layer {l} weights", w, a.numpy(), atol=1e-5)
            for part, ref in zip("qkv", qkv[l]):
                g = load(name, os.path.join(out, f"layer{l}", f"{part}.npy"))
                if g is not None:
                    compare(f"{name} layer {l} {part}", g, ref.numpy(), rel=1e-4)
        logitsPath = os.path.join(out, "logits.npy")
        if logits is None:
            if os.path.exists(logitsPath):
                FAIL.add(name, "logits.npy written for a checkpoint without a masked-LM head")
        else:
            got = load(name, logitsPath)
            if got is not None:
                compare(name + " logits", got, logits.numpy(), rel=1e-4)
        print(f"{'ok  ' if len(FAIL.messages) == failuresBefore else 'FAIL'} {name}: worst error {WORST[0]:.2f} of the "
              f"tolerance", flush=True)

    # Refusals: exit 1 or 2 and one line naming the fault.
    def refused(what, cmd, needle):
        code, _, err = run(cmd)
        lines = err.strip().splitlines()
        if code not in (1, 2) or len(lines) != 1 or needle not in lines[0]:
            FAIL.add(what, f"expected exit 1/2 and one line with {needle!r}; got {code}, {err!r}")
    base = os.path.join(work, "bert_mlm_tied_f32_pair")
    rel = os.path.join(work, "relative")
    shutil.copytree(base, rel)
    cfg = json.load(open(os.path.join(rel, "config.json")))
    cfg["position_embedding_type"] = "relative_key"
    json.dump(cfg, open(os.path.join(rel, "config.json"), "w"))
    refused("relative positions", [args.attnviz, "compute", "--model", rel, "--ids", "1,2", "--out", work + "/x"],
            "relative_key")
    bad = os.path.join(work, "badshape")
    shutil.copytree(base, bad)
    cfg = json.load(open(os.path.join(bad, "config.json")))
    cfg["intermediate_size"] = 40
    json.dump(cfg, open(os.path.join(bad, "config.json"), "w"))
    refused("wrong shape", [args.attnviz, "compute", "--model", bad, "--ids", "1,2", "--out", work + "/x"],
            "intermediate.dense.weight")
    refused("too long", [args.attnviz, "compute", "--model", base, "--ids", ",".join(["5"] * (P + 1)), "--out", work + "/x"],
            "max_position_embeddings")
    roberta = os.path.join(work, "roberta_mlm_f32")
    refused("roberta too long", [args.attnviz, "compute", "--model", roberta, "--ids", ",".join(["5"] * (P - 1)),
                                 "--out", work + "/x"], "max_position_embeddings")
    refused("type id", [args.attnviz, "compute", "--model", base, "--ids", "1,2", "--type-ids", "0,2", "--out", work + "/x"],
            "token type id 2")
    refused("type ids length", [args.attnviz, "compute", "--model", base, "--ids", "1,2", "--type-ids", "0", "--out",
                                work + "/x"], "--type-ids")
    refused("pair on a decoder", [args.attnviz, "compute", "--model", "attnviz-mini", "--text", "a", "--text-pair", "b",
                                  "--out", work + "/x"], "pair")
    print(f"{len(FAIL.messages)} failures")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if FAIL.messages else 0


if __name__ == "__main__":
    sys.exit(main())
