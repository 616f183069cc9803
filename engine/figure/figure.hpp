#pragma once
// Heatmap figures of one attention stage, as PNG or SVG bytes. GL-free and shared by
// `attnviz export` and the desktop app's export action, so both produce identical files:
//
//   FigureOptions o;                       // what the user chose (CLI flags / export dialog)
//   o.stage = StageId::Weights; o.head = kAllHeads;
//   FigureRequest r = makeFigureRequest(trace, prepared.queryLabels, prepared.keyLabels,
//                                       "pronoun", o);          // throws Error
//   writeFileAtomic("fig.png", renderFigurePng(r));
//
// The image: cells of exactly cellPx pixels, rows are queries (top to bottom) and columns
// keys (left to right); token labels left and below (rotated), ellipsised beyond ~100 px and
// thinned to every k-th label when cells are smaller than a text line; a colour bar with tick
// values; a title; masked cells hatched light grey and named in a legend; with `values`,
// numbers inside the cells in black or white, whichever contrasts more with the cell.
// Several panels (heads) are laid out as small multiples sharing one colour scale.
//
// SVG: up to kMaxVectorCells cells per panel every cell is its own <rect class="cell">;
// beyond that a panel's cells are one embedded PNG <image> (pixelated) while every label,
// tick and title stays <text>. Output is deterministic: same request, same bytes.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attention.hpp"
#include "figure/colormap.hpp"
#include "image/image.hpp"
#include "session.hpp"
#include "types.hpp"

namespace attnviz {

// Stages are the registry's (stages.hpp): every one of them can be drawn. The default colour
// map and range follow the stage's colour rule (stageColormap, stageRange), as on screen.
Colormap defaultColormap(StageId stage);

inline constexpr int kAllHeads = -1;
inline constexpr long kMaxVectorCells = 128L * 128L;  // per panel, for SVG <rect> cells
inline constexpr long kMaxFigurePixels = 1L << 27;    // width·height of the image

// What the user picks: the `attnviz export` flags, or the app's export dialog.
struct FigureOptions {
  StageId stage = StageId::Weights;
  int head = 0;                          // 0-based, or kAllHeads for small multiples (projected: one)
  std::optional<Colormap> colormap;      // default: defaultColormap(stage)
  std::optional<ValueRange> range;       // default: stageRange over every panel shown
  bool unitRange = false;                // exp, row sums and weights on [0, 1] instead of [0, max]
  ColourScale colourScale = ColourScale::Linear;  // log or per-row for exp, row sums, weights
  int cellPx = 0;                        // pixels per cell before `scale`; 0 = automatic
  bool values = false;                   // print each value inside its cell
  bool labels = true;                    // token labels and axis names
  std::optional<std::string> title;      // replaces the generated title and options line; "" = none
  float scale = 1;                       // multiplies every size (high-DPI output), 0.25..8
};

struct FigurePanel {
  std::string caption;  // e.g. "head 2"; shown above the panel when there are several
  Matrix values;        // rows×cols; non-finite values are drawn as masked
  // Drawn instead of the colour-mapped values, a pixel per cell (the values give the size):
  // attention already blended over a picture (picture_overlay.hpp).
  std::shared_ptr<const model::RgbImage> picture;
};

// Everything the renderers need, already resolved (colour map, range, labels, mask).
struct FigureRequest {
  std::vector<FigurePanel> panels;                // all the same shape
  MaskMatrix mask;                                // rows×cols, 1 = allowed; empty = no mask
  std::vector<std::string> rowLabels, colLabels;  // empty: numbered from 1
  std::string rowAxis = "query", colAxis = "key";
  std::string title, subtitle;                    // empty: not drawn
  std::string colorbarLabel;
  Colormap colormap = Colormap::Viridis;
  ValueRange range;                               // lo < hi
  int gridColumns = 0;                            // panels per row; 0: a square-ish grid
  // An encoder's sentence pair: the first row (and column, where columns are keys) of sentence
  // B, marked by a line across the label margin as the app marks it; -1: none.
  int rowDivider = -1, colDivider = -1;
  int cellPx = 0;                                 // 0 = automatic (1..36 by size)
  bool values = false;
  bool labels = true;
  float scale = 1;
};

// Builds the request for one stage of `trace`: the panels hold stageDisplay(), exactly what the
// app's heatmap shows. inputName names the input in the title (the sample name, session file or
// "tokens"). The mask is drawn from the masked stage on (on scores and scaled it is not applied
// yet). Throws Error for a head out of range, a stage the trace lacks (projected without W_O),
// a range with MIN >= MAX, or sizes out of bounds.
FigureRequest makeFigureRequest(const AttentionTrace& trace, const std::vector<std::string>& queryLabels,
                                const std::vector<std::string>& keyLabels, const std::string& inputName,
                                const FigureOptions& options);

// Any stage of the app's strip: the model stages (embedding, LayerNorm, Q/K/V, residual add)
// from the prepared session's model block, the attention stages as above.
FigureRequest makeFigureRequest(const AttentionTrace& trace, const PreparedSession& prepared,
                                const std::string& inputName, const FigureOptions& options);

// The colour map, one colour scale over every panel and the colour bar's label, as
// makeFigureRequest sets them; for requests whose panels were gathered from several.
void applyStageColours(FigureRequest& request, const FigureOptions& options);

// Where things land, in image pixels; the renderers draw exactly this.
struct PixelBox {
  int x = 0, y = 0, w = 0, h = 0;
  bool intersects(const PixelBox& o) const { return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h; }
};
struct FigureLayout {
  int width = 0, height = 0;
  int cellPx = 0;                      // scale applied
  int rowLabelStep = 1, colLabelStep = 1;
  std::vector<PixelBox> heatmaps;      // one per panel: exactly cols·cellPx × rows·cellPx
  std::vector<PixelBox> texts;         // every text item (labels, ticks, captions, title)
  PixelBox colorbar;
  bool vectorCells = true;             // SVG draws <rect> cells (else an embedded image)
  bool legend = false;                 // a masked-cell legend is drawn
};
// Throws Error when the request is inconsistent or the image would exceed kMaxFigurePixels.
FigureLayout layoutFigure(const FigureRequest& request);

std::string renderFigurePng(const FigureRequest& request);  // PNG file bytes; throws Error
std::string renderFigureSvg(const FigureRequest& request);  // SVG (UTF-8 XML); throws Error

}  // namespace attnviz
