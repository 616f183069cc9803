#!/usr/bin/python3
"""PyTorch's time for the forward pass `attnviz bench --model-shape gpt2` measures, side by side.

  scripts/bench_gpt2_torch.py [ATTNVIZ] [--n 128 1024] [--repeat 3] [--rounds 3]

GPT-2 small's shapes (12 layers, 12 heads, d_model 768, vocabulary 50257) with random weights,
under torch.no_grad(), keeping every layer's attention weights and computing the logits of the
last position only (as attnviz does), with one and with two threads, and `ATTNVIZ bench
--model-shape gpt2 --json` at the same lengths, in alternating rounds (side_by_side.py). Prints
medians and ratios.
"""
import argparse
import math

import torch

from side_by_side import compare


def forward(params, ids, n_head):
    wte, wpe, blocks, lnf = params
    n = ids.shape[0]
    x = wte[ids] + wpe[:n]
    d = x.shape[1]
    hd = d // n_head
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
    kept = []
    for (l1w, l1b, aw, ab, pw, pb, l2w, l2b, fw, fb, mw, mb) in blocks:
        h = torch.nn.functional.layer_norm(x, (d,), l1w, l1b, 1e-5)
        q, k, v = (h @ aw + ab).split(d, dim=1)
        q = q.view(n, n_head, hd).transpose(0, 1)
        k = k.view(n, n_head, hd).transpose(0, 1)
        v = v.view(n, n_head, hd).transpose(0, 1)
        s = (q @ k.transpose(1, 2)) / math.sqrt(hd)
        a = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        kept.append(a)
        z = (a @ v).transpose(0, 1).reshape(n, d)
        x = x + z @ pw + pb
        h = torch.nn.functional.layer_norm(x, (d,), l2w, l2b, 1e-5)
        x = x + torch.nn.functional.gelu(h @ fw + fb, approximate="tanh") @ mw + mb
    x = torch.nn.functional.layer_norm(x[-1:], (d,), lnf[0], lnf[1], 1e-5)
    return x @ wte.t(), kept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attnviz", nargs="?", default="build/app/attnviz")
    ap.add_argument("--n", type=int, nargs="+", default=[128, 1024])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    d, L, H, V, P, inner = 768, 12, 12, 50257, 1024, 3072
    r = lambda *s: torch.randn(*s) * 0.02
    blocks = [(torch.ones(d), r(d), r(d, 3 * d), r(3 * d), r(d, d), r(d), torch.ones(d), r(d), r(d, inner), r(inner),
               r(inner, d), r(d)) for _ in range(L)]
    params = (r(V, d), r(P, d), blocks, (torch.ones(d), r(d)))
    compare(args.attnviz, "gpt2", lambda p, ids: forward(p, ids, H), params, lambda n: torch.arange(n) * 7919 % V,
            args.n, args.repeat, args.rounds, [1, 2])


if __name__ == "__main__":
    main()
