"""Shared helpers for the Python gui tests: checks that collect failures, scripts, and real
xdotool input against the app's window."""
import json
import os
import re
import struct
import subprocess
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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


def colour_tables():
    """The colour maps' 256-entry tables, built from engine/figure/colormap.cpp's control points
    the way interpolate() there builds them (the one source the shader's texture comes from)."""
    import numpy as np  # here, not at the top: not every gui test's interpreter has NumPy
    src = open(os.path.join(ROOT, "engine", "figure", "colormap.cpp")).read()
    tables = {}
    for name in ("Viridis", "Magma", "Cividis", "RdBu"):
        body = re.search(r"k%s\[\]\[3\] = \{(.*?)\n\};" % name, src, re.S).group(1)
        pts = np.array([[int(v) for v in t] for t in re.findall(r"\{(\d+),\s*(\d+),\s*(\d+)\}", body)], float)
        n = len(pts)
        lut = np.zeros((256, 3), np.int32)
        for i in range(256):
            x = i * (n - 1) / 255.0
            a = min(int(x), n - 2)
            f = x - a
            lut[i] = np.floor(pts[a] + f * (pts[a + 1] - pts[a]) + 0.5)
        tables[name.lower()] = lut
    return tables


MASKED = ((228, 228, 228), (170, 170, 170))  # kMaskedColor, kMaskedHatch


def read_png(path):
    """An 8-bit, non-interlaced RGB or RGBA PNG (what the app's screenshot writes) as [h, w, 3]."""
    import numpy as np
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (path, depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:
            cur = (np.cumsum(line.reshape(w, bpp), axis=0) & 255).reshape(-1)
        elif f == 2:
            cur = (line + prev) & 255
        else:  # average and Paeth depend on the left neighbour: byte by byte
            cur, up = line.tolist(), prev.tolist()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = up[i]
                if f == 3:
                    cur[i] = (cur[i] + ((a + b) >> 1)) & 255
                else:
                    c = up[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = np.array(cur, np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(h, w, bpp)[:, :, :3]

def check_pixels(png, want, what):
    """The screenshot's heatmap cells against `want` ([n, m], NaN = masked, hatched) through the
    sidecar's geometry and colour range (as gui_pixels_test does): a few pixels in every cell
    that is on screen, each within one colour-table entry of the value's colour."""
    import numpy as np
    g = load(png + ".json")
    n, m = want.shape
    if not check(g["valid"] and g["rows"] == n and g["cols"] == m,
                 "%s: the sidecar shows a %dx%d heatmap (got %sx%s)" % (what, n, m, g["rows"], g["cols"])):
        return
    lo, hi = g["range"]
    lut = colour_tables()[g["colormap"]]
    masked = np.array(MASKED)
    img = read_png(png).astype(np.int32)
    ox, oy = g["origin"]
    cw, ch = g["cell"]
    x0, y0, x1, y1 = g["clip"]
    checked, bad, first = 0, 0, ""
    # Points inside each cell, away from its separators and (in big cells) the printed number.
    spots = [(0.3, 0.17), (0.7, 0.17), (0.3, 0.85), (0.7, 0.85)] if ch >= 20 else [(0.5, 0.5)]
    for row in range(n):
        for col in range(m):
            for fx, fy in spots:
                px, py = int(ox + (col + fx) * cw), int(oy + (row + fy) * ch)
                if not (x0 <= px < x1 and y0 <= py < y1):
                    continue
                p = img[py, px]
                v = want[row, col]
                if np.isnan(v):
                    ok = bool((np.abs(masked - p).max(axis=1) <= 3).any())
                else:
                    t = min(max((v - lo) / (hi - lo), 0.0), 1.0)
                    idx = min(255, int(np.float32(t) * np.float32(256)))
                    ok = bool((np.abs(lut[max(0, idx - 1):idx + 2] - p).max(axis=1) <= 3).any())
                checked += 1
                if not ok:
                    bad += 1
                    first = first or "pixel (%d,%d) cell (%d,%d) value %.5f got %s" % (px, py, row, col, v, tuple(p))
    check(checked >= min(20, n * m) and bad == 0, "%s: %d pixels sampled, the colour map of the expected values%s"
          % (what, checked, "" if bad == 0 else " — %d differ, first %s" % (bad, first)))
