"""Issue 21: in model mode the model's shape is read-only and every "what if" is said. On the
built-in model's `pronoun` sample, `set heads 2` is refused with a message and the heads stay
the model's (4 × 32); temperature, mask, ablation each appear in the status bar's WHAT IF list
(read through --dump-state) and leave it when undone.

Run under xvfb-run: model_readonly_test.py ATTNVIZ OUTDIR."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guitest import check, finish, load, write_script  # noqa: E402

APP, OUT = sys.argv[1], sys.argv[2]
WORK = os.path.join(OUT, "model_readonly")
os.makedirs(WORK, exist_ok=True)
states = [os.path.join(WORK, "state%d.json" % i) for i in range(3)]
for s in states:
    if os.path.exists(s):
        os.remove(s)
script = write_script(os.path.join(WORK, "script.txt"), [
    "wait-frames 3",
    "set heads 2",
    "wait-frames 2",
    "dump-state " + states[0],
    "set temperature 2",
    "set mask none",
    "ablate 1 0",
    "wait-frames 3",
    "dump-state " + states[1],
    "set temperature 1",
    "set mask causal",
    "restore 1 0",
    "wait-frames 3",
    "dump-state " + states[2],
    "quit",
])
p = subprocess.run([APP, "--sample", "pronoun", "--no-recovery", "--ignore-pointer", "--script", script],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
refused, changed, restored = (load(s) for s in states)
check(refused["heads"] == 4, "heads stay the model's 4 after `set heads 2` (got %s)" % refused["heads"])
check("heads cannot be changed" in refused["message"] and refused["script_failed"],
      "the refusal is reported: " + refused["message"])
check(refused["what_ifs"] == [], "no what-if before any is set: %s" % refused["what_ifs"])
w = changed["what_ifs"]
check(w == ["temperature 2", "mask none", "layer 1 head 0 ablated"], "every what-if is listed: %s" % w)
check(restored["what_ifs"] == [], "undone what-ifs leave the list: %s" % restored["what_ifs"])
finish("model read-only")
