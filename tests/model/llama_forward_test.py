#!/usr/bin/python3
"""attnviz compute --model on Llama-family checkpoints against an independent float64 PyTorch
forward (reference_llama.py).

  llama_forward_test.py ATTNVIZ [--keep] [--only NAME]

For each random tiny checkpoint (make_llama_checkpoint.py: llama, mistral and qwen2; GQA ratios
1, 2 and 4; with and without biases; tied and untied; F32, F16 and BF16; rope_scaling none and
llama3; a sliding window shorter than the text; sharded) it runs `attnviz compute --model DIR
--ids ... --out OUT` once and compares every file with the reference. Tolerances (attnviz
computes in float32 from the same decoded weights; the reference in float64):
  weights.npy                                 |got - ref| <= 1e-5 absolute, masked cells exactly 0
  hidden, logits, q_unrotated, k_unrotated,
  q, k, v, scores, scaled, masked (finite),
  output                                      |got - ref| <= 1e-4 * max|ref| of that array
  masked.npy                                  -inf exactly where the reference masks (causal,
                                              and outside the sliding window)
It also checks model.json's kv_head_of (query head h reads K/V head h // (H / KV)) and that
the rotation is really applied (q differs from q_unrotated past position 0), and bad Llama
folders (exit 1, one line on stderr).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_llama_checkpoint  # noqa: E402
from model_forward_test import FAIL, WORST, compare, load, run  # noqa: E402
from reference_llama import LlamaReference  # noqa: E402

WEIGHTS_ATOL = 1e-5
REL_TOL = 1e-4
STAGES = ["q_unrotated", "k_unrotated", "q", "k", "v", "scores", "scaled", "masked", "weights", "output"]
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 64}

# name, model_type, checkpoint options, n (None = max_position_embeddings)
CONFIGS = [
    ("llama_gqa1_f32_tied", "llama", dict(num_attention_heads=4, num_key_value_heads=4, dtype="F32",
                                          tie_word_embeddings=True), 20),
    ("llama_gqa2_bf16_bias_untied_llama3", "llama",
     dict(num_attention_heads=4, num_key_value_heads=2, dtype="BF16", attention_bias=True,
          rope_scaling=LLAMA3, num_hidden_layers=3), 30),
    ("mistral_gqa4_f32_window5", "mistral",
     dict(num_attention_heads=8, num_key_value_heads=2, hidden_size=64, dtype="F32", sliding_window=5), 24),
    ("qwen2_gqa2_bf16_sharded_tied_window", "qwen2",
     dict(num_attention_heads=4, num_key_value_heads=2, dtype="BF16", sharded=True, tie_word_embeddings=True,
          use_sliding_window=True, sliding_window=6, max_window_layers=1), 16),
    ("llama_gqa2_f16_headdim16", "llama",
     dict(hidden_size=24, num_attention_heads=2, num_key_value_heads=1, head_dim=16, dtype="F16"), 9),
    ("mistral_gqa1_bf16_nowindow_bias", "mistral",
     dict(num_attention_heads=2, num_key_value_heads=2, dtype="BF16", sliding_window=None, attention_bias=True,
          tie_word_embeddings=True), 12),
    ("llama_gqa4_f32_theta5e5_llama3_full", "llama",
     dict(num_attention_heads=8, num_key_value_heads=2, hidden_size=128, intermediate_size=96, dtype="F32",
          rope_theta=500000.0, rope_scaling=dict(LLAMA3, original_max_position_embeddings=16),
          max_position_embeddings=40, num_hidden_layers=3), None),
    ("qwen2_gqa1_f32_untied_n1", "qwen2", dict(num_attention_heads=2, num_key_value_heads=2, dtype="F32"), 1),
]


def compareLayer(where, layerDir, ref):
    ok = True
    allowed = np.isfinite(ref["masked"])
    for stage in STAGES:
        got = load(f"{where}/{stage}", os.path.join(layerDir, stage + ".npy"))
        if got is None:
            ok = False
            continue
        r = ref[stage]
        if stage == "weights":
            ok &= compare(f"{where}/weights", got, r, atol=WEIGHTS_ATOL)
            if got.shape == r.shape and (got[~allowed] != 0).any():
                FAIL.add(f"{where}/weights", "masked cells (future or outside the window) are not exactly 0")
                ok = False
        else:
            ok &= compare(f"{where}/{stage}", got, r, rel=REL_TOL)
    q, qu = (np.load(os.path.join(layerDir, f)) for f in ("q.npy", "q_unrotated.npy"))
    if q.shape[1] > 1 and np.abs(q[:, 1:] - qu[:, 1:]).max() == 0:
        FAIL.add(where, "q equals q_unrotated: no rotation applied")
        ok = False
    return ok


def compareRun(where, out, ref, ids, cfg):
    ok = True
    with open(os.path.join(out, "tokens.json")) as f:
        if json.load(f).get("ids") != list(ids):
            FAIL.add(where, "tokens.json ids differ from --ids")
            ok = False
    with open(os.path.join(out, "model.json")) as f:
        mj = json.load(f)
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    expected = [h // (H // KV) for h in range(H)]
    att = mj.get("attention", {})
    if att.get("kv_head_of") != expected or att.get("norm") != "rmsnorm" or att.get("kv_heads") != KV:
        FAIL.add(where, f"model.json attention {att!r}: expected kv_head_of {expected}, norm rmsnorm, kv_heads {KV}")
        ok = False
    for name in ("hidden", "logits"):
        got = load(f"{where}/{name}", os.path.join(out, name + ".npy"))
        ok &= got is not None and compare(f"{where}/{name}", got, ref[name], rel=REL_TOL)
    for l in range(cfg["num_hidden_layers"]):
        ok &= compareLayer(f"{where}/layer{l}", os.path.join(out, f"layer{l}"), ref["layers"][l])
    return ok


def compute(binary, model, out, *extra):
    shutil.rmtree(out, ignore_errors=True)
    return run([binary, "compute", "--model", model, *extra, "--out", out])


def testConfigs(binary, tmp, only):
    rng = np.random.default_rng(4321)
    for seed, (name, modelType, opts, n) in enumerate(CONFIGS):
        if only and only not in name:
            continue
        t0 = time.time()
        model = os.path.join(tmp, name)
        cfg, _ = make_llama_checkpoint.makeLlamaCheckpoint(model, modelType=modelType, seed=100 + seed, **opts)
        n = n or cfg["max_position_embeddings"]
        ids = [int(i) for i in rng.integers(0, cfg["vocab_size"], size=n)]
        out = os.path.join(tmp, name + "_out")
        rc, _, err = compute(binary, model, out, "--ids", ",".join(map(str, ids)))
        if rc != 0:
            FAIL.add(name, f"compute exited {rc}: {err.strip()}")
            continue
        ref = LlamaReference(model).forward(ids)
        window = [np.isinf(layer["masked"][0]).sum() > n * (n - 1) // 2 for layer in ref["layers"]]
        WORST[0] = 0.0
        ok = compareRun(name, out, ref, ids, cfg)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: n={n}, windowed layers {[i for i, w in enumerate(window) if w]}, "
              f"worst error {WORST[0]:.2f} of the tolerance ({time.time() - t0:.2f} s)", flush=True)
    if not only:
        # The window must have been exercised: mistral_gqa4 masks more than the causal triangle.
        ref = LlamaReference(os.path.join(tmp, "mistral_gqa4_f32_window5")).forward(list(range(24)))
        if not np.isinf(ref["layers"][0]["masked"][0, 10, 0]):
            FAIL.add("window", "the reference does not mask key 0 from query 10 with sliding_window 5")


def testBadFolders(binary, tmp):
    """Llama-specific refusals: exit 1, one line on stderr naming the file."""
    base = os.path.join(tmp, "bad_base")
    make_llama_checkpoint.makeLlamaCheckpoint(base, modelType="llama", seed=7)

    def edited(name, edit):
        d = os.path.join(tmp, "bad_" + name)
        shutil.copytree(base, d)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        edit(cfg)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        return d

    cases = [
        ("yarn", lambda c: c.update(rope_scaling={"rope_type": "yarn", "factor": 4.0}),
         'rope_scaling type "yarn" is not supported (attnviz supports llama3)'),
        ("kv3", lambda c: c.update(num_key_value_heads=3),
         "num_attention_heads = 4 is not divisible by num_key_value_heads = 3"),
        ("gelu", lambda c: c.update(hidden_act="gelu"), 'hidden_act "gelu" is not supported (attnviz supports silu)'),
        ("kv4_shapes", lambda c: c.update(num_key_value_heads=4),
         'tensor "model.layers.0.self_attn.k_proj.weight" has shape [16, 32] but the config needs [32, 32]'),
    ]
    bad = 0
    for name, edit, message in cases:
        d = edited(name, edit)
        rc, _, err = compute(binary, d, os.path.join(tmp, "bad_out"), "--ids", "1,2,3")
        if rc != 1 or len(err.splitlines()) != 1 or message not in err:
            FAIL.add(f"bad {name}", f"exit {rc}, stderr {err!r}; expected exit 1 and one line with {message!r}")
            bad += 1
    print(f"{'ok  ' if bad == 0 else 'FAIL'} {len(cases)} bad Llama folders", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attnviz")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--only", default="", help="run only configs whose name contains this")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="attnviz_llama_test_")
    t0 = time.time()
    try:
        testConfigs(a.attnviz, tmp, a.only)
        if not a.only:
            testBadFolders(a.attnviz, tmp)
    finally:
        if a.keep:
            print("scratch folder kept:", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(FAIL.messages)} failures ({time.time() - t0:.1f} s)")
    return 1 if FAIL.messages else 0


if __name__ == "__main__":
    sys.exit(main())
