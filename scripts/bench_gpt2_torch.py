#!/usr/bin/python3
"""PyTorch's time for the forward pass `attnviz bench --model-shape gpt2` measures, side by side.

  scripts/bench_gpt2_torch.py [ATTNVIZ] [--n 128 1024] [--repeat 3]

GPT-2 small's shapes (12 layers, 12 heads, d_model 768, vocabulary 50257) with random weights,
under torch.no_grad(), keeping every layer's attention weights and computing the logits of the
last position only (as attnviz does), with one and with two threads; then `ATTNVIZ bench
--model-shape gpt2 --json` at the same lengths, in the same run. Prints medians and ratios.
"""
import argparse
import json
import math
import subprocess
import time

import torch


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
    args = ap.parse_args()
    torch.manual_seed(0)
    d, L, H, V, P, inner = 768, 12, 12, 50257, 1024, 3072
    r = lambda *s: torch.randn(*s) * 0.02
    blocks = [(torch.ones(d), r(d), r(d, 3 * d), r(3 * d), r(d, d), r(d), torch.ones(d), r(d), r(d, inner), r(inner),
               r(inner, d), r(d)) for _ in range(L)]
    params = (r(V, d), r(P, d), blocks, (torch.ones(d), r(d)))
    results = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for n in args.n:
            ids = torch.arange(n) * 7919 % V
            with torch.no_grad():
                forward(params, ids, H)
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    forward(params, ids, H)
                    times.append((time.perf_counter() - t) * 1e3)
            times.sort()
            results[(threads, n)] = times[len(times) // 2]
            print(f"pytorch {torch.__version__}, {threads} thread(s), n = {n}: {results[(threads, n)]:.1f} ms", flush=True)
    for n in args.n:
        out = subprocess.run([args.attnviz, "bench", "--model-shape", "gpt2", "--n", str(n), "--repeat", str(args.repeat),
                              "--json"], check=True, capture_output=True, text=True).stdout
        j = json.loads(out.splitlines()[-1])
        best = min(results[(1, n)], results[(2, n)])
        print(f"attnviz, n = {n}: {j['forward_ms']:.1f} ms = {j['forward_ms'] / best:.2f} x PyTorch's faster setting "
              f"({best:.1f} ms); {100 * j['fraction_of_sgemm']:.0f}% of the in-run SGEMM rate "
              f"({j['sgemm_gflops']:.1f} GFLOP/s); peak RSS {j['peak_rss_mib']:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
