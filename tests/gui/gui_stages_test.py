#!/usr/bin/env python3
"""One list of stages (issue 12), in the real app through --script:
  * Q, K, V from 3-D .npy files ([2 heads, n, 4]) set the head count from the files, as the
    command line does (they kept the previous sample's 4 heads, of width 2).
  * Loading one's own Q/K/V, or switching mode, ends the sample's name and description in the
    app and in a saved session; the session stores the step by its stage name.
  * `load V FILE` in token mode drops the token model: no heads · W_O stage with the old W_O.
  * File > Export numbers writes the files `attnviz compute` writes, with the same numbers.
  * Export all steps writes one figure per stage of the strip, named by the stage.
usage: gui_stages_test.py ATTNVIZ"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from guitest import check, finish, load, write_script

APP = sys.argv[1]
work = tempfile.mkdtemp(prefix="attnviz_stages_")
print("work directory:", work)
rng = np.random.default_rng(3)
n, m = 5, 6
for name, rows in (("q", n), ("k", m), ("v", m)):
    np.save(os.path.join(work, name + "3.npy"), rng.uniform(-1, 1, (2, rows, 4)).astype(np.float32))
np.save(os.path.join(work, "v_narrow.npy"), rng.uniform(-1, 1, (11, 8)).astype(np.float32))  # pronoun-toy: 11 tokens


def run(lines, name):
    script = write_script(os.path.join(work, name + ".txt"), lines + ["quit"])
    p = subprocess.run([APP, "--no-recovery", "--ignore-pointer", "--script", script], capture_output=True,
                       text=True, timeout=180)
    check(p.returncode == 0, "%s: the app runs the script (stderr: %s)" % (name, p.stderr.strip()[-300:]))


st = {k: os.path.join(work, k + ".json") for k in ("heads", "own", "vload", "mode", "numbers")}
saved_own, saved_mode = os.path.join(work, "own_session.json"), os.path.join(work, "mode_session.json")
run(["sample pronoun-toy", "goto 4",
     "load Q " + os.path.join(work, "q3.npy"), "load K " + os.path.join(work, "k3.npy"),
     "load V " + os.path.join(work, "v3.npy"), "wait-frames 2", "dump-state " + st["heads"],
     "save " + saved_own], "heads")
s = load(st["heads"])
check(s["heads"] == 2 and s["error"] == "", "3-D Q, K, V set 2 heads, as the files say (heads %s, error %r)"
      % (s["heads"], s["error"]))
check(s["mode"] == "matrices" and s["name"] == "" and s["description"] == "" and s["sample"] == "",
      "own matrices: the sample's name and description are gone (%r, %r, %r)" % (s["name"], s["description"], s["sample"]))
check("projected" not in s["steps"] and "projected" not in s["trace_stages"], "matrices mode: no W_O stage")
saved = load(saved_own)
check(saved["name"] == "" and saved["description"] == "", "saved session carries no sample name (%r)" % saved["name"])
check(saved["view"]["step"] == "exp" and saved["options"]["heads"] == 2,
      "saved session: the step by name, 2 heads (%r, %r)" % (saved["view"]["step"], saved["options"]["heads"]))

run(["sample pronoun-toy", "goto 8", "load V " + os.path.join(work, "v_narrow.npy"), "wait-frames 2",
     "dump-state " + st["vload"]], "vload")
s = load(st["vload"])
check(s["mode"] == "matrices" and s["error"] == "" and s["d_v"] == 8,
      "load V in token mode: matrices mode with the new V (mode %s, d_v %s, error %r)" % (s["mode"], s["d_v"], s["error"]))
check("projected" not in s["trace_stages"] and "projected" not in s["steps"] and s["step"] <= 7,
      "load V in token mode: the old token model's W_O is gone (stages %s, step %s)" % (s["trace_stages"], s["step"]))

run(["sample pronoun-toy", "set mode matrices", "wait-frames 2", "dump-state " + st["mode"], "save " + saved_mode],
    "mode")
s = load(st["mode"])
check(s["name"] == "" and s["description"] == "" and load(saved_mode)["name"] == "",
      "switching mode ends the sample's name (%r)" % s["name"])

# Numbers: the app writes what `attnviz compute` writes.
app_dir, cli_dir, series = (os.path.join(work, d) for d in ("app_numbers", "cli_numbers", "series"))
run(["sample causal-lm-toy", "set temperature 0.5", "export-numbers %s npy" % app_dir, "export-series " + series],
    "numbers")
c = subprocess.run([APP, "compute", "--sample", "causal-lm-toy", "--temperature", "0.5", "--out", cli_dir],
                   capture_output=True, text=True, timeout=60)
check(c.returncode == 0, "attnviz compute (%s)" % c.stderr.strip()[-200:])
app_files, cli_files = sorted(os.listdir(app_dir)), sorted(os.listdir(cli_dir))
check(app_files == cli_files, "the same files: app %s, compute %s" % (app_files, cli_files))
for f in cli_files:
    if not f.endswith(".npy") or f not in app_files:
        continue
    a, b = np.load(os.path.join(app_dir, f)), np.load(os.path.join(cli_dir, f))
    check(a.shape == b.shape and np.array_equal(a, b), "%s: same shape %s and numbers" % (f, b.shape))
ta, tc = load(os.path.join(app_dir, "trace.json")), load(os.path.join(cli_dir, "trace.json"))
for key in ("shapes", "options", "stages", "rows"):
    check(ta[key] == tc[key], "trace.json %s agrees" % key)
want = ["step_%02d_%s.png" % (k + 1, name) for k, name in enumerate(tc["stages"])]
check(sorted(os.listdir(series)) == want, "series: one figure per stage (%s)" % sorted(os.listdir(series)))

finish("stages")
