#!/usr/bin/python3
"""Writes a random tiny Llama-family checkpoint folder (model_type llama, mistral or qwen2) in
Hugging Face layout, with NumPy only.

The folder holds config.json, model.safetensors (or model.safetensors.index.json and two
shards) and GPT-2-style vocab.json + merges.txt (make_checkpoint.py's tiny byte-level BPE; the
tokenizer is not what these checkpoints test). Tensor names and layouts are Hugging Face's:
model.embed_tokens.weight [vocab, d], model.layers.N.self_attn.{q,k,v,o}_proj.weight [out, in]
(+ .bias where the config says), model.layers.N.{input,post_attention}_layernorm.weight,
model.layers.N.mlp.{gate,up,down}_proj.weight, model.norm.weight, lm_head.weight (untied only).

Used as a module by llama_forward_test.py (makeLlamaCheckpoint) and as a script:
  make_llama_checkpoint.py OUT_DIR [--model-type llama --layers 2 --heads 4 --kv-heads 2 ...]
"""

import argparse
import json
import os

import numpy as np

import make_checkpoint

DEFAULTS = dict(vocab_size=300, max_position_embeddings=48, hidden_size=32, intermediate_size=48,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=None,
                rms_norm_eps=1e-5, rope_theta=10000.0, rope_scaling=None,
                tie_word_embeddings=False, attention_bias=False, hidden_act="silu")


def hasQkvBias(modelType, cfg):
    return modelType == "qwen2" or bool(cfg.get("attention_bias"))


def hasOBias(modelType, cfg):
    return modelType != "qwen2" and bool(cfg.get("attention_bias"))


def randomWeights(modelType, cfg, rng):
    """(HF tensor name, float32 array) in checkpoint order."""
    d, V, inner = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    dh = cfg["head_dim"] or d // H

    def normal(*shape, std=0.2):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def gain(n):
        return (1.0 + rng.normal(0.0, 0.2, size=n)).astype(np.float32)

    # Scores grow with the width: Q and K shrink as 1/sqrt(d) above 64 (see make_checkpoint.py).
    qkStd = 0.2 * min(1.0, (64.0 / d) ** 0.5)
    w = [("model.embed_tokens.weight", normal(V, d, std=1.0))]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        w += [(p + "input_layernorm.weight", gain(d)),
              (p + "self_attn.q_proj.weight", normal(H * dh, d, std=qkStd)),
              (p + "self_attn.k_proj.weight", normal(KV * dh, d, std=qkStd)),
              (p + "self_attn.v_proj.weight", normal(KV * dh, d))]
        if hasQkvBias(modelType, cfg):
            w += [(p + "self_attn.q_proj.bias", normal(H * dh, std=0.1)),
                  (p + "self_attn.k_proj.bias", normal(KV * dh, std=0.1)),
                  (p + "self_attn.v_proj.bias", normal(KV * dh, std=0.1))]
        w += [(p + "self_attn.o_proj.weight", normal(d, H * dh))]
        if hasOBias(modelType, cfg):
            w += [(p + "self_attn.o_proj.bias", normal(d, std=0.1))]
        w += [(p + "post_attention_layernorm.weight", gain(d)),
              (p + "mlp.gate_proj.weight", normal(inner, d)),
              (p + "mlp.up_proj.weight", normal(inner, d)),
              (p + "mlp.down_proj.weight", normal(d, inner))]
    w += [("model.norm.weight", gain(d))]
    if not cfg["tie_word_embeddings"]:
        w += [("lm_head.weight", normal(V, d))]
    return w


def makeLlamaCheckpoint(out, modelType="llama", seed=0, dtype="F32", sharded=False, **config):
    """Writes the folder; returns (config dict, {name: decoded float32 weights})."""
    cfg = dict(DEFAULTS)
    cfg.update(config)
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    tensors = randomWeights(modelType, cfg, rng)
    meta = {"format": "pt"}
    if sharded:
        half = len(tensors) // 2
        files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        weightMap, decoded, total = {}, {}, 0
        for fname, part in zip(files, (tensors[:half], tensors[half:])):
            decoded.update(make_checkpoint.writeSafetensors(os.path.join(out, fname), part, dtype, meta))
            for name, a in part:
                weightMap[name] = fname
                total += a.size * (4 if dtype == "F32" else 2)
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weightMap}, f, indent=2)
    else:
        decoded = make_checkpoint.writeSafetensors(os.path.join(out, "model.safetensors"), tensors, dtype, meta)
    configJson = {k: v for k, v in cfg.items() if v is not None or k == "rope_scaling"}
    arch = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}[modelType]
    configJson.update(model_type=modelType, architectures=[arch], bos_token_id=cfg["vocab_size"] - 1,
                      eos_token_id=cfg["vocab_size"] - 1,
                      torch_dtype={"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype])
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(configJson, f, indent=2)
    make_checkpoint.writeTokenizer(out, cfg["vocab_size"])
    return configJson, decoded


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--model-type", default="llama", choices=["llama", "mistral", "qwen2"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    ap.add_argument("--sharded", action="store_true")
    ap.add_argument("--vocab-size", type=int, default=DEFAULTS["vocab_size"])
    ap.add_argument("--positions", type=int, default=DEFAULTS["max_position_embeddings"])
    ap.add_argument("--hidden", type=int, default=DEFAULTS["hidden_size"])
    ap.add_argument("--inner", type=int, default=DEFAULTS["intermediate_size"])
    ap.add_argument("--layers", type=int, default=DEFAULTS["num_hidden_layers"])
    ap.add_argument("--heads", type=int, default=DEFAULTS["num_attention_heads"])
    ap.add_argument("--kv-heads", type=int, default=DEFAULTS["num_key_value_heads"])
    ap.add_argument("--head-dim", type=int, default=None)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--attention-bias", action="store_true")
    ap.add_argument("--sliding-window", type=int, default=None)
    a = ap.parse_args()
    extra = {}
    if a.sliding_window is not None:
        extra["sliding_window"] = a.sliding_window
        if a.model_type == "qwen2":
            extra.update(use_sliding_window=True, max_window_layers=0)
    makeLlamaCheckpoint(a.out, modelType=a.model_type, seed=a.seed, dtype=a.dtype, sharded=a.sharded,
                        vocab_size=a.vocab_size, max_position_embeddings=a.positions, hidden_size=a.hidden,
                        intermediate_size=a.inner, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                        num_key_value_heads=a.kv_heads, head_dim=a.head_dim, tie_word_embeddings=a.tied,
                        attention_bias=a.attention_bias, **extra)


if __name__ == "__main__":
    main()
