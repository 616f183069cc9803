#!/usr/bin/env python3
"""The CPU/GPU backend selector in the real app under Xvfb (Mesa llvmpipe): `set backend gpu`
runs the GLSL kernels on the window's context, the views show the GPU's trace and the
difference view compares it with the CPU engine; a GPU failure (a stage buffer too small for
one row) falls back to the CPU with a note instead of crashing. Screenshots are kept in the
work directory printed at the start, for a person to look at."""
import json
import os
import subprocess
import sys
import tempfile

from guitest import check, finish

app = sys.argv[1]
work = tempfile.mkdtemp(prefix="attnviz_backend_")
print("work directory:", work)


def run(name, lines):
    script = os.path.join(work, name + ".txt")
    state = os.path.join(work, name + ".json")
    with open(script, "w") as f:
        f.write("\n".join(lines + ["quit"]) + "\n")
    p = subprocess.run([app, "--no-recovery", "--ignore-pointer", "--script", script, "--dump-state", state],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"{name}: the app exits 0 (stderr: {p.stderr.strip()[-300:]})")
    return json.load(open(state))


# GPU selected: the pronoun-toy sample with a causal mask and T = 0.5, shown at the softmax weights.
gpu_png = os.path.join(work, "gpu_weights.png")
s = run("gpu", ["sample pronoun-toy", "set mask causal", "set temperature 0.5", "set backend gpu", "goto 6",
                "wait-frames 3", f"screenshot {gpu_png}", "wait-frames 1"])
g = s["gpu"]
check(s["backend"] == "GPU", f"backend is GPU (got {s['backend']}, note: {g['note']})")
check("llvmpipe" in g["renderer"], f"renderer is Mesa llvmpipe (got {g['renderer']!r})")
check(s["backend_name"].startswith("GPU (llvmpipe"), f"status names the GPU ({s['backend_name']})")
diffs = g.get("max_diff", {})
check(diffs.get("weights") is not None and diffs["weights"] <= 1e-5,
      f"max |CPU - GPU| of the weights <= 1e-5 (got {diffs.get('weights')})")
check(all(v is not None and v <= 1e-4 for k, v in diffs.items() if k != "exp") and
      diffs.get("exp") is not None and diffs["exp"] <= 1e-5, f"every stage close to the CPU ({diffs})")
check(g["gpu_ms"] > 0 and g["cpu_ms"] >= 0, f"both timings recorded (CPU {g['cpu_ms']} ms, GPU {g['gpu_ms']} ms)")
check(os.path.getsize(gpu_png) > 10000, f"screenshot written: {gpu_png}")

# Back to the CPU.
s = run("cpu", ["sample pronoun-toy", "set backend gpu", "wait-frames 2", "set backend cpu", "wait-frames 2"])
check(s["backend"] == "CPU" and s["gpu"]["selected"] == "cpu", "set backend cpu returns to the CPU")

# A failure on the GPU: a 16-byte stage buffer cannot hold one row of keys.
fallback_png = os.path.join(work, "gpu_fallback.png")
s = run("fallback", ["sample pronoun-toy", "set gpu-buffer-limit 16", "set backend gpu", "wait-frames 3",
                     f"screenshot {fallback_png}", "wait-frames 1"])
g = s["gpu"]
check(s["backend"] == "CPU", f"falls back to the CPU (got {s['backend']})")
check(g["selected"] == "cpu", "the selector shows the CPU again")
check(g["note"].startswith("GPU failed, using the CPU") and "does not fit" in g["note"],
      f"the note says why ({g['note']!r})")
check(s["error"] == "" and s["n"] > 0, "the CPU result is shown")

# The backend choice is not an edit: nothing becomes unsaved, and the script did not fail.
check(not s["script_failed"], "no script line failed")

finish("backend")
