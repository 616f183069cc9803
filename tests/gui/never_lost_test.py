"""Issue 14, what a new user tripped over in the window: a script's hover beats a pointer resting
over the window; long-512's linked views stay on screen, its weights plot and log colour scale
show structure, its all-heads panels stay square; token mode lists Q, K, V; derivations print
numbers that add up (and every term on request); and no panel's widgets are cut at 1280×720,
1600×1000 or 1920×1080.

Run under xvfb-run with a 1920x1080 screen: never_lost_test.py ATTNVIZ OUTDIR. With
ATTNVIZ_SCREENSHOT_DIR set, the long-512 and 1280×720 screenshots are copied there."""
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guitest import check, finish, load, write_script  # noqa: E402

APP, OUT = sys.argv[1], sys.argv[2]
WORK = os.path.join(OUT, "never_lost")
os.makedirs(WORK, exist_ok=True)
SHOTS = os.environ.get("ATTNVIZ_SCREENSHOT_DIR")


def read_png(path):
    """The app's screenshot (8-bit RGB or RGBA, not interlaced) as an [h, w, 3] array."""
    data = open(path, "rb").read()
    pos, idat = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    img = np.zeros((h, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int32)
        out = line.copy()
        if f == 1:
            for x in range(bpp, stride):
                out[x] = (out[x] + out[x - bpp]) & 255
        elif f == 2:
            out = (line + prev) & 255
        elif f == 3:
            for x in range(stride):
                left = out[x - bpp] if x >= bpp else 0
                out[x] = (line[x] + (left + prev[x]) // 2) & 255
        elif f == 4:
            for x in range(stride):
                a = out[x - bpp] if x >= bpp else 0
                b, c = prev[x], prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                out[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        img[y] = out
        prev = out
    return img.reshape(h, w, bpp)[:, :, :3]


def run(name, lines, size=None, sample=None, env_extra=None):
    """Runs a script (no --ignore-pointer: the pointer rests where the test put it) and returns
    the state dumped after its last frame."""
    dump = os.path.join(WORK, name + ".json")
    if os.path.exists(dump):
        os.remove(dump)
    script = write_script(os.path.join(WORK, name + ".script"),
                          lines + ["wait-frames 3", "dump-state " + dump, "quit"])
    cmd = [APP, "--no-recovery", "--script", script]
    if sample:
        cmd += ["--sample", sample]
    if size:
        cmd += ["--window-size", size]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    check(p.returncode == 0, "%s: the app exits 0 (%s)" % (name, p.stderr.strip()[-300:]))
    return load(dump)


def shot(name):
    return os.path.join(WORK, name + ".png")


def pointer_to(x, y):
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)


# ---- a script's hover and pin win over the resting pointer --------------------------------
pointer_to(960, 540)  # xvfb-run's pointer sits mid-screen, here over the heatmap
st = run("pointer", ["sample pronoun-toy", "goto weights", "hover 1 2", "pin 0 3", "wait-frames 4",
                     "screenshot " + shot("pointer")])
geo = load(shot("pointer") + ".json")
# The cell under the pointer (the window opens at the screen's corner), to know the test means it.
under = (int((540 - geo["origin"][1]) // geo["cell"][1]), int((960 - geo["origin"][0]) // geo["cell"][0]))
inside = geo["clip"][0] <= 960 < geo["clip"][2] and geo["clip"][1] <= 540 < geo["clip"][3]
check(inside and under != (1, 2), "the pointer rests over another cell %s of the heatmap" % (under,))
check(st["hover"] == [1, 2], "the scripted hover stays while the pointer rests elsewhere (got %s)" % st["hover"])
check(st["selected"] == [0, 3], "the scripted pin stays (got %s)" % st["selected"])
check(any("a_1,2" in line for line in st.get("hover_derivation", [])),
      "the tooltip derives the scripted cell: %s" % st.get("hover_derivation", [])[:1])
pointer_to(1919, 1079)  # out of the way for the rest

# ---- long-512: a weights plot, every linked view on screen, a colour scale with structure --
lines = ["goto weights", "pin 100 0", "wait-frames 3", "screenshot " + shot("long_linear"),
         "set colour-scale log", "wait-frames 3", "screenshot " + shot("long_log"),
         "export-svg " + os.path.join(WORK, "long_log.svg")]
st = run("long512", lines, sample="long-512")
w = st["widgets"]
check("weight-plot" in w, "long-512's selected row is a plot of the weights over key positions")
win = w["window:Linked views"]
for name in ("selected-row", "lines", "all-heads", "row-statistics"):
    r = w.get("linked:" + name)
    check(r is not None and r[3] <= win[3] + 1,
          "linked view %s is on screen (header %s, window bottom %.0f)" % (name, r, win[3]))
# The neuron view comes last (its bars are tall): below the others, inside the panel's width.
r, rows = w.get("linked:neuron"), w.get("linked:row-statistics")
check(r is not None and rows is not None and r[1] > rows[1] and win[0] - 1 <= r[0] and r[2] <= win[2] + 1,
      "the neuron view's header follows row statistics inside the panel (%s)" % (r,))
check(st["colour_scale"] == "log", "set colour-scale log is the view's colour scale")
svg = open(os.path.join(WORK, "long_log.svg")).read()
check("log10 attention weights" in svg and "log colour scale" in svg, "the exported figure names the log scale")


def heatmap_spread(path):
    g = load(path + ".json")
    img = read_png(path)
    x0, y0, x1, y1 = (int(round(v)) for v in g["clip"])
    cells = img[y0 + 2:y1 - 2, x0 + 2:x1 - 2].reshape(-1, 3).astype(float)
    return float(np.std(cells @ np.array([0.2126, 0.7152, 0.0722])))


linear_spread, log_spread = heatmap_spread(shot("long_linear")), heatmap_spread(shot("long_log"))
check(log_spread > 1.5 * linear_spread,
      "the log scale tells long-512's weights apart: luminance std %.1f vs %.1f linear" % (log_spread, linear_spread))

st = run("long512_heads", ["goto weights", "head all", "wait-frames 3", "screenshot " + shot("long_heads")],
         sample="long-512")
for k in range(8):
    r = st["widgets"].get("heads-panel:%d" % k)
    ok = r is not None and abs((r[2] - r[0]) - (r[3] - r[1])) <= 1.5
    check(ok, "all-heads panel %d of a 512×512 matrix is square: %s" % (k, r))
for k in range(8):
    r = st["widgets"].get("thumb:%d" % k)
    check(r is not None and abs((r[2] - r[0]) - (r[3] - r[1])) <= 1.5, "linked thumbnail %d is square: %s" % (k, r))

# ---- checking by hand: Q, K, V in token mode; derivations that add up -----------------------
st = run("inputs", ["sample pronoun-toy"])
for name in ("Q = X W_Q", "K = X W_K", "V = X W_V"):
    check("inputs:" + name in st["widgets"], "token mode's Inputs panel lists %s" % name)


def number(text):
    return float(text.replace("\u2212", "-"))


def decimals(text):
    return len(text.split(".")[1]) if "." in text else 0


cells = [(i, j) for i in range(6) for j in range(6)]
lines = ["sample pronoun-toy", "goto minus_row_max"]
for i, j in cells:
    lines += ["hover %d %d" % (i, j), "dump-state " + os.path.join(WORK, "d4a_%d_%d.json" % (i, j))]
run("derive4a", lines)
bad = []
for i, j in cells:
    d = load(os.path.join(WORK, "d4a_%d_%d.json" % (i, j)))["hover_derivation"]
    m = re.search(r"= (\S+) ([\u2212+]) (\S+) = (\S+)$", d[0])
    if not m:
        bad.append((i, j, d[0]))
        continue
    a, op, b, r = m.groups()
    unit = 10.0 ** -decimals(r)
    total = number(a) + (-1 if op == "\u2212" else 1) * number(b)
    if abs(total - number(r)) > unit * 0.01:
        bad.append((i, j, d[0]))
check(not bad, "step 4a's printed terms give its printed result in all %d cells %s" % (len(cells), bad[:3]))

lines = ["sample long-512", "goto row_sum", "hover 3 0", "dump-state " + os.path.join(WORK, "rowsum_short.json"),
         "set all-terms on", "wait-frames 1", "dump-state " + os.path.join(WORK, "rowsum_all.json")]
run("rowsum", lines)
short = load(os.path.join(WORK, "rowsum_short.json"))["hover_derivation"]
full = load(os.path.join(WORK, "rowsum_all.json"))["hover_derivation"]
check(any("more" in line for line in short), "a 512-term row sum is abbreviated by default")
sum_line = next((line for line in full if line.startswith("= ")), "")
terms = sum_line[2:].split(" = ")
parts = terms[0].split(" + ") if len(terms) == 2 else []
check(len(parts) == 512 and "more" not in sum_line, "with all terms on, the row sum lists all 512 terms (%d)" % len(parts))
if len(parts) == 512:
    # Each printed term is within half a unit of its value, so 512 of them add up to the printed
    # Z within 512 half-units (plus Z's own float32 rounding); short sums (step 4a) add up exactly.
    z = terms[1]
    unit = 10.0 ** -decimals(z)
    total = sum(number(p) for p in parts)
    check(all(decimals(p) == decimals(z) for p in parts), "the row sum's terms and Z share one precision")
    check(abs(total - number(z)) <= 512 * 0.5 * unit + 1e-6 * abs(number(z)),
          "the 512 printed terms add up to the printed Z within rounding (%.7f vs %s)" % (total, z))

# ---- small windows: nothing cut ----------------------------------------------------------
PANELS = ("Inputs", "Options", "Pipeline", "Heatmap", "Linked views")
ITEMS = {"samples": "Inputs", "tokens-text": "Inputs", "paint-mask": "Options", "colour-scale": "Options",
         "next": "Pipeline"}
for size in ("1280x720", "1600x1000", "1920x1080"):
    for sample in ("pronoun-toy", "articles-1d", "long-512", "pronoun"):
        name = "size_%s_%s" % (size, sample)
        st = run(name, ["wait-frames 2", "screenshot " + shot(name)], size=size, sample=sample)
        w = st["widgets"]
        for p in PANELS:
            win, content = w.get("window:" + p), w.get("content:" + p)
            if win is None or content is None:
                check(False, "%s: panel %s recorded its extent" % (name, p))
                continue
            check(content[2] <= win[2] + 1, "%s: nothing in %s passes its right edge (%.0f > %.0f)" %
                  (name, p, content[2], win[2]))
            if p in ("Pipeline", "Heatmap"):  # no scroll bar: the bottom edge must hold too
                check(content[3] <= win[3] + 1, "%s: nothing in %s passes its bottom edge (%.0f > %.0f)" %
                      (name, p, content[3], win[3]))
        for item, p in ITEMS.items():
            r, win = w.get(item), w.get("window:" + p)
            if r is None:
                continue  # not in this mode (the tokens box in matrices mode)
            check(win[0] - 1 <= r[0] and r[2] <= win[2] + 1, "%s: %s lies inside %s (%s in %s)" % (name, item, p, r, win))

# The samples browser with its descriptions, to look at.
run("samples", ["samples", "wait-frames 3", "screenshot " + shot("samples")], size="1280x720")

if SHOTS:
    os.makedirs(SHOTS, exist_ok=True)
    shutil.copy(shot("long_log"), os.path.join(SHOTS, "long512.png"))
    shutil.copy(shot("size_1280x720_pronoun-toy"), os.path.join(SHOTS, "small_window.png"))
finish("never-lost")
