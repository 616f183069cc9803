#!/usr/bin/env bash
# Frame times of the real app under Xvfb on Mesa llvmpipe (issue 6 targets):
#   1. n = m = 1024, d = 64: the temperature changes every frame (recompute from scaling on);
#   2. n = m = 4096, d = 64: zooming every frame, no recompute;
#   3. launch to first frame (upper bound: the whole run of `attnviz --frames 1`).
# usage: scripts/frame_bench.sh [path/to/attnviz] [frames]
set -euo pipefail
bin=${1:-build/app/attnviz}
frames=${2:-300}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One X server for every run, so that launch times do not include starting it.
display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill $xvfb_pid 2>/dev/null; rm -rf "$work"' EXIT
export DISPLAY=$display
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

setup() {  # setup N: random n×n matrices with d = 64, on the softmax-normalise step
  printf 'set mode matrices\nresize %d %d 64 64\nfill Q random 1\nfill K random 2\nfill V random 3\ngoto 6\nwait-frames 30\n' "$1" "$1" "$1" "$1"
}

{
  setup 1024
  for ((i = 0; i < frames; i++)); do
    printf 'set temperature %s\nwait-frames 1\n' "$(awk -v i="$i" 'BEGIN { printf "%.3f", 0.5 + (i % 20) / 10 }')"
  done
  echo quit
} >"$work/temperature.txt"
{
  setup 4096
  for ((i = 0; i < frames; i++)); do
    if ((i % 20 < 10)); then echo "zoom 1.08"; else echo "zoom 0.926"; fi
    echo "wait-frames 1"
  done
  echo quit
} >"$work/zoom.txt"

summary() {  # summary NAME CSV: median and 95th percentile of the last $frames frames
  /usr/bin/python3 - "$1" "$2" "$frames" <<'PY'
import sys, numpy as np
name, path, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
ms = np.loadtxt(path, delimiter=",", skiprows=1, usecols=1)[-frames:]
print(f"{name}: {len(ms)} frames, median {np.median(ms):.1f} ms, 95th percentile {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms")
PY
}

"$bin" --no-recovery --ignore-pointer --script "$work/temperature.txt" --frame-stats "$work/t.csv" >/dev/null
summary "n=1024, temperature every frame" "$work/t.csv"
"$bin" --no-recovery --ignore-pointer --script "$work/zoom.txt" --frame-stats "$work/z.csv" >/dev/null
summary "n=4096, zoom every frame (no recompute)" "$work/z.csv"
launch=()
for _ in 1 2 3 4 5; do
  start=$(date +%s.%N)
  "$bin" --no-recovery --frames 1 >/dev/null
  launch+=("$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')")
done
echo "launch to first frame, upper bound (whole run of --frames 1, shutdown included), 5 runs: ${launch[*]} s"
