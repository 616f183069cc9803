#!/usr/bin/env python3
"""Unsaved work survives a SIGKILL, and a clean quit leaves nothing to recover.

Each case runs the real app under xvfb-run (ctest does) with its own XDG_STATE_HOME, so the
user's recovery file is never touched, and a short ATTNVIZ_RECOVERY_SECONDS:
  killed      edit, see the recovery file appear within the interval (whole JSON, no temporary
              files beside it), SIGKILL, relaunch: the offer is shown (screenshot kept), restoring
              brings the edits back, and quitting then asks before dropping them.
  clean_quit  edit, save (the file goes), edit again (it comes back), quit: the app asks, the
              answer quits, the file is gone, and the next launch offers nothing.
usage: recovery_test.py ATTNVIZ [OUTPUT_DIR]
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

APP = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="attnviz_recovery_out_")
INTERVAL = 1.0
# The first frame and a software-rendered UI on a loaded CI machine: generous, but bounded.
SLACK = 4.0

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def launch(state_home, work, lines, *extra):
    script = os.path.join(work, "script-%d.txt" % time.monotonic_ns())
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, XDG_STATE_HOME=state_home, ATTNVIZ_RECOVERY_SECONDS=str(INTERVAL))
    return subprocess.Popen([APP, "--recovery", "--ignore-pointer", "--script", script, *extra], env=env)


def load(path):
    with open(path) as f:
        return json.load(f)


def case_killed():
    print("== killed", flush=True)
    work = tempfile.mkdtemp(prefix="attnviz_recovery_")
    state_home = os.path.join(work, "state")
    recovery = os.path.join(state_home, "attnviz", "recovery.json")
    edited = os.path.join(work, "edited.json")
    text = "the quick brown fox jumps"
    proc = launch(state_home, work, ["sample pronoun", "set temperature 0.37", "set text " + text,
                                     "goto 3", "dump-state " + edited])
    try:
        check(wait_for(lambda: os.path.exists(edited), 60), "the edits ran")
        edit_time = time.monotonic()
        appeared = wait_for(lambda: os.path.exists(recovery), INTERVAL + SLACK)
        delay = time.monotonic() - edit_time
        check(appeared, "recovery file written %.2f s after the edits (interval %.1f s)" % (delay, INTERVAL))
        if appeared:
            session = load(recovery)  # parses: the write is atomic, never half a file
            check(session["options"]["temperature"] == 0.37 and session["tokens"]["text"] == text,
                  "the recovery file holds the edits")
            check(os.listdir(os.path.dirname(recovery)) == ["recovery.json"], "no temporary files beside it")
        check(proc.poll() is None, "the app is still running before the kill")
    finally:
        proc.send_signal(signal.SIGKILL)
        rc = proc.wait(timeout=30)
    check(rc == -signal.SIGKILL, "killed by SIGKILL (rc %s)" % rc)
    check(os.path.exists(recovery), "the recovery file survives the kill")

    offered, restored, asked = (os.path.join(work, n) for n in ("offered.json", "restored.json", "asked.json"))
    prompt_png = os.path.join(OUT, "recovery_prompt.png")
    proc = launch(state_home, work, [
        "wait-frames 3", "screenshot " + prompt_png, "dump-state " + offered,
        "recovery restore", "wait-frames 2", "dump-state " + restored,
        "quit", "wait-frames 2", "dump-state " + asked, "quit-answer dont-save"])
    rc = proc.wait(timeout=120)
    check(rc == 0, "relaunch exits cleanly (rc %s)" % rc)
    s = load(offered)
    check(s["recovery_offered"] is True, "the relaunch offers to restore")
    check(s["temperature"] == 1 and s["text"] != text, "nothing is restored before the user says so")
    check(os.path.getsize(prompt_png) > 0, "screenshot of the offer: " + prompt_png)
    s = load(restored)
    check(s["recovery_offered"] is False and s["unsaved"] is True, "restored work counts as unsaved")
    check(abs(s["temperature"] - 0.37) < 1e-6, "temperature restored (%s)" % s["temperature"])
    check(s["text"] == text and s["query_tokens"] == text.split(), "tokens text restored")
    check(s["step"] == 3, "step restored (%s)" % s["step"])
    check(load(asked)["quit_question"] is True, "quitting with restored, unsaved work asks first")
    check(not os.path.exists(recovery), "the answered quit removes the recovery file")


def case_clean_quit():
    print("== clean_quit", flush=True)
    work = tempfile.mkdtemp(prefix="attnviz_recovery_")
    state_home = os.path.join(work, "state")
    recovery = os.path.join(state_home, "attnviz", "recovery.json")
    go1, go2 = os.path.join(work, "go1"), os.path.join(work, "go2")
    saved, asked, final = (os.path.join(work, n) for n in ("saved.json", "asked.json", "final.json"))
    proc = launch(state_home, work, [
        "sample causal-lm", "set temperature 2.5", "wait-for-file " + go1,
        "save " + saved, "wait-frames 5", "set mask none", "wait-for-file " + go2,
        "quit", "wait-frames 2", "dump-state " + asked, "quit-answer dont-save"], "--dump-state", final)
    try:
        check(wait_for(lambda: os.path.exists(recovery), 60), "recovery file written after an edit")
        open(go1, "w").close()
        check(wait_for(lambda: not os.path.exists(recovery), 10, 0.005), "saving removes the recovery file")
        check(wait_for(lambda: os.path.exists(recovery), INTERVAL + SLACK), "a later edit writes it again")
        open(go2, "w").close()
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(rc == 0, "clean quit (rc %s)" % rc)
    check(load(asked)["quit_question"] is True, "quit with unsaved edits asks Save / Don't save / Cancel")
    check(load(final)["script_failed"] is False, "every script action succeeded")
    check(not os.path.exists(recovery), "a clean quit leaves no recovery file")

    # Nothing to offer after a clean exit; and quitting with nothing unsaved does not ask.
    state = os.path.join(work, "relaunch.json")
    proc = launch(state_home, work, ["wait-frames 3", "quit"], "--dump-state", state)
    check(proc.wait(timeout=60) == 0, "relaunch quits without a question")
    check(load(state)["recovery_offered"] is False, "no offer after a clean exit")


case_killed()
case_clean_quit()
if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("all recovery checks passed")
