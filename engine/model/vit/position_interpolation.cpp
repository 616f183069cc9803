#include "position_interpolation.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace attnviz::model {
namespace {

// One output index's taps along one axis: input indices and their weights.
struct Taps {
  std::vector<int> index;
  std::vector<float> weight;
};

// torch's upsample_bicubic2d (align_corners=False): source x = (i + 0.5)·in/out − 0.5, the four
// taps around floor(x) clamped into the grid, Keys' cubic convolution with a = −0.75.
std::vector<Taps> cubicTaps(int in, int out) {
  const float a = -0.75f, scale = float(in) / float(out);
  auto near = [a](float x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };             // |x| ≤ 1
  auto far = [a](float x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };  // 1 < |x| < 2
  std::vector<Taps> taps(static_cast<std::size_t>(out));
  for (int i = 0; i < out; ++i) {
    const float source = scale * (float(i) + 0.5f) - 0.5f;
    const float floor = std::floor(source), t = source - floor;
    const float weights[4] = {far(t + 1), near(t), near(1 - t), far(2 - t)};
    for (int k = 0; k < 4; ++k) {
      taps[i].index.push_back(std::clamp(int(floor) - 1 + k, 0, in - 1));
      taps[i].weight.push_back(weights[k]);
    }
  }
  return taps;
}

// torch's antialiased bicubic (_upsample_bicubic2d_aa, the scheme Pillow uses): a = −0.5, support
// 2 widened by the scale when shrinking, taps inside the grid only, weights normalised.
std::vector<Taps> antialiasedTaps(int in, int out) {
  const float a = -0.5f, scale = float(in) / float(out);
  const float support = scale >= 1 ? 2 * scale : 2, invScale = scale >= 1 ? 1 / scale : 1;
  auto filter = [a](float x) {
    x = std::fabs(x);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0f;
  };
  std::vector<Taps> taps(static_cast<std::size_t>(out));
  for (int i = 0; i < out; ++i) {
    const float center = scale * (float(i) + 0.5f);
    // Truncation toward zero, as the int64 cast in torch does.
    const int first = std::max(int(static_cast<long long>(center - support + 0.5f)), 0);
    const int last = std::min(int(static_cast<long long>(center + support + 0.5f)), in);
    float total = 0;
    for (int j = first; j < last; ++j) {
      const float w = filter((float(j) - center + 0.5f) * invScale);
      taps[i].index.push_back(j);
      taps[i].weight.push_back(w);
      total += w;
    }
    if (total != 0)
      for (float& w : taps[i].weight) w /= total;
  }
  return taps;
}

}  // namespace

Matrix interpolateBicubic(const Matrix& grid, int rows, int cols, int newRows, int newCols, bool antialias) {
  const Eigen::Index channels = grid.cols();
  const auto rowTaps = antialias ? antialiasedTaps(rows, newRows) : cubicTaps(rows, newRows);
  const auto colTaps = antialias ? antialiasedTaps(cols, newCols) : cubicTaps(cols, newCols);
  Matrix out = Matrix::Zero(Eigen::Index(newRows) * newCols, channels);
  if (antialias) {
    // Separable, the contiguous axis (columns) first, as torch's antialiased kernel runs; an
    // axis whose size does not change is left alone.
    Matrix wide = grid;
    if (cols != newCols) {
      wide = Matrix::Zero(Eigen::Index(rows) * newCols, channels);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < newCols; ++c)
          for (std::size_t k = 0; k < colTaps[c].index.size(); ++k)
            wide.row(r * newCols + c) += colTaps[c].weight[k] * grid.row(r * cols + colTaps[c].index[k]);
    }
    if (rows == newRows) return wide;
    for (int r = 0; r < newRows; ++r)
      for (int c = 0; c < newCols; ++c)
        for (std::size_t k = 0; k < rowTaps[r].index.size(); ++k)
          out.row(r * newCols + c) += rowTaps[r].weight[k] * wide.row(rowTaps[r].index[k] * newCols + c);
    return out;
  }
  // Each output cell from its 4 × 4 taps: along the columns within each of the four rows first,
  // then across the rows, as upsample_bicubic2d does.
  for (int r = 0; r < newRows; ++r)
    for (int c = 0; c < newCols; ++c) {
      Eigen::RowVectorXf cell = Eigen::RowVectorXf::Zero(channels);
      for (int i = 0; i < 4; ++i) {
        Eigen::RowVectorXf along = Eigen::RowVectorXf::Zero(channels);
        for (int k = 0; k < 4; ++k) along += colTaps[c].weight[k] * grid.row(rowTaps[r].index[i] * cols + colTaps[c].index[k]);
        cell += rowTaps[r].weight[i] * along;
      }
      out.row(r * newCols + c) = cell;
    }
  return out;
}

}  // namespace attnviz::model
