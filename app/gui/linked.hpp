#pragma once
// Helpers the linked views share: which query row they follow and which head.
#include "app_state.hpp"

namespace attnviz::gui {

// The pinned row, else the hovered one, else the first row.
int focusRow(const AppState& app);
// The selected head (the first one while "all heads" is shown).
int focusHead(const AppState& app);

}  // namespace attnviz::gui
