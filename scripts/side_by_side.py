"""Side-by-side timing of a PyTorch forward pass and `attnviz bench --model-shape SHAPE`.

Used by bench_gpt2_torch.py and bench_llama_torch.py. This project's machines are shared and
their speed drifts by 10-20% over minutes, so one PyTorch run followed by one attnviz run can
show a ratio that is the drift's, not the programs'. Each round here times PyTorch (median of
`repeat`, at each thread setting) and then attnviz (median of `repeat`) back to back; the ratio
reported is the median of the rounds' ratios, each against that round's faster PyTorch setting.
"""
import json
import statistics
import subprocess
import time

import torch


def time_torch(forward, params, ids, repeat):
    """Median milliseconds, and the cores PyTorch kept busy (CPU time / wall time): its products go
    to the system BLAS, Debian's OpenBLAS, whose own threads use every core even under
    torch.set_num_threads(1)."""
    with torch.no_grad():
        forward(params, ids)
        times = []
        wall = cpu = 0.0
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            forward(params, ids)
            times.append((time.perf_counter() - t) * 1e3)
            wall += time.perf_counter() - t
            cpu += time.process_time() - c
    return statistics.median(times), cpu / wall


def time_attnviz(attnviz, shape, n, repeat, env):
    out = subprocess.run([attnviz, "bench", "--model-shape", shape, "--n", str(n), "--repeat", str(repeat), "--json"],
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.splitlines()[-1])


def compare(attnviz, shape, forward, params, make_ids, lengths, repeat, rounds, thread_settings, env=None):
    for n in lengths:
        ids = make_ids(n)
        ratios = []
        for r in range(rounds):
            torch_ms, cores = {}, {}
            for threads in thread_settings:
                torch.set_num_threads(threads)
                torch_ms[threads], cores[threads] = time_torch(forward, params, ids, repeat)
            j = time_attnviz(attnviz, shape, n, repeat, env)
            best = min(torch_ms.values())
            ratios.append(j["forward_ms"] / best)
            settings = ", ".join(f"{t} thread(s) {ms:.1f} ms ({cores[t]:.1f} cores busy)" for t, ms in torch_ms.items())
            print(f"n = {n}, round {r + 1}: pytorch {torch.__version__} {settings}; attnviz ({j['threads']} thread(s)) "
                  f"{j['forward_ms']:.1f} ms = {ratios[-1]:.2f} x the faster; {100 * j['fraction_of_sgemm']:.0f}% of the "
                  f"in-run SGEMM rate ({j['sgemm_gflops']:.1f} GFLOP/s); peak RSS {j['peak_rss_mib']:.0f} MiB", flush=True)
        print(f"n = {n}: attnviz / PyTorch's faster setting, median of {rounds} rounds: {statistics.median(ratios):.2f}",
              flush=True)
