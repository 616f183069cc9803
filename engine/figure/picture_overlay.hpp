#pragma once
// Attention drawn on the picture a vision model saw: one value per patch (a query's weights over
// the patches, or a rollout row) colour-mapped and blended over the patch's pixels. The app's
// picture view and `attnviz export --overlay` both draw through here, so they agree pixel for
// pixel. GL-free.
#include <optional>
#include <vector>

#include "attention.hpp"
#include "figure/colormap.hpp"
#include "figure/figure.hpp"
#include "image/image.hpp"
#include "record.hpp"
#include "rollout.hpp"
#include "session.hpp"  // PictureHeads
#include "types.hpp"

namespace attnviz {

struct OverlayOptions {
  Colormap colormap = Colormap::Viridis;
  float opacity = 0.6f;  // 0: the picture alone, 1: the colours alone
  bool smooth = false;   // bilinear between patch centres instead of one colour per patch
  // DINO's view: keep the fewest patches holding this fraction of the total weight (the largest
  // first) and leave the others uncoloured; 0 (or 1) keeps every patch.
  float keep = 0;
  std::optional<ValueRange> range;  // default: [0, the largest value]
};

// The values of one query row over the patches, as a grid.rows × grid.cols matrix (the prefix
// tokens, [CLS], [DIST] and registers, left out). Throws Error when the row is not the grid's.
Matrix patchValues(const float* row, int length, const model::PatchGrid& grid);

// The patches `keep` retains (1) and drops (0), rows × cols; all ones when keep is 0 or ≥ 1.
// Ties at the boundary are kept together, so the kept weight is never less than asked.
MaskMatrix keptPatches(const Matrix& values, float keep);
// The share of the total weight the kept patches hold (for the label beside the slider).
float keptShare(const Matrix& values, const MaskMatrix& kept);

// The range the colours span: options.range, else [0, max] (widened to [0, 1] when max ≤ 0).
ValueRange overlayRange(const Matrix& values, const OverlayOptions& options);

// The picture with the overlay blended in: pixel = round((1 − α)·picture + α·colour) per channel,
// α = opacity, over the grid's rows·patch × cols·patch pixels (a remainder the patch grid does
// not cover, and dropped patches, keep the picture's pixels). With smooth, the value at a pixel
// is interpolated bilinearly between patch centres (edges clamped), then colour-mapped.
// Throws Error when the picture is smaller than the grid or the sizes disagree.
model::RgbImage overlayPicture(const model::RgbImage& picture, const Matrix& values, int patch,
                               const OverlayOptions& options);

// Whose attention is drawn: the query token (0: [CLS]) and which heads of the viewed layer, or
// the rollout from layer 0 to the viewed layer.
struct PictureSelection {
  int query = 0;
  PictureHeads heads = PictureHeads::Selected;
  int head = 0;  // with Selected
  bool rollout = false;
  int rolloutFrom = 0;  // the rollout multiplies layers rolloutFrom … the viewed layer
  model::HeadFusion fusion = model::HeadFusion::Mean;
};
struct PicturePanel {
  std::string caption;  // "head 2", "mean of 4 heads", "rollout, layers 0–3, heads' mean"
  Matrix values;        // the query's row over the patches (rows × cols)
  int head = -1;        // the head shown (-1: a fusion of heads)
};
// The panels the app's picture view and `export --overlay` draw: from `trace` (the viewed
// layer's attention as the step-through computes it, what-ifs included), or from `rollout`
// (n × n, attentionRollout from rolloutFirstLayer(selection, layer) to `layer`) when selection.rollout. Throws Error for a query or
// head out of range.
std::vector<PicturePanel> picturePanels(const AttentionTrace& trace, const model::PatchGrid& grid,
                                        const PictureSelection& selection, const Matrix* rollout, int layer);
// The rollout's first layer: selection.rolloutFrom, at most `layer`.
inline int rolloutFirstLayer(const PictureSelection& selection, int layer) {
  return selection.rolloutFrom < 0 ? 0 : selection.rolloutFrom > layer ? layer : selection.rolloutFrom;
}
// One colour scale for every panel: [0, the largest value shown] (options.range when given).
ValueRange pictureRange(const std::vector<PicturePanel>& panels, const OverlayOptions& options);

// A figure of the panels over the picture: a pixel of the picture per cell (cellPx pixels each,
// 0: automatic), one colour bar, captions when there are several; renderFigurePng/Svg draw it.
FigureRequest makePictureFigure(const model::RgbImage& picture, const model::PatchGrid& grid,
                                const std::vector<PicturePanel>& panels, const OverlayOptions& options,
                                const std::string& title, const std::string& subtitle, int cellPx = 0, float scale = 1);

// The value the overlay colours pixel (x, y) with (smooth or not); for tests and the tooltip.
float overlayValueAt(const Matrix& values, int patch, bool smooth, int x, int y);

}  // namespace attnviz
