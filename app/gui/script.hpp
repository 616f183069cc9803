#pragma once
// --script FILE: one action per line, run through the same functions as the UI (actions.hpp).
//   sample NAME | open FILE | save FILE | load Q|K|V|mask FILE | paste Q|K|V TEXT
//   open-bundle [--allow-unnormalised] FILE (.npz, .safetensors) | layer L
//   set KEY VALUE   (temperature, scale auto|x, score, mask none|causal|custom, heads, colormap,
//                    diverging, values, text, source, tokenizer, d_model, seed, positional, mode, speed,
//                    paint-mask, backend cpu|gpu, gpu-buffer-limit BYTES, export-scale, range auto|unit)
//   step next|prev | next | prev | goto N | play | head N|all
//   hover ROW COL [HEAD] | unhover | pin ROW COL | unpin | mask-toggle ROW COL
//   resize N M DK DV | fill Q|K|V random|identity|zeros [SEED] | fit | zoom FACTOR
//   export-png FILE | export-svg FILE | export-numbers DIR npy|csv | export-series DIR
//   export-picture FILE (.png or .svg: the picture view) | open FILE (a PNG/JPEG: the vision model's input)
//   set picture-heads selected|mean|all, picture-overlay attention|rollout, picture-fusion mean|max|min,
//       picture-opacity F, picture-smooth on|off, picture-keep F
//   screenshot FILE [X Y W H] | wait-frames N | dump-state FILE | quit
//   quit-answer save|dont-save|cancel (quit asks when edits are unsaved, see recovery.hpp)
//   replace-answer save [FILE]|dont-save|cancel (so do sample and open, see replace.hpp)
//   recovery restore|discard | wait-for-file PATH | loop-until UNIX_SECONDS (start over until then)
//   get-model ORG/NAME (download from the Hub, then open) | wait-download | cancel-download
// Rows, columns, heads and steps are 0-based. '#' starts a comment line.
#include <string>
#include <vector>

#include "app_state.hpp"

namespace attnviz::gui {

std::vector<std::string> readScript(const std::string& path);  // throws Error
// Runs lines until one must wait for a frame (screenshot, wait-frames, a worker computation).
void runScript(AppState& app);
// One line; returns false on an unknown action or a failed one (also reported).
bool runScriptLine(AppState& app, const std::string& line);

}  // namespace attnviz::gui
