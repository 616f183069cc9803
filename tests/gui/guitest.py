"""Shared helpers for the Python gui tests: checks that collect failures, scripts, and real
xdotool input against the app's window."""
import json
import os
import subprocess
import time

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def finish(name):
    if failures:
        print("%d check(s) failed" % len(failures))
        raise SystemExit(1)
    print("all %s checks passed" % name)


def load(path):
    with open(path) as f:
        return json.load(f)


def write_script(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def wait_for_json(path, timeout=60):
    """The app writes dump-state and sidecars with a plain stream: wait until the file parses."""
    def ready():
        try:
            load(path)
            return True
        except (OSError, ValueError):
            return False
    if not wait_for(ready, timeout):
        raise SystemExit("FAIL %s never appeared" % path)
    return load(path)


def app_window():
    out = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "^attnviz"],
                         check=True, capture_output=True, text=True, timeout=30).stdout.split()
    return out[0]


def click(window, x, y):
    """A real click at window coordinates, held across a frame or two so Dear ImGui 1.86 (which
    samples the button once per frame) sees both the press and the release."""
    subprocess.run(["xdotool", "mousemove", "--window", window, str(int(x)), str(int(y))], check=True)
    time.sleep(0.3)
    subprocess.run(["xdotool", "mousedown", "1"], check=True)
    time.sleep(0.15)
    subprocess.run(["xdotool", "mouseup", "1"], check=True)
    time.sleep(0.3)


def centre(rect):
    return (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2


def touch(path):
    open(path, "w").close()
