#!/bin/bash
# Regenerates the model-mode screenshots and head figures of the docs (run again after the built-in model is
# retrained): docs/screenshots/model_overview.png (the layers × heads overview with the
# strongest induction head selected) and docs/screenshots/model_steps.png (that head on the
# weights step, a cell hovered so the derivation shows) and docs/screenshots/model_projection.png
# (its query projection, a cell's largest terms and bias). The head and the hovered cell are
# chosen from `attnviz compute --model`'s head scores and weights, not hard-coded.
# usage: scripts/model_screenshots.sh [ATTNVIZ]   (default: build-gui/app/attnviz, then build/app/attnviz)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
app="${1:-}"
if [ -z "$app" ]; then
  for b in build-gui build; do [ -x "$root/$b/app/attnviz" ] && app="$root/$b/app/attnviz" && break; done
fi
[ -x "$app" ] || { echo "usage: $0 ATTNVIZ (no built attnviz found)" >&2; exit 2; }
model=attnviz-mini
text="Anna gave the red ball to Tom. Later Anna gave the red ball to Tom again."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$root/docs/screenshots"
mkdir -p "$out"
gui() {  # the real app, in a virtual X server unless there is a display
  if [ -n "${DISPLAY:-}" ]; then "$app" "$@"; else xvfb-run -a -s "-screen 0 1600x1000x24" "$app" "$@"; fi
}

"$app" compute --model "$model" --text "$text" --layer all --out "$work/ref" > /dev/null
printf 'model %s\nset text %s\nwait-frames 2\ndump-state %s\nquit\n' "$model" "$text" "$work/info.json" > "$work/info.txt"
gui --no-recovery --ignore-pointer --script "$work/info.txt" > /dev/null
# The head with the strongest induction score; the hovered cell: the query after a repeated
# token and the key right after its earlier copy (where an induction head looks).
read -r layer head row col <<< "$(/usr/bin/python3 - "$work" <<'PY'
import json, sys
import numpy as np
work = sys.argv[1]
scores = json.load(open(work + "/ref/model.json"))["head_scores"]
layer, head = max(((l, h) for l in range(len(scores)) for h in range(len(scores[l]))),
                  key=lambda lh: scores[lh[0]][lh[1]]["induction"])
w = np.load("%s/ref/layer%d/weights.npy" % (work, layer))[head]
ids = json.load(open(work + "/ref/tokens.json"))["ids"]
best = (0.0, len(ids) - 1, 0)
for i in range(len(ids)):
    for j in range(i - 1):
        if ids[j] == ids[i] and w[i, j + 1] > best[0]:
            best = (float(w[i, j + 1]), i, j + 1)
steps = json.load(open(work + "/info.json"))["steps"]
print(layer, head, best[1], best[2])
PY
)"
echo "model $model: layer $layer head $head (strongest induction), hover ($row, $col)"
# One run per screenshot, so that the status bar shows the model's load message.
shot() {  # shot NAME STEP [SCRIPT LINES...]
  local name="$1" step="$2"; shift 2
  printf '%s\n' "model $model" "set text $text" "layer $layer" "head $head" "goto $step" "$@" \
    "wait-frames 3" "screenshot $work/$name.png" quit > "$work/$name.txt"
  gui --no-recovery --ignore-pointer --script "$work/$name.txt"
  cp "$work/$name.png" "$out/$name.png"
}
shot model_overview weights
shot model_steps weights "hover $row $col"
shot model_projection q "hover $row 5"
echo "wrote $out/model_overview.png $out/model_steps.png $out/model_projection.png"

# The README's pictures of the built-in model's two best-known heads, from `attnviz export`
# (layer and head as the samples open them).
"$app" export --sample previous-token --layer 0 --head 0 --stage weights --png "$root/docs/figures/previous-token-head.png"
"$app" export --sample induction --layer 1 --head 1 --stage weights --png "$root/docs/figures/induction-head.png"
