#!/usr/bin/python3
"""attnviz against NumPy, side by side in one run, on the same inputs.

For each size, writes Q, K, V as float32 .npy files, times NumPy's softmax(QKᵀ/√d)·V on them
(float32, OpenBLAS, median of --repeat runs after a warm-up), runs `attnviz bench` on the same
files, and prints a table with the ratio attnviz / NumPy (lower is better).

usage: scripts/compare_numpy.py [--bin build/app/attnviz] [--repeat 7] [--sizes 1024x64x1,4096x64x1,4096x512x8]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def numpy_attention(q, k, v, heads):
    n, d = q.shape
    dh = d // heads
    dv = v.shape[1] // heads
    out = np.empty((heads, n, dv), dtype=np.float32)
    for h in range(heads):
        s = q[:, h * dh:(h + 1) * dh] @ k[:, h * dh:(h + 1) * dh].T
        s *= np.float32(1 / np.sqrt(dh))
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        out[h] = s @ v[:, h * dv:(h + 1) * dv]
    return out


def median_ms(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(here, "..", "build", "app", "attnviz"))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--sizes", default="1024x64x1,4096x64x1,4096x512x8",
                    help="comma-separated n x d x heads (m = n)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.sizes.split(","):
            n, d, heads = (int(x) for x in spec.split("x"))
            q, k, v = (rng.uniform(-1, 1, (n, d)).astype(np.float32) for _ in range(3))
            paths = {}
            for name, a in (("q", q), ("k", k), ("v", v)):
                paths[name] = os.path.join(tmp, name + ".npy")
                np.save(paths[name], a)
            np_ms = median_ms(lambda: numpy_attention(q, k, v, heads), args.repeat)
            out = subprocess.run([args.bin, "bench", "--q", paths["q"], "--k", paths["k"], "--v", paths["v"],
                                  "--heads", str(heads), "--repeat", str(args.repeat), "--json"],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            rows.append((n, d, heads, np_ms, r["median_ms"]["full_trace"], r["median_ms"]["from_scale"],
                         r["fraction_of_sgemm"], r["sgemm"]["gflops"]))
    print(f"NumPy {np.__version__}, attnviz full trace (scores and weights kept), median of {args.repeat}")
    print("| n = m | d | heads | NumPy ms | attnviz ms | attnviz / NumPy | temperature change ms | rate vs in-run SGEMM |")
    print("|---|---|---|---|---|---|---|---|")
    for n, d, h, np_ms, av_ms, scale_ms, frac, sg in rows:
        print(f"| {n} | {d} | {h} | {np_ms:.1f} | {av_ms:.1f} | {av_ms / np_ms:.2f}x | {scale_ms:.1f} "
              f"({100 * scale_ms / av_ms:.0f}%) | {100 * frac:.0f}% of {sg:.0f} GFLOP/s |")


if __name__ == "__main__":
    sys.exit(main())
