#!/usr/bin/env python3
"""Large inputs off the UI thread: a 2048×2048 input (4 heads, d = 64 each) is computed by a worker while the
window keeps drawing. Checks, from --frame-stats and --dump-state, that frames kept coming during
the computation and none took over 250 ms, that the progress bar and stale marker were on screen
(a screenshot taken mid-computation, kept for a person to look at) and that the result arrived."""
import csv
import json
import os
import subprocess
import sys
import tempfile

from guitest import check, finish

app = sys.argv[1]
work = tempfile.mkdtemp(prefix="attnviz_large_")
print("work directory:", work)


def run(name, extra_lines):
    """Loads the pronoun-toy sample, lets the window settle, then switches to a 2048×2048 input with
    4 heads of width 64 in one frame (one worker job) and steps to the weights."""
    script, state, stats = (os.path.join(work, name + ext) for ext in (".txt", ".json", ".csv"))
    with open(script, "w") as f:
        f.write("\n".join(["sample pronoun-toy", "wait-frames 5", "set mode matrices", "resize 2048 2048 256 256",
                           "set heads 4", "fill Q random 1", "fill K random 2", "fill V random 3",
                           "set mask causal", "goto 6", *extra_lines, "wait-frames 2", "quit"]) + "\n")
    p = subprocess.run([app, "--no-recovery", "--ignore-pointer", "--script", script, "--dump-state", state,
                        "--frame-stats", stats], capture_output=True, text=True, timeout=240)
    check(p.returncode == 0, f"{name}: the app exits 0 (stderr: {p.stderr.strip()[-300:]})")
    frames = [float(r["ms"]) for r in csv.DictReader(open(stats))]
    return json.load(open(state)), frames


# Frame times, with nothing else (no screenshot) in the frames.
s, frames = run("frames", [])

runs = [r for r in s.get("worker_runs", []) if r["n"] == 2048]
check(len(runs) == 1, f"one worker run for the 2048×2048 input ({s.get('worker_runs')})")
if runs:
    r = runs[0]
    during = frames[r["start_frame"]:r["end_frame"]]
    print(f"worker {r['ms']:.0f} ms, frames {r['start_frame']}..{r['end_frame']}: "
          f"{len(during)} frames, slowest {max(during, default=0):.0f} ms")
    check(r["end_frame"] > r["start_frame"] + 2, "at least 3 frames were drawn while the worker computed")
    check(all(ms <= 250 for ms in during), f"no frame during the computation took over 250 ms ({during})")
check(s["n"] == 2048 and s["m"] == 2048, f"the result arrived (n = {s['n']}, m = {s['m']})")
check(s["error"] == "" and not s["stale"] and not s["computing"], "nothing stale or pending at the end")
# A screenshot two frames into the computation (saving it takes a frame of its own).
shot = os.path.join(work, "computing.png")
s, _ = run("screenshot", [f"screenshot {shot}"])
check(s["n"] == 2048, "the result arrived after the screenshot too")
check(os.path.getsize(shot) > 10000, f"screenshot during the computation: {shot}")
sidecar = json.load(open(shot + ".json"))
check(sidecar.get("computing") is True and sidecar.get("stale") is True,
      f"the screenshot was taken while computing with the stale marker up ({sidecar})")

finish("large-input")
