#pragma once
// The hover tooltip's "how was this computed", with the actual numbers. GL-free and ImGui-free.
#include <string>
#include <vector>

#include "app_state.hpp"

namespace attnviz::gui {

std::string formatValue(float v);  // 3 decimals, −∞ for masked, compact for large magnitudes

// Lines explaining cell (i, j) of `step` for `head`; j is a value dimension for the output steps.
std::vector<std::string> deriveCell(const Document& doc, StageId step, int head, int i, int j);

// The token (or q1/k1 name) for a row or column; "?" when out of range during an update.
std::string queryLabel(const Document& doc, int i);
std::string keyLabel(const Document& doc, int j);

}  // namespace attnviz::gui
