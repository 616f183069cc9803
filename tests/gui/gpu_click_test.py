#!/usr/bin/env python3
"""A real xdotool click on the GPU backend option (its place comes from --dump-state's
`backend-gpu` rectangle). On Mesa llvmpipe the GPU backend normally starts and the views show
its trace; while the compute kernels cannot run in a given tree, the app must say so instead.
Either way the test checks what the UI shows, and never skips:
  GPU active   backend "GPU", the GPU option selected, its weights within 1e-5 of the CPU's
  fallback     backend "CPU" with the note naming the reason (shown under the option)
usage: gpu_click_test.py ATTNVIZ [OUTPUT_DIR]   (the screenshot after the click goes there)"""
import os
import shutil
import subprocess
import sys
import tempfile

from guitest import app_window, centre, check, click, finish, touch, wait_for_json, write_script

APP = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else None

work = tempfile.mkdtemp(prefix="attnviz_gpu_click_")
try:
    layout, after, go = (os.path.join(work, n) for n in ("layout.json", "after.json", "go"))
    shot = os.path.join(OUT or work, "gpu_click.png")
    script = write_script(os.path.join(work, "script.txt"), [
        "sample pronoun-toy", "goto 6", "wait-frames 3", "dump-state " + layout,
        "wait-for-file " + go, "wait-frames 5", "screenshot " + shot, "dump-state " + after, "quit"])
    proc = subprocess.Popen([APP, "--no-recovery", "--script", script])
    try:
        window = app_window()
        s = wait_for_json(layout)
        check(s["backend"] == "CPU" and s["gpu"]["selected"] == "cpu" and s["gpu"]["note"] == "",
              "the app starts on the CPU with no note")
        click(window, *centre(s["widgets"]["backend-gpu"]))
        touch(go)
        s = wait_for_json(after)
        check(proc.wait(timeout=60) == 0, "the app exits 0")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    g = s["gpu"]
    print("renderer %r, backend %s, note %r, unavailable %r" % (g["renderer"], s["backend"], g["note"], g["unavailable"]))
    if g["active"]:
        check(s["backend"] == "GPU" and g["selected"] == "gpu", "the click switched the views to the GPU's trace")
        diff = g.get("max_diff", {}).get("weights")
        check(diff is not None and diff < 1e-5, "GPU weights within 1e-5 of the CPU (%s)" % diff)
        check(s["script_failed"] is False, "no script action failed")
    else:
        # The GPU could not run: the click must still have registered, and the UI says why.
        check(s["backend"] == "CPU", "the views stay on the CPU's trace")
        reason = g["note"] or g["unavailable"]
        check(len(reason) > len("GPU unavailable, using the CPU: "),
              "the fallback note gives a reason: %r" % reason)
    check(os.path.getsize(shot) > 0, "screenshot after the click: " + shot)
finally:
    shutil.rmtree(work, ignore_errors=True)
finish("GPU click")
