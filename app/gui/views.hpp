#pragma once
// One function per view; each draws from AppState and changes it only through actions.
#include <cstdint>
#include <string>
#include <vector>

#include "app_state.hpp"

namespace attnviz::gui {

void drawLayout(AppState& app);        // layout.cpp: places the views below in the window

void drawMenuBar(AppState& app);       // view_files.cpp
void drawFileChooser(AppState& app);   // view_files.cpp
void drawSamplesBrowser(AppState& app);
void drawDownloadDialog(AppState& app);  // view_download.cpp
void drawRecoveryPrompt(AppState& app);
void drawReplacePrompt(AppState& app); // view_replace.cpp: Save / Don't save / Cancel before replacing
void drawQuitPrompt(AppState& app);    // view_replace.cpp: the same question before quitting
void openFileChooser(AppState& app, FileChooser::Purpose purpose, const std::string& suggested);
void drawPipelineStrip(AppState& app); // view_pipeline.cpp
void drawHeatmapView(AppState& app);   // view_heatmap.cpp
void drawInputsPanel(AppState& app);   // view_inputs.cpp
void drawOptionsPanel(AppState& app);  // view_options.cpp
void drawBackendChooser(AppState& app);     // view_backend.cpp: CPU / GPU, renderer, fallback note
void drawBackendDifference(AppState& app);  // view_backend.cpp: |CPU − GPU| of the current step
void drawBarChart(AppState& app);      // view_barchart.cpp
void drawLinesView(AppState& app);     // view_lines.cpp
void drawNeuronView(AppState& app);    // view_neuron.cpp: q, k and q ⊙ k of the hovered cell
void drawPictureView(AppState& app);   // view_picture.cpp: a vision model's attention on its picture
// view_picture.cpp: a revision for picture textures (FNV-1a of the pixels).
std::uint64_t contentHash(const std::vector<std::uint8_t>& bytes);
void drawHeadsGrid(AppState& app);     // view_heads.cpp
void drawStatsTable(AppState& app);    // view_stats.cpp
void drawStatusBar(AppState& app);     // view_status.cpp
void drawModelPicker(AppState& app);   // view_model.cpp: toy or trained model, layer
void drawPredictions(AppState& app);   // view_model.cpp: next tokens after the selected query
void drawModelOverview(AppState& app); // view_model.cpp: every layer × head, with head scores
void drawLogitLens(AppState& app);     // view_lens.cpp: each layer's guess at every position (decoders)
void drawHeadEffects(AppState& app);   // view_lens.cpp: each head's direct effect on the prediction
void drawGeneration(AppState& app);    // view_generate.cpp: next token, generate N, the sampling shown
void drawPatching(AppState& app);      // view_generate.cpp: a corrupted prompt, every head patched
void drawLayerSelector(AppState& app); // view_model.cpp: a model's or a bundle's layer, [ ] keys
void drawBundleInputs(AppState& app);  // view_model.cpp: the bundle, its shape, layer and tokens
void drawBundleWarning(AppState& app); // view_model.cpp: recomputed weights far from the given ones
// view_inputs.cpp: tokens as chips, the pinned one highlighted; a click pins its row (or column)
void drawTokenChips(AppState& app, const std::vector<std::string>& tokens, bool queries);
void drawRopePanel(AppState& app);     // view_rope.cpp: the hovered pair of Q or K turning by θ (RoPE step)
// Grouped-query attention (view_model.cpp): the tint of the query heads that read K/V head
// `kvHead` (an ImU32), and those heads as text ("2, 3").
unsigned int kvGroupColour(int kvHead, float strength);
std::string queryHeadsOf(const AppState& app, int kvHead);
// An encoder's sentence pair (view_inputs.cpp): the chip colour (an ImU32) of sentence A (0) or
// B (1); -1 for a text that is not a pair.
unsigned int sentenceColour(int sentence);
// The first token of sentence B (PreparedSession::sentence), or -1 for one text.
int sentenceBStart(const AppState& app);
void handleShortcuts(AppState& app);   // view_pipeline.cpp: every keyboard shortcut (Ctrl+S/O/Q, ←/→, …)
void recordItemRect(AppState& app, const char* name);  // the last ImGui item's rectangle

}  // namespace attnviz::gui
