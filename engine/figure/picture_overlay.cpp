#include "figure/picture_overlay.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>


namespace attnviz {

Matrix patchValues(const float* row, int length, const model::PatchGrid& grid) {
  if (length != grid.tokens())
    throw Error("a row of " + std::to_string(length) + " values is not this picture's " + std::to_string(grid.tokens()) +
                " tokens");
  Matrix values(grid.rows, grid.cols);
  const float* patches = row + grid.prefix.size();
  for (int r = 0; r < grid.rows; ++r)
    for (int c = 0; c < grid.cols; ++c) values(r, c) = patches[r * grid.cols + c];
  return values;
}

MaskMatrix keptPatches(const Matrix& values, float keep) {
  MaskMatrix kept = MaskMatrix::Ones(values.rows(), values.cols());
  if (!(keep > 0) || keep >= 1) return kept;
  std::vector<long> order(std::size_t(values.size()));
  std::iota(order.begin(), order.end(), 0L);
  const float* v = values.data();
  std::stable_sort(order.begin(), order.end(), [v](long a, long b) { return v[a] > v[b]; });
  double total = 0;
  for (long i = 0; i < values.size(); ++i) total += std::max(0.0f, v[i]);
  kept.setZero();
  double sum = 0;
  std::size_t k = 0;
  while (k < order.size() && sum < double(keep) * total) sum += std::max(0.0f, v[order[k++]]);
  // Patches tied with the last one kept stay with it.
  const float last = k > 0 ? v[order[k - 1]] : 0;
  while (k < order.size() && k > 0 && v[order[k]] == last) ++k;
  for (std::size_t i = 0; i < k; ++i) kept.data()[order[i]] = 1;
  return kept;
}

float keptShare(const Matrix& values, const MaskMatrix& kept) {
  double all = 0, in = 0;
  for (long i = 0; i < values.size(); ++i) {
    const double w = std::max(0.0f, values.data()[i]);
    all += w;
    if (kept.data()[i]) in += w;
  }
  return all > 0 ? float(in / all) : 1.0f;
}

ValueRange overlayRange(const Matrix& values, const OverlayOptions& options) {
  if (options.range) return *options.range;
  float hi = 0;
  for (long i = 0; i < values.size(); ++i)
    if (std::isfinite(values.data()[i])) hi = std::max(hi, values.data()[i]);
  return {0.0f, hi > 0 ? hi : 1.0f};
}

std::vector<PicturePanel> picturePanels(const AttentionTrace& trace, const model::PatchGrid& grid,
                                        const PictureSelection& selection, const Matrix* rollout, int layer) {
  if (trace.head.empty() || trace.n != grid.tokens() || trace.m != grid.tokens())
    throw Error("the attention is not over this picture's " + std::to_string(grid.tokens()) + " tokens");
  const int q = selection.query;
  if (q < 0 || q >= trace.n)
    throw Error("token " + std::to_string(q) + " is out of range: the picture has " + std::to_string(trace.n) +
                " tokens (0 to " + std::to_string(trace.n - 1) + ", 0 = " + grid.tokenName(0) + ")");
  auto row = [&](int h) { return patchValues(trace.head[std::size_t(h)].weights.row(q).data(), trace.m, grid); };
  std::vector<PicturePanel> panels;
  if (selection.rollout) {
    if (!rollout || rollout->rows() != trace.n || rollout->cols() != trace.m) throw Error("no rollout for this picture");
    panels.push_back({"rollout, layers " + std::to_string(rolloutFirstLayer(selection, layer)) + "\u2013" +
                          std::to_string(layer) + ", heads' " + model::toString(selection.fusion),
                      patchValues(rollout->row(q).data(), int(rollout->cols()), grid)});
  } else if (selection.heads == PictureHeads::All) {
    for (int h = 0; h < trace.heads; ++h) panels.push_back({"head " + std::to_string(h), row(h), h});
  } else if (selection.heads == PictureHeads::Mean) {
    Matrix mean = Matrix::Zero(grid.rows, grid.cols);
    for (int h = 0; h < trace.heads; ++h) mean += row(h);
    panels.push_back({"mean of " + std::to_string(trace.heads) + " heads", mean / float(trace.heads)});
  } else {
    if (selection.head < 0 || selection.head >= trace.heads)
      throw Error("head " + std::to_string(selection.head) + " is out of range: the layer has " +
                  std::to_string(trace.heads) + " heads (use 0.." + std::to_string(trace.heads - 1) + ", mean or all)");
    panels.push_back({"head " + std::to_string(selection.head), row(selection.head), selection.head});
  }
  return panels;
}

ValueRange pictureRange(const std::vector<PicturePanel>& panels, const OverlayOptions& options) {
  if (options.range) return *options.range;
  float top = 0;
  for (const PicturePanel& p : panels)
    for (long i = 0; i < p.values.size(); ++i)
      if (std::isfinite(p.values.data()[i])) top = std::max(top, p.values.data()[i]);
  return {0.0f, top > 0 ? top : 1.0f};
}

FigureRequest makePictureFigure(const model::RgbImage& picture, const model::PatchGrid& grid,
                                const std::vector<PicturePanel>& panels, const OverlayOptions& options,
                                const std::string& title, const std::string& subtitle, int cellPx, float scale) {
  if (panels.empty()) throw Error("figure: nothing to draw (no panels)");
  OverlayOptions shared = options;
  shared.range = pictureRange(panels, options);
  FigureRequest r;
  for (const PicturePanel& p : panels) {
    FigurePanel panel;
    panel.caption = p.caption;
    panel.values = Matrix::Zero(picture.height, picture.width);
    panel.picture = std::make_shared<const model::RgbImage>(overlayPicture(picture, p.values, grid.patch, shared));
    r.panels.push_back(std::move(panel));
  }
  r.labels = false;
  r.colormap = shared.colormap;
  r.range = *shared.range;
  r.colorbarLabel = panels.front().caption.rfind("rollout", 0) == 0 ? "rollout" : "attention weight";
  r.title = title;
  r.subtitle = subtitle;
  r.cellPx = cellPx;
  r.scale = scale;
  return r;
}

float overlayValueAt(const Matrix& values, int patch, bool smooth, int x, int y) {
  const long rows = values.rows(), cols = values.cols();
  if (!smooth) return values(std::min<long>(y / patch, rows - 1), std::min<long>(x / patch, cols - 1));
  // Patch centres sit at (c + 0.5)·patch: align_corners=False, edges clamped.
  const double u = std::clamp((x + 0.5) / patch - 0.5, 0.0, double(cols - 1));
  const double w = std::clamp((y + 0.5) / patch - 0.5, 0.0, double(rows - 1));
  const long c0 = long(std::floor(u)), r0 = long(std::floor(w));
  const long c1 = std::min(c0 + 1, cols - 1), r1 = std::min(r0 + 1, rows - 1);
  const double fu = u - double(c0), fw = w - double(r0);
  const double top = (1 - fu) * values(r0, c0) + fu * values(r0, c1);
  const double bottom = (1 - fu) * values(r1, c0) + fu * values(r1, c1);
  return float((1 - fw) * top + fw * bottom);
}

model::RgbImage overlayPicture(const model::RgbImage& picture, const Matrix& values, int patch,
                               const OverlayOptions& options) {
  if (patch < 1 || values.size() == 0) throw Error("the overlay needs a patch grid");
  const int width = int(values.cols()) * patch, height = int(values.rows()) * patch;
  if (picture.width < width || picture.height < height ||
      picture.pixels.size() != std::size_t(picture.width) * picture.height * 3)
    throw Error("the picture (" + std::to_string(picture.width) + "×" + std::to_string(picture.height) +
                ") is smaller than its patch grid (" + std::to_string(width) + "×" + std::to_string(height) + ")");
  const ValueRange range = overlayRange(values, options);
  const MaskMatrix kept = keptPatches(values, options.keep);
  const float alpha = std::clamp(options.opacity, 0.0f, 1.0f);
  const ColormapLut& lut = colormapLut(options.colormap);
  model::RgbImage out = picture;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      if (!kept(y / patch, x / patch)) continue;
      const float v = overlayValueAt(values, patch, options.smooth, x, y);
      if (!std::isfinite(v)) continue;
      const Rgb8& colour = lut[lutIndex(v, range.lo, range.hi)];
      std::uint8_t* p = out.pixels.data() + (std::size_t(y) * picture.width + x) * 3;
      for (int k = 0; k < 3; ++k) p[k] = std::uint8_t(std::lround((1 - alpha) * float(p[k]) + alpha * float(colour[k])));
    }
  return out;
}

}  // namespace attnviz
