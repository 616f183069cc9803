#pragma once
// The hover tooltip's "how was this computed", with the actual numbers. GL-free and ImGui-free.
#include <optional>
#include <string>
#include <vector>

#include "app_state.hpp"

namespace attnviz::gui {

std::string formatValue(float v);  // 3 decimals, −∞ for masked, compact for large magnitudes

// Lines explaining cell (i, j) of `step` for `head`; j is a value dimension for the output steps.
// Long sums show their first and last terms and "(N more)"; allTerms writes out every term.
std::vector<std::string> deriveCell(const Document& doc, StageId step, int head, int i, int j,
                                    bool allTerms = false);

// The RoPE step's cell (i, j) of head `head` (ViewState::rope says Q or K, rotated or not): the
// pair (c, c + d_head/2) it belongs to, position i, θ = i · ω_c and the pair before and after
// turning by θ. Empty outside a rotary model's RoPE step or out of range.
struct RopePair {
  int head = 0, kvHead = 0;  // the query head shown, and the K/V head it reads
  bool key = false;          // K (of kvHead) rather than Q
  bool rotatedShown = true;  // the heatmap shows the values after the rotation
  int position = 0, pair = 0, partner = 0, column = 0, headDim = 0;
  double invFreq = 0, theta = 0;  // ω_c and θ = position · ω_c (radians)
  float cosTheta = 1, sinTheta = 0;
  float before[2] = {0, 0};  // (x_c, x_c+d/2) before the rotation
  float after[2] = {0, 0};   // the same pair turned by θ, computed here as the forward pass does
  float shown = 0;           // the heatmap's value of the cell
};
std::optional<RopePair> ropePair(const Document& doc, int head, int i, int j);

// The token (or q1/k1 name) for a row or column; "?" when out of range during an update.
std::string queryLabel(const Document& doc, int i);
std::string keyLabel(const Document& doc, int j);

}  // namespace attnviz::gui
