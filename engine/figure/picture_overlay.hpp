#pragma once
// Attention drawn on the picture a vision model saw: one value per patch (a query's weights over
// the patches, or a rollout row) colour-mapped and blended over the patch's pixels. The app's
// picture view and `attnviz export --overlay` both draw through here, so they agree pixel for
// pixel. GL-free.
#include <optional>
#include <vector>

#include "figure/colormap.hpp"
#include "image/image.hpp"
#include "record.hpp"
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

// The value the overlay colours pixel (x, y) with (smooth or not); for tests and the tooltip.
float overlayValueAt(const Matrix& values, int patch, bool smooth, int x, int y);

}  // namespace attnviz
