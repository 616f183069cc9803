#pragma once
// Every user action as a named function. Buttons, keyboard shortcuts, drag-and-drop and the
// --script automation all call these; there is no second code path for tests.
// Actions report failures through app.message (and return false) instead of throwing.
#include <string>

#include "app_state.hpp"

namespace attnviz::gui {

enum class MatrixSlot { Q, K, V };
enum class FillKind { Random, Identity, Zeros };

// Files and samples. Loading a sample or opening a session replaces the document: with unsaved
// edits that asks first (replace.hpp) and the replacement waits for the answer.
bool loadSample(AppState& app, const std::string& name);
bool openFile(AppState& app, const std::string& path);  // .json session, a PNG/JPEG, or a matrix into Q/K/V
// A PNG or JPEG as a vision model's input; with a text model (or none) it says which model it needs.
bool openImage(AppState& app, const std::string& path);
void afterNewSession(AppState& app);  // hover, camera and step fitted to a replaced document
bool openSession(AppState& app, const std::string& path);
bool saveSessionAs(AppState& app, const std::string& path);
bool loadMatrix(AppState& app, MatrixSlot slot, const std::string& path);
bool loadMask(AppState& app, const std::string& path);
bool exportFigure(AppState& app, const std::string& path);      // .png or .svg by extension
// The picture view as a figure (.png or .svg): the bytes `attnviz export --overlay` writes.
bool exportPictureFigure(AppState& app, const std::string& path);
bool exportNumbers(AppState& app, const std::string& directory, const std::string& format);  // npy|csv
bool exportSeries(AppState& app, const std::string& directory);  // one PNG per step
void screenshot(AppState& app, const std::string& path, std::array<int, 4> crop = {});  // after the next frame
void quit(AppState& app);  // with unsaved edits it asks first (recovery.hpp)

// Options (all live).
bool setOption(AppState& app, const std::string& key, const std::string& value);  // script form
void setScoreFunction(AppState& app, ScoreFunction f);
void setScaleOverride(AppState& app, std::optional<float> scale);
void setTemperature(AppState& app, float t);
void setMaskKind(AppState& app, MaskKind k);
void setPaintMask(AppState& app, bool on);  // on: go to the mask step, clicks there toggle cells
void toggleMaskCell(AppState& app, int row, int col);
bool setHeads(AppState& app, int heads);
bool setHeadsQuiet(AppState& app, int heads);  // false (no message) when heads does not divide d_k, d_v
void setColormap(AppState& app, ColormapId id);
// CPU or GPU. The GPU is made on the window's context on first use; when it cannot run, the
// CPU stays selected and gpu.note says why.
void selectBackend(AppState& app, BackendKind kind);
// Caps the GPU's n×m stage buffers (bytes, 0 = the driver's limit), making the backend anew.
void setGpuBufferLimit(AppState& app, std::uint64_t bytes);

// Tokens mode.
void setTokensText(AppState& app, const std::string& text);
void setSourceText(AppState& app, const std::string& text);
void setTextPair(AppState& app, const std::string& text);  // an encoder's sentence B ("" for one text)
void setTokenizer(AppState& app, TokenizerKind k);
void setDModel(AppState& app, int dModel);
void setSeed(AppState& app, std::uint64_t seed);
void setPositional(AppState& app, bool on);
void setInputMode(AppState& app, InputMode mode);

// Matrices mode.
void setMatrixValue(AppState& app, MatrixSlot slot, int row, int col, float value);
bool resizeMatrices(AppState& app, int n, int m, int dk, int dv);
void fillMatrix(AppState& app, MatrixSlot slot, FillKind kind, std::uint64_t seed);
bool pasteMatrix(AppState& app, MatrixSlot slot, const std::string& text);

// View settings: the View menu, the options panel and the toolbars call these.
enum class ViewToggle { Values, DivergingForSigned, UnitRange, InputsPanel, LinkedPanel, AllTerms };
void setViewToggle(AppState& app, ViewToggle which, bool on);
bool viewToggle(const AppState& app, ViewToggle which);
void setExportScale(AppState& app, float scale);
// Linear, log or per-row colours for exp, row sums and weights: heatmaps, colour bars, figures.
void setColourScale(AppState& app, ColourScale scale);
void setLinesThreshold(AppState& app, float threshold);
// Heads drawn in the lines view at once: a bit per head (0: the focused head alone). Heads past
// 63 are drawn one at a time.
void setLinesHeads(AppState& app, std::uint64_t heads);
void setLinesSentences(AppState& app, ViewSettings::SentenceLines which);
void setPlaySpeed(AppState& app, float stepsPerSecond);
// The picture view's settings (opacity and keep clamped to [0, 1]).
void setPictureView(AppState& app, const PictureView& picture);
void showSamplesBrowser(AppState& app, bool open);
void chooseFile(AppState& app, FileChooser::Purpose purpose);  // opens the in-app file chooser

// The step-through and selection.
void stepNext(AppState& app);
void stepPrev(AppState& app);
void stepGoto(AppState& app, StageId step);          // ignored when the document lacks it
void stepGotoPosition(AppState& app, int position);  // the strip's position (clamped)
void togglePlay(AppState& app);
void selectHead(AppState& app, int head);  // -1 = all heads
void hoverCell(AppState& app, int row, int col, int head, bool fromScript);
void clearHover(AppState& app);
void commitHover(AppState& app);  // end of frame: the mouse's hover becomes the shown one
void pinCell(AppState& app, int row, int col);  // (-1, -1) unpins
void fitView(AppState& app);
void zoomView(AppState& app, float factor, float anchorCol, float anchorRow);
void panView(AppState& app, float cols, float rows);  // moves the main heatmap's view by cells

void report(AppState& app, const std::string& message, bool error = false);
// Writes the state tests check after quitting (step, head, selection, inputs, options).
void dumpState(const AppState& app, const std::string& path);
const char* slotName(MatrixSlot slot);
// Beside each screenshot: where the main heatmap's cells are, their range and colour map, so
// tests can check pixels against the colour map of known values.
void writeScreenshotSidecar(const AppState& app, const std::string& path);

}  // namespace attnviz::gui
