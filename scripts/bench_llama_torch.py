#!/usr/bin/python3
"""PyTorch's time for the forward pass `attnviz bench --model-shape smollm-135m` measures, side by side.

  scripts/bench_llama_torch.py [ATTNVIZ] [--n 128 1024] [--repeat 3] [--rounds 3] [--threads T]

SmolLM-135M's shapes (30 layers, hidden 576, 9 heads of 64 sharing 3 K/V heads, MLP 1536,
vocabulary 49152, rope_theta 10000, tied embeddings) with random float32 weights, under
torch.no_grad(): RMSNorm, rotary embeddings (rotate_half), K/V repeated to the query heads,
causal softmax with every layer's attention weights kept, SwiGLU, and the logits of the last
position only (as attnviz does), with one and with two threads, and `ATTNVIZ bench --model-shape
smollm-135m --json` at the same lengths on every core, in alternating rounds (side_by_side.py).
Prints medians and the ratio attnviz / PyTorch's faster setting. --threads T runs both, attnviz too, at T threads only.
"""
import argparse
import os

import torch

from side_by_side import compare

L, D, H, KV, DH, INNER, VOCAB, THETA, EPS = 30, 576, 9, 3, 64, 1536, 49152, 10000.0, 1e-5


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def forward(params, ids):
    embed, blocks, norm = params
    n = ids.shape[0]
    x = embed[ids]
    inv = 1.0 / THETA ** (torch.arange(0, DH, 2, dtype=torch.float32) / DH)
    angles = torch.arange(n, dtype=torch.float32)[:, None] * inv[None, :]
    emb = torch.cat((angles, angles), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
    kept = []
    for (n1, wq, wk, wv, wo, n2, wg, wu, wd) in blocks:
        h = rms(x, n1)
        q = (h @ wq.t()).view(n, H, DH).transpose(0, 1)
        k = (h @ wk.t()).view(n, KV, DH).transpose(0, 1)
        v = (h @ wv.t()).view(n, KV, DH).transpose(0, 1)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        k = k.repeat_interleave(H // KV, dim=0)
        v = v.repeat_interleave(H // KV, dim=0)
        s = (q @ k.transpose(1, 2)) / DH ** 0.5
        a = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        kept.append(a)
        x = x + (a @ v).transpose(0, 1).reshape(n, H * DH) @ wo.t()
        h = rms(x, n2)
        x = x + (torch.nn.functional.silu(h @ wg.t()) * (h @ wu.t())) @ wd.t()
    return rms(x[-1:], norm) @ embed.t(), kept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attnviz", nargs="?", default="build/app/attnviz")
    ap.add_argument("--n", type=int, nargs="+", default=[128, 1024])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="run both at this many threads (default: PyTorch at 1 and 2, attnviz on every core)")
    args = ap.parse_args()
    torch.manual_seed(0)
    r = lambda *s: torch.randn(*s) * 0.02
    blocks = [(torch.ones(D), r(H * DH, D), r(KV * DH, D), r(KV * DH, D), r(D, H * DH), torch.ones(D), r(INNER, D),
               r(INNER, D), r(D, INNER)) for _ in range(L)]
    params = (r(VOCAB, D), blocks, torch.ones(D))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads)) if args.threads else None
    compare(args.attnviz, "smollm-135m", forward, params, lambda n: torch.arange(n) * 7919 % VOCAB, args.n, args.repeat,
            args.rounds, [args.threads] if args.threads else [1, 2], env)


if __name__ == "__main__":
    main()
