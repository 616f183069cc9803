#!/usr/bin/python3
"""PyTorch's time for the forward pass `attnviz bench --model-shape vit-base` measures, side by side.

  scripts/bench_vit_torch.py [ATTNVIZ] [--repeat 3] [--threads 1]

ViT-B/16's shapes (224×224 RGB in 16×16 patches: 196 patches and [CLS]; hidden 768, 12 layers of
12 heads, MLP 3072 with the exact GELU, LayerNorm eps 1e-12, 1000 labels) with random float32
weights, under torch.no_grad(): the patch convolution, position embeddings, pre-norm blocks with
every layer's attention weights kept (attnviz keeps them for the views), the final LayerNorm and
the classifier on [CLS]; then `ATTNVIZ bench --model-shape vit-base --json` in the same run with
OMP_NUM_THREADS set to the same thread count. Prints medians and the ratio attnviz / PyTorch, and
the cores PyTorch kept busy: its products go to Debian's OpenBLAS, whose threads use every core
whatever torch.set_num_threads says (OPENBLAS_NUM_THREADS=1 pins it to one).
"""
import argparse
import json
import os
import subprocess

import torch
import torch.nn.functional as F

from side_by_side import time_torch

L, D, H, INNER, P, SIZE, LABELS, EPS = 12, 768, 12, 3072, 16, 224, 1000, 1e-12
DH = D // H


def forward(params, pixels):
    conv_w, conv_b, cls, pos, blocks, norm_w, norm_b, head_w, head_b = params
    x = F.conv2d(pixels[None], conv_w, conv_b, stride=P).flatten(2).transpose(1, 2)[0]
    x = torch.cat((cls, x), 0) + pos
    n = x.shape[0]
    kept = []
    for (n1w, n1b, wq, bq, wk, bk, wv, bv, wo, bo, n2w, n2b, w1, b1, w2, b2) in blocks:
        h = F.layer_norm(x, (D,), n1w, n1b, EPS)
        q = F.linear(h, wq, bq).view(n, H, DH).transpose(0, 1)
        k = F.linear(h, wk, bk).view(n, H, DH).transpose(0, 1)
        v = F.linear(h, wv, bv).view(n, H, DH).transpose(0, 1)
        a = torch.softmax((q @ k.transpose(1, 2)) / DH ** 0.5, dim=-1)
        kept.append(a)
        x = x + F.linear((a @ v).transpose(0, 1).reshape(n, D), wo, bo)
        h = F.layer_norm(x, (D,), n2w, n2b, EPS)
        x = x + F.linear(F.gelu(F.linear(h, w1, b1)), w2, b2)
    x = F.layer_norm(x, (D,), norm_w, norm_b, EPS)
    return F.linear(x[:1], head_w, head_b), kept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attnviz", nargs="?", default="build/app/attnviz")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    r = lambda *s: torch.randn(*s) * 0.02
    z = lambda *s: torch.zeros(*s)
    blocks = [(torch.ones(D), z(D), r(D, D), z(D), r(D, D), z(D), r(D, D), z(D), r(D, D), z(D), torch.ones(D), z(D),
               r(INNER, D), z(INNER), r(D, INNER), z(D)) for _ in range(L)]
    grid = SIZE // P
    params = (r(D, 3, P, P), z(D), r(1, D), r(1 + grid * grid, D), blocks, torch.ones(D), z(D), r(LABELS, D), z(LABELS))
    pixels = torch.randn(3, SIZE, SIZE)
    torchMs, cores = time_torch(forward, params, pixels, args.repeat)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run([args.attnviz, "bench", "--model-shape", "vit-base", "--repeat", str(args.repeat), "--json"],
                         check=True, capture_output=True, text=True, env=env).stdout
    j = json.loads(out.splitlines()[-1])
    print(f"vit-base, {1 + grid * grid} tokens: pytorch {torch.__version__} ({args.threads} thread(s), "
          f"{cores:.1f} cores busy) {torchMs:.1f} ms; "
          f"attnviz ({j['threads']} thread(s)) {j['forward_ms']:.1f} ms = {j['forward_ms'] / torchMs:.2f} x PyTorch; "
          f"{100 * j['fraction_of_sgemm']:.0f}% of the in-run SGEMM rate ({j['sgemm_gflops']:.1f} GFLOP/s); "
          f"peak RSS {j['peak_rss_mib']:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
