#!/usr/bin/python3
"""attnviz compute --model against an independent float64 PyTorch GPT-2 (reference_gpt2.py).

  model_forward_test.py ATTNVIZ [--keep] [--only NAME]

For each random tiny checkpoint (make_checkpoint.py) it runs `attnviz compute --model DIR --ids
... --out OUT` once and compares every file with the reference. Tolerances (attnviz computes in
float32 from the same decoded weights; the reference computes in float64):
  weights.npy                          |got - ref| <= 1e-5 absolute, masked cells exactly 0
  hidden, logits, q, k, v, scores,
  scaled, masked (finite part), output |got - ref| <= 1e-4 * max|ref| of that array
  masked.npy                           -inf exactly where the reference is -inf (j > i)
Where a file differs, the first mismatches are printed with their indices (as llm.c's
validator does). Further checks: --text gives the same files as the --ids it tokenizes to,
--temperature 0.5, --layer 1, and malformed checkpoints (exit 1, one line on stderr).
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_checkpoint  # noqa: E402
from reference_gpt2 import Gpt2Reference  # noqa: E402

WEIGHTS_ATOL = 1e-5
REL_TOL = 1e-4
STAGES = ["q", "k", "v", "scores", "scaled", "masked", "weights", "output"]

# name, checkpoint options, n (None = n_positions)
CONFIGS = [
    ("l1h1d8_f32_gelunew_n1", dict(n_layer=1, n_head=1, n_embd=8, dtype="F32"), 1),
    ("l2h2d16_f16_gelu_prefix", dict(n_layer=2, n_head=2, n_embd=16, dtype="F16",
                                     prefix="transformer.", activation_function="gelu"), 7),
    ("l3h4d32_bf16_relu_bias", dict(n_layer=3, n_head=4, n_embd=32, dtype="BF16", attnBias=True,
                                    activation_function="relu"), 20),
    ("l4h8d64_f32_sharded_invidx", dict(n_layer=4, n_head=8, n_embd=64, dtype="F32", sharded=True,
                                        scale_attn_by_inverse_layer_idx=True), 40),
    ("l2h8d128_f32_inner96_full", dict(n_layer=2, n_head=8, n_embd=128, dtype="F32", n_inner=96,
                                       n_positions=32), None),
    ("l1h2d8_bf16_prefix_sharded_noscale", dict(n_layer=1, n_head=2, n_embd=8, dtype="BF16",
                                                prefix="transformer.", sharded=True,
                                                scale_attn_weights=False), 5),
    ("l3h3d24_f16_bias_prefix_relu_invidx", dict(n_layer=3, n_head=3, n_embd=24, dtype="F16",
                                                 attnBias=True, prefix="transformer.",
                                                 activation_function="relu",
                                                 scale_attn_by_inverse_layer_idx=True), 33),
    ("l4h1d16_f32_gelu_eps1e-3_full", dict(n_layer=4, n_head=1, n_embd=16, dtype="F32",
                                           activation_function="gelu", layer_norm_epsilon=1e-3,
                                           n_positions=16), None),
    ("l2h4d48_bf16_gelunew", dict(n_layer=2, n_head=4, n_embd=48, dtype="BF16"), 12),
    ("l1h8d64_f16_sharded_bias", dict(n_layer=1, n_head=8, n_embd=64, dtype="F16", sharded=True,
                                      attnBias=True), 40),
    ("l2h2d16_f32_noscale_invidx", dict(n_layer=2, n_head=2, n_embd=16, dtype="F32",
                                        scale_attn_weights=False,
                                        scale_attn_by_inverse_layer_idx=True), 9),
    ("l4h4d128_bf16_gelu_prefix_v305", dict(n_layer=4, n_head=4, n_embd=128, dtype="BF16",
                                            activation_function="gelu", prefix="transformer.",
                                            vocab_size=305, n_inner=200), 40),
]


class Failures:
    def __init__(self):
        self.messages = []

    def add(self, where, message):
        line = f"FAIL {where}: {message}"
        print(line, flush=True)
        self.messages.append(line)


FAIL = Failures()
WORST = [0.0]  # the largest error / tolerance seen since the last reset, reported per config


def run(cmd, timeout=60):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def firstMismatches(got, ref, bad, limit=5):
    idx = np.argwhere(bad)[:limit]
    return "; ".join(f"[{','.join(map(str, i))}] got {got[tuple(i)]!r} expected {ref[tuple(i)]!r}"
                     for i in idx)


def compare(where, got, ref, atol=None, rel=None):
    """llm.c-style validation: shape, then every element; prints the first mismatches."""
    got = np.asarray(got)
    if got.dtype != np.float32:
        FAIL.add(where, f"dtype {got.dtype}, expected float32")
        return False
    if tuple(got.shape) != tuple(ref.shape):
        FAIL.add(where, f"shape {list(got.shape)}, expected {list(ref.shape)}")
        return False
    g = got.astype(np.float64)
    refInf = np.isinf(ref)
    infBad = refInf & ~(np.isinf(g) & (np.sign(g) == np.sign(ref)))
    infBad |= ~refInf & ~np.isfinite(g)
    if infBad.any():
        FAIL.add(where, f"{int(infBad.sum())} cells differ in inf/nan: " +
                 firstMismatches(g, ref, infBad))
        return False
    finite = ~refInf
    if atol is None:
        scale = np.abs(ref[finite]).max() if finite.any() else 0.0
        atol = rel * max(scale, 1e-30)
    err = np.where(finite, np.abs(g - np.where(finite, ref, 0.0)), 0.0)
    WORST[0] = max(WORST[0], float(err.max()) / atol if err.size else 0.0)
    bad = err > atol
    if bad.any():
        FAIL.add(where, f"{int(bad.sum())}/{bad.size} cells off by more than {atol:.3g} "
                 f"(max {err.max():.3g}): " + firstMismatches(g, ref, bad))
        return False
    return True


def load(where, path):
    if not os.path.exists(path):
        FAIL.add(where, f"{os.path.basename(path)} was not written")
        return None
    try:
        return np.load(path)
    except Exception as e:  # noqa: BLE001
        FAIL.add(where, f"{path} is not a readable .npy: {e}")
        return None


def layerDirs(out):
    return sorted(d for d in os.listdir(out) if re.fullmatch(r"layer\d+", d))


LAYER_BASE = {}  # the numbering attnviz uses for layerL/, found from the first full run


def layerBase(where, out, L):
    dirs = set(layerDirs(out))
    for base in (0, 1):
        if dirs == {f"layer{l + base}" for l in range(L)}:
            if "base" in LAYER_BASE and LAYER_BASE["base"] != base:
                FAIL.add(where, f"layer folders numbered from {base} here, "
                         f"from {LAYER_BASE['base']} before")
            LAYER_BASE.setdefault("base", base)
            return base
    FAIL.add(where, f"layer folders {sorted(dirs)}, expected layer0..layer{L - 1} "
             f"(or layer1..layer{L})")
    return None


def compareLayer(where, layerDir, ref, checkStages=STAGES):
    ok = True
    for stage in checkStages:
        got = load(f"{where}/{stage}", os.path.join(layerDir, stage + ".npy"))
        if got is None:
            ok = False
            continue
        r = ref[stage]
        if stage == "weights":
            ok &= compare(f"{where}/weights", got, r, atol=WEIGHTS_ATOL)
            if got.shape == r.shape:
                upper = np.triu(np.ones(r.shape[-2:], bool), 1)
                if (got[:, upper] != 0).any():
                    FAIL.add(f"{where}/weights", "masked (future) cells are not exactly 0")
                    ok = False
        else:
            ok &= compare(f"{where}/{stage}", got, r, rel=REL_TOL)
    return ok


def compareRun(where, out, ref, ids, cfg, layers="all"):
    """Compares one compute output folder with one reference forward."""
    ok = True
    try:
        with open(os.path.join(out, "tokens.json")) as f:
            toks = json.load(f)
        if toks.get("ids") != list(ids):
            FAIL.add(where, f"tokens.json ids {toks.get('ids')}, expected {list(ids)}")
            ok = False
        if not isinstance(toks.get("tokens"), list) or len(toks["tokens"]) != len(ids):
            FAIL.add(where, f"tokens.json tokens {toks.get('tokens')!r} is not {len(ids)} texts")
            ok = False
    except Exception as e:  # noqa: BLE001
        FAIL.add(where, f"tokens.json: {e}")
        ok = False
    try:
        with open(os.path.join(out, "model.json")) as f:
            if not isinstance(json.load(f), dict):
                FAIL.add(where, "model.json is not a JSON object")
                ok = False
    except Exception as e:  # noqa: BLE001
        FAIL.add(where, f"model.json: {e}")
        ok = False
    for name in ("hidden", "logits"):
        got = load(f"{where}/{name}", os.path.join(out, name + ".npy"))
        ok &= got is not None and compare(f"{where}/{name}", got, ref[name], rel=REL_TOL)
    L = cfg["n_layer"]
    if layers == "all":
        base = layerBase(where, out, L)
        if base is None:
            return False
        for l in range(L):
            ok &= compareLayer(f"{where}/layer{l + base}", os.path.join(out, f"layer{l + base}"),
                               ref["layers"][l])
    return ok


def randomIds(rng, cfg, n):
    return [int(i) for i in rng.integers(0, cfg["vocab_size"], size=n)]


def compute(binary, model, out, *extra):
    shutil.rmtree(out, ignore_errors=True)
    return run([binary, "compute", "--model", model, *extra, "--out", out])


# ---- the forward pass on every config ---------------------------------------------------------


def testConfigs(binary, tmp, only):
    rng = np.random.default_rng(1234)
    for seed, (name, opts, n) in enumerate(CONFIGS):
        if only and only not in name:
            continue
        t0 = time.time()
        opts = dict(opts)
        model = os.path.join(tmp, name)
        ckOpts = {k: opts.pop(k) for k in ("dtype", "prefix", "attnBias", "sharded") if k in opts}
        cfg, _ = make_checkpoint.makeCheckpoint(model, seed=seed, **ckOpts, **opts)
        n = n or cfg["n_positions"]
        ids = randomIds(rng, cfg, n)
        out = os.path.join(tmp, name + "_out")
        rc, _, err = compute(binary, model, out, "--ids", ",".join(map(str, ids)))
        if rc != 0:
            FAIL.add(name, f"compute exited {rc}: {err.strip()}")
            continue
        ref = Gpt2Reference(model).forward(ids)
        WORST[0] = 0.0
        ok = compareRun(name, out, ref, ids, cfg)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: n={n}, worst error {WORST[0]:.2f} of the "
              f"tolerance ({time.time() - t0:.2f} s)", flush=True)


# ---- --text, --temperature, --layer ------------------------------------------------------------


def tinyEncode(text, vocabSize):
    """GPT-2 BPE with the tiny tokenizer's merges, for ASCII text (the GPT-2 split pattern with
    ASCII letter/digit classes, which is exact for ASCII input)."""
    b2u = dict(make_checkpoint.bytesToUnicode())
    vocabText, _ = make_checkpoint.tokenizerFiles(vocabSize)
    vocab = json.loads(vocabText)
    ranks = {m: r for r, m in enumerate(make_checkpoint.MERGES[:vocabSize - 257])}
    pat = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
    ids = []
    for piece in pat.findall(text):
        word = [b2u[b] for b in piece.encode("utf-8")]
        while len(word) > 1:
            pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            rank, _ = min(pairs)
            if rank == 1 << 30:
                break
            a, b = make_checkpoint.MERGES[rank]
            word = make_checkpoint.mergePair(word, a, b)
        ids += [vocab[w] for w in word]
    return ids


def sameFiles(where, a, b):
    names = sorted(os.path.relpath(os.path.join(d, f), a) for d, _, fs in os.walk(a) for f in fs)
    namesB = sorted(os.path.relpath(os.path.join(d, f), b) for d, _, fs in os.walk(b) for f in fs)
    if names != namesB:
        FAIL.add(where, f"different files: {sorted(set(names) ^ set(namesB))}")
        return False
    ok = True
    for f in names:
        if not f.endswith(".npy"):
            continue
        x, y = np.load(os.path.join(a, f)), np.load(os.path.join(b, f))
        if x.shape != y.shape or not np.array_equal(x, y):
            FAIL.add(where, f"{f} differs between --text and --ids")
            ok = False
    return ok


def testTextTemperatureLayer(binary, tmp):
    model = os.path.join(tmp, "options_model")
    cfg, _ = make_checkpoint.makeCheckpoint(model, seed=99, dtype="F32", n_layer=3, n_head=2,
                                            n_embd=16, n_positions=40)
    text = "the cat sat on the mat, and then the cat sat in 12 hats!"
    ids = tinyEncode(text, cfg["vocab_size"])
    outText = os.path.join(tmp, "opt_text")
    rc, _, err = compute(binary, model, outText, "--text", text)
    if rc != 0:
        FAIL.add("--text", f"compute exited {rc}: {err.strip()}")
    else:
        with open(os.path.join(outText, "tokens.json")) as f:
            toks = json.load(f)
        if toks.get("ids") != ids:
            FAIL.add("--text", f"ids {toks.get('ids')}, expected {ids}")
        else:
            vocab = json.loads(make_checkpoint.tokenizerFiles(cfg["vocab_size"])[0])
            inv = {v: k for k, v in vocab.items()}
            expectTokens = [inv[i].replace("Ġ", "·") for i in ids]
            if toks.get("tokens") != expectTokens:
                FAIL.add("--text", f"tokens {toks.get('tokens')}, expected {expectTokens}")
            if "·the" not in toks.get("tokens", []):
                FAIL.add("--text", "' the' is not shown as '·the'")
            outIds = os.path.join(tmp, "opt_ids")
            rc, _, err = compute(binary, model, outIds, "--ids", ",".join(map(str, ids)))
            if rc != 0:
                FAIL.add("--text/--ids", f"compute exited {rc}: {err.strip()}")
            else:
                sameFiles("--text vs --ids", outText, outIds)
                ok = compareRun("--text", outText, Gpt2Reference(model).forward(ids), ids, cfg)
                print(f"{'ok  ' if ok else 'FAIL'} --text {text!r} -> {len(ids)} tokens",
                      flush=True)

    # --temperature 0.5. The reference divides the scaled scores by T inside the forward pass, so
    # layers after the first see the changed attention. If attnviz instead applies T only to the
    # recorded pattern (hidden states unchanged), say so: layer 0 must match either way.
    ids = [int(i) for i in np.random.default_rng(5).integers(0, cfg["vocab_size"], 25)]
    outT = os.path.join(tmp, "opt_temp")
    rc, _, err = compute(binary, model, outT, "--ids", ",".join(map(str, ids)),
                         "--temperature", "0.5")
    if rc != 0:
        FAIL.add("--temperature", f"compute exited {rc}: {err.strip()}")
    else:
        ref = Gpt2Reference(model)
        refT = ref.forward(ids, temperature=0.5)
        base = layerBase("--temperature", outT, cfg["n_layer"])
        if base is not None:
            before = len(FAIL.messages)
            compareLayer(f"--temperature/layer{base}", os.path.join(outT, f"layer{base}"),
                         refT["layers"][0])
            layer0ok = len(FAIL.messages) == before
            # Which interpretation holds for the deeper layers?
            got = np.load(os.path.join(outT, f"layer{base + 1}", "weights.npy"))
            ref1 = ref.forward(ids)
            w1 = ref1["layers"][1]["masked"] / 0.5
            w1 = np.exp(w1 - w1.max(-1, keepdims=True))
            w1 /= w1.sum(-1, keepdims=True)
            if got.shape == refT["layers"][1]["weights"].shape and \
                    np.abs(got - refT["layers"][1]["weights"]).max() <= WEIGHTS_ATOL:
                compareRun("--temperature", outT, refT, ids, cfg)
                mode = "inside the forward pass"
            elif got.shape == w1.shape and np.abs(got - w1).max() <= WEIGHTS_ATOL:
                compareRun("--temperature (pattern only)", outT, ref1, ids, cfg, layers="none")
                mode = "to the recorded patterns only (hidden states unchanged)"
            else:
                FAIL.add("--temperature", "layer 1 weights match neither softmax(scaled/T) of the "
                         "tempered forward nor of the plain one")
                mode = None
            if mode:
                print(f"{'ok  ' if layer0ok else 'FAIL'} --temperature 0.5 (applied {mode})",
                      flush=True)

    # --layer 1 writes only that layer's folder.
    outL = os.path.join(tmp, "opt_layer")
    rc, _, err = compute(binary, model, outL, "--ids", ",".join(map(str, ids)), "--layer", "1")
    if rc != 0:
        FAIL.add("--layer 1", f"compute exited {rc}: {err.strip()}")
    else:
        dirs = layerDirs(outL)
        if dirs != ["layer1"]:
            FAIL.add("--layer 1", f"wrote {dirs}, expected only ['layer1']")
        else:
            base = LAYER_BASE.get("base", 0)
            ref = Gpt2Reference(model).forward(ids)
            ok = compareLayer("--layer 1/layer1", os.path.join(outL, "layer1"),
                              ref["layers"][1 - base])
            ok &= compareRun("--layer 1", outL, ref, ids, cfg, layers="none")
            print(f"{'ok  ' if ok else 'FAIL'} --layer 1 (layer folders numbered from {base})",
                  flush=True)


# ---- malformed checkpoints: exit 1 and exactly one line on stderr ----------------------------


def testBadFiles(binary, tmp):
    good = os.path.join(tmp, "bad_base")
    make_checkpoint.makeCheckpoint(good, seed=7, n_layer=2, n_head=2, n_embd=16)
    with open(os.path.join(good, "model.safetensors"), "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])

    def variant(name, mutate):
        d = os.path.join(tmp, "bad_" + name)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(good, d)
        mutate(d)
        return d

    def writeModel(d, data):
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(data)

    def withHeader(h):
        text = json.dumps(h).encode()
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text)) + text + blob[8 + hlen:]

    def editHeader(fn):
        h = json.loads(json.dumps(header))
        fn(h)
        return withHeader(h)

    def dropTensor(h):
        del h["h.1.mlp.c_fc.weight"]

    def wrongShape(h):
        h["wte.weight"]["shape"] = [150, 32]

    def pastEnd(h):
        h["ln_f.bias"]["data_offsets"] = [len(blob), len(blob) + 64]

    def badDtype(h):
        h["wpe.weight"]["dtype"] = "I64"

    def badConfig(d):
        with open(os.path.join(d, "config.json"), "w") as f:
            f.write('{"model_type": "gpt2", "n_embd": ')

    def headsDontDivide(d):
        with open(os.path.join(d, "config.json")) as f:
            c = json.load(f)
        c["n_head"] = 3
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(c, f)

    cases = [
        ("truncated", lambda d: writeModel(d, blob[: len(blob) // 2])),
        ("huge_header_length", lambda d: writeModel(d, struct.pack("<Q", 1 << 40) + blob[8:])),
        ("header_not_json", lambda d: writeModel(d, struct.pack("<Q", 16) + b"{not json at all" +
                                                 blob[8 + hlen:])),
        ("missing_tensor", lambda d: writeModel(d, editHeader(dropTensor))),
        ("wrong_shape", lambda d: writeModel(d, editHeader(wrongShape))),
        ("offsets_past_end", lambda d: writeModel(d, editHeader(pastEnd))),
        ("unsupported_dtype", lambda d: writeModel(d, editHeader(badDtype))),
        ("empty_file", lambda d: writeModel(d, b"")),
        ("no_weights", lambda d: os.remove(os.path.join(d, "model.safetensors"))),
        ("config_truncated", badConfig),
        ("config_missing", lambda d: os.remove(os.path.join(d, "config.json"))),
        ("heads_do_not_divide", headsDontDivide),
    ]
    names = {"missing_tensor": "h.1.mlp.c_fc.weight", "wrong_shape": "wte.weight"}
    bad = 0
    for name, mutate in cases:
        d = variant(name, mutate)
        rc, _, err = compute(binary, d, os.path.join(tmp, "bad_out"), "--ids", "1,2,3")
        lines = err.splitlines()
        if rc != 1 or len(lines) != 1:
            FAIL.add(f"bad file {name}", f"exit {rc}, stderr {err!r}; expected exit 1 and one line")
            bad += 1
        elif name in names and names[name] not in lines[0]:
            FAIL.add(f"bad file {name}", f"message {lines[0]!r} does not name {names[name]}")
            bad += 1
    # tokenize needs only the tokenizer files; without them it fails the same way.
    d = variant("no_vocab", lambda d: os.remove(os.path.join(d, "vocab.json")))
    rc, _, err = run([binary, "tokenize", "--model", d, "--text", "hi"])
    if rc != 1 or len(err.splitlines()) != 1:
        FAIL.add("tokenize without vocab.json", f"exit {rc}, stderr {err!r}")
        bad += 1
    d = variant("only_tokenizer", lambda d: [os.remove(os.path.join(d, f))
                                             for f in ("model.safetensors", "config.json")])
    rc, out, err = run([binary, "tokenize", "--model", d, "--text", " the"])
    if rc != 0:
        FAIL.add("tokenize with tokenizer files only", f"exit {rc}, stderr {err!r}")
        bad += 1
    # Bad input on a good model: a nonzero exit (1 or a usage error's 2), one line, no crash.
    inputs = [("id_out_of_range", ["--ids", "1,300,2"]), ("negative_id", ["--ids", "1,-1"]),
              ("too_many_tokens", ["--ids", ",".join(["5"] * 49)]),
              ("layer_out_of_range", ["--ids", "1,2", "--layer", "2"]),
              ("zero_temperature", ["--ids", "1,2", "--temperature", "0"])]
    for name, args in inputs:
        rc, _, err = compute(binary, good, os.path.join(tmp, "bad_out"), *args)
        if rc not in (1, 2) or len(err.splitlines()) != 1:
            FAIL.add(f"bad input {name}", f"exit {rc}, stderr {err!r}; expected exit 1 or 2, one line")
            bad += 1
    print(f"{'ok  ' if bad == 0 else 'FAIL'} {len(cases) + 2} malformed-folder and "
          f"{len(inputs)} bad-input cases", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attnviz")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--only", default="", help="run only configs whose name contains this")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="attnviz_model_test_")
    t0 = time.time()
    try:
        testConfigs(a.attnviz, tmp, a.only)
        if not a.only:
            testTextTemperatureLayer(a.attnviz, tmp)
            testBadFiles(a.attnviz, tmp)
    finally:
        if a.keep:
            print("scratch folder kept:", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(FAIL.messages)} failures ({time.time() - t0:.1f} s)")
    return 1 if FAIL.messages else 0


if __name__ == "__main__":
    sys.exit(main())
