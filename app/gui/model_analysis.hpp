#pragma once
// What the heads did, for the app's views and --dump-state: the logit lens and the direct logit
// attribution of the current forward pass (engine/model/logit_lens, attribution), computed when
// first asked for and kept while the pass, the position and the target stay the same.
#include <optional>
#include <string>

#include "app_state.hpp"
#include "attribution.hpp"
#include "logit_lens.hpp"

namespace attnviz::gui {

// True for a text decoder's pass (the readout the lens and the attribution need).
bool hasReadout(const AppState& app);
// The lens of the current pass; null without a decoder's pass or when it failed (then
// analysisError() says why, in one line). Neither function throws.
const model::LogitLens* currentLogitLens(const AppState& app);
// The position attributed: the selected query, else the last token.
int attributionPosition(const AppState& app);
// The direct effect of every head and MLP on the model's top prediction at that position; null
// without a decoder's pass.
const model::LogitAttribution* currentAttribution(const AppState& app);
// Why the last of the two calls above gave nothing ("" when it did not fail).
const std::string& analysisError();

}  // namespace attnviz::gui
