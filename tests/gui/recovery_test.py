#!/usr/bin/env python3
"""Unsaved work survives a SIGKILL, and a clean quit leaves nothing to recover.

Each case runs the real app under xvfb-run (ctest does) with its own XDG_STATE_HOME, so the
user's recovery files are never touched, and a short ATTNVIZ_RECOVERY_SECONDS. Every window
keeps its own recovery-<pid>.json (locked by recovery-<pid>.lock while it runs).
  killed      edit, see the recovery file appear within the interval (whole JSON, nothing but
              its lock beside it), SIGKILL, relaunch: the offer is shown (screenshot kept),
              restoring brings the edits back, and quitting then asks before dropping them.
  clean_quit  edit, save (the file goes), edit again (it comes back), quit: the app asks, the
              answer quits, the file is gone, and the next launch offers nothing.
  two_windows two windows edit at once, each into its own file; a third launched meanwhile
              offers neither (both are alive); one quits cleanly and removes only its own; the
              other is killed, and the next launch offers exactly its file.
The temporary directories are removed at the end.
usage: recovery_test.py ATTNVIZ [OUTPUT_DIR]
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from guitest import check, finish, load, wait_for

APP = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else None  # where the offer's screenshot is kept
INTERVAL = 1.0
# The first frame and a software-rendered UI on a loaded CI machine: generous, but bounded.
SLACK = 4.0

temporary = []


def scratch():
    path = tempfile.mkdtemp(prefix="attnviz_recovery_")
    temporary.append(path)
    return path


def own_file(state_home, proc):
    return os.path.join(state_home, "attnviz", "recovery-%d.json" % proc.pid)


def state_files(state_home):
    return sorted(os.listdir(os.path.join(state_home, "attnviz")))


def launch(state_home, work, lines, *extra):
    script = os.path.join(work, "script-%d.txt" % time.monotonic_ns())
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, XDG_STATE_HOME=state_home, ATTNVIZ_RECOVERY_SECONDS=str(INTERVAL))
    return subprocess.Popen([APP, "--recovery", "--ignore-pointer", "--script", script, *extra], env=env)


def case_killed():
    print("== killed", flush=True)
    work = scratch()
    state_home = os.path.join(work, "state")
    edited = os.path.join(work, "edited.json")
    text = "the quick brown fox jumps"
    proc = launch(state_home, work, ["sample pronoun-toy", "set temperature 0.37", "set text " + text,
                                     "goto 3", "dump-state " + edited])
    recovery = own_file(state_home, proc)
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
            check(state_files(state_home) == ["recovery-%d.json" % proc.pid, "recovery-%d.lock" % proc.pid],
                  "its own name, and nothing but its lock beside it: %s" % state_files(state_home))
        check(proc.poll() is None, "the app is still running before the kill")
    finally:
        proc.send_signal(signal.SIGKILL)
        rc = proc.wait(timeout=30)
    check(rc == -signal.SIGKILL, "killed by SIGKILL (rc %s)" % rc)
    check(os.path.exists(recovery), "the recovery file survives the kill")

    offered, restored, asked = (os.path.join(work, n) for n in ("offered.json", "restored.json", "asked.json"))
    prompt_png = os.path.join(OUT or work, "recovery_prompt.png")
    proc = launch(state_home, work, [
        "wait-frames 3", "screenshot " + prompt_png, "dump-state " + offered,
        "recovery restore", "wait-frames 2", "dump-state " + restored,
        "quit", "wait-frames 2", "dump-state " + asked, "quit-answer dont-save"])
    rc = proc.wait(timeout=120)
    check(rc == 0, "relaunch exits cleanly (rc %s)" % rc)
    s = load(offered)
    check(s["recovery_offered"] is True and s["recovery_offer_file"] == recovery,
          "the relaunch offers to restore the killed window's file")
    check(s["recovery_file"] == own_file(state_home, proc), "the relaunch has a file of its own")
    check(s["temperature"] == 1 and s["text"] != text, "nothing is restored before the user says so")
    check(os.path.getsize(prompt_png) > 0, "screenshot of the offer: " + prompt_png)
    s = load(restored)
    check(s["recovery_offered"] is False and s["unsaved"] is True, "restored work counts as unsaved")
    check(abs(s["temperature"] - 0.37) < 1e-6, "temperature restored (%s)" % s["temperature"])
    check(s["text"] == text and s["query_tokens"] == text.split(), "tokens text restored")
    check(s["step"] == 3, "step restored (%s)" % s["step"])
    check(load(asked)["quit_question"] is True, "quitting with restored, unsaved work asks first")
    check(not os.path.exists(recovery), "restoring takes the killed window's file over")
    check(state_files(state_home) == [], "the answered quit removes the recovery file and its lock")


def case_clean_quit():
    print("== clean_quit", flush=True)
    work = scratch()
    state_home = os.path.join(work, "state")
    go1, go2 = os.path.join(work, "go1"), os.path.join(work, "go2")
    saved, asked, final = (os.path.join(work, n) for n in ("saved.json", "asked.json", "final.json"))
    proc = launch(state_home, work, [
        "sample causal-lm-toy", "set temperature 2.5", "wait-for-file " + go1,
        "save " + saved, "wait-frames 5", "set mask none", "wait-for-file " + go2,
        "quit", "wait-frames 2", "dump-state " + asked, "quit-answer dont-save"], "--dump-state", final)
    recovery = own_file(state_home, proc)
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
    check(state_files(state_home) == [], "a clean quit leaves no recovery file and no lock")

    # Nothing to offer after a clean exit; and quitting with nothing unsaved does not ask.
    state = os.path.join(work, "relaunch.json")
    proc = launch(state_home, work, ["wait-frames 3", "quit"], "--dump-state", state)
    check(proc.wait(timeout=60) == 0, "relaunch quits without a question")
    check(load(state)["recovery_offered"] is False, "no offer after a clean exit")


def case_two_windows():
    print("== two_windows", flush=True)
    work = scratch()
    state_home = os.path.join(work, "state")
    go_a, go_b, ready_a, ready_b = (os.path.join(work, n) for n in ("go_a", "go_b", "ready_a", "ready_b"))
    a = launch(state_home, work, ["sample pronoun-toy", "set temperature 0.25", "dump-state " + ready_a,
                                  "wait-for-file " + go_a, "quit", "wait-frames 2", "quit-answer dont-save"])
    b = launch(state_home, work, ["sample causal-lm-toy", "set temperature 3.5", "dump-state " + ready_b,
                                  "wait-for-file " + go_b])
    file_a, file_b = own_file(state_home, a), own_file(state_home, b)
    try:
        both = wait_for(lambda: os.path.exists(file_a) and os.path.exists(file_b), 60)
        check(both, "each window writes its own file")
        if both:
            check(wait_for(lambda: load(file_a)["options"]["temperature"] == 0.25 and
                           load(file_b)["options"]["temperature"] == 3.5, 10),
                  "each file holds its own window's edits")
        # A third window while both run: neither file is offered, and both stay.
        third = os.path.join(work, "third.json")
        c = launch(state_home, work, ["wait-frames 3", "quit"], "--dump-state", third)
        check(c.wait(timeout=60) == 0 and load(third)["recovery_offered"] is False,
              "a window opened meanwhile offers neither running window's file")
        check(os.path.exists(file_a) and os.path.exists(file_b), "and leaves both in place")
        open(go_a, "w").close()
        check(a.wait(timeout=60) == 0, "window A quits cleanly")
        check(not os.path.exists(file_a), "A's clean quit removes A's file")
        check(os.path.exists(file_b) and b.poll() is None, "and leaves B's, whose window still runs")
    finally:
        b.send_signal(signal.SIGKILL)
        b.wait(timeout=30)
        if a.poll() is None:
            a.kill()
            a.wait()
    offered = os.path.join(work, "offered.json")
    d = launch(state_home, work, ["wait-frames 3", "dump-state " + offered, "recovery restore",
                                  "quit", "wait-frames 2", "quit-answer dont-save"], "--dump-state",
               os.path.join(work, "restored.json"))
    check(d.wait(timeout=60) == 0, "the next launch exits cleanly")
    s = load(offered)
    check(s["recovery_offered"] is True and s["recovery_offer_file"] == file_b,
          "the next launch offers the killed window's file (%s)" % os.path.basename(s["recovery_offer_file"]))
    check(abs(load(os.path.join(work, "restored.json"))["temperature"] - 3.5) < 1e-6, "with B's edits")
    check(state_files(state_home) == [], "nothing left behind: %s" % state_files(state_home))


try:
    case_killed()
    case_clean_quit()
    case_two_windows()
finally:
    for path in temporary:
        shutil.rmtree(path, ignore_errors=True)
finish("recovery")
