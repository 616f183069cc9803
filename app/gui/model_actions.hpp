#pragma once
// Actions of the model mode (token mode with a trained model): choosing the model and the layer.
// Buttons, shortcuts and --script lines call these, as they call actions.hpp.
#include <string>

#include "app_state.hpp"

namespace attnviz::gui {

// A built-in name or a folder / .safetensors path; "" returns to the random toy model. A model
// that cannot be read is reported in the status bar and the current one stays. Returns success.
bool setModel(AppState& app, const std::string& nameOrPath);
void setLayer(AppState& app, int layer);  // clamped to the model's layers
void selectLayerHead(AppState& app, int layer, int head);
// Zeroes (or restores) a head's output; the layers after it run again and the predictions
// show the difference.
void setHeadAblated(AppState& app, int layer, int head, bool ablated);
bool isHeadAblated(const AppState& app, int layer, int head);
// The RoPE step (rotary models): which of Q, K, after or before the rotation, its heatmap shows;
// and the what-if of the viewed layer attending with Q and K before the rotation.
void setRopeShown(AppState& app, RopeShown shown);
bool setRopeOff(AppState& app, bool off);  // false (reported) when the model is not rotary
bool modelIsRotary(const AppState& app);
// Grouped-query attention: the K/V head a query head reads (the head itself without GQA), and
// the K/V head whose query heads the views highlight (-1: none).
int kvHeadOf(const AppState& app, int head);
int kvHeadCount(const AppState& app);  // = heads without GQA, 0 outside model mode
void highlightKvHead(AppState& app, int kvHead);
bool inModelMode(const AppState& app);
// In model mode, every option that makes the numbers differ from the model's own ("temperature
// 2", "mask none", "layer 1 head 2 ablated", "RoPE off"); empty when they are the model's.
std::vector<std::string> modelWhatIfs(const AppState& app);
// "4 heads × 32 (the model's own)" in model mode, "" otherwise.
std::string modelHeadsNote(const AppState& app);
int modelLayerCount(const AppState& app);  // a model's or a bundle's layers; 0 otherwise

// An attention bundle (.npz, or .safetensors holding `attention`) replaces the document at its
// first layer. One that cannot be read is reported in the status bar and the document stays.
bool openBundle(AppState& app, const std::string& path, bool allowUnnormalised = false);

// Generation (a decoder): `count` tokens after the text and those generated before, sampled with
// app.generation.sampling; they join session.tokens.generated (shown green in the chips) and
// every view follows. The draws continue the seed's sequence, so pressing "Next token" N times
// gives what "Generate N" and `attnviz generate --seed S` give. Reported and false when the
// model cannot generate or the text would pass its context.
bool generateTokens(AppState& app, int count);
void clearGenerated(AppState& app);
void setSampling(AppState& app, const model::SamplingOptions& sampling);
bool canGenerate(const AppState& app);  // a decoder's pass is shown

// Activation patching: the corrupted prompt and the two tokens of the logit difference, then a
// run (L·H + (L+1)·n forward passes, on this thread). Reported and false on a bad input.
void setCorruptedPrompt(AppState& app, const std::string& text);
void setPatchingTokens(AppState& app, const std::string& target, const std::string& contrast);
bool runPatching(AppState& app);
bool inBundleMode(const AppState& app);

}  // namespace attnviz::gui
