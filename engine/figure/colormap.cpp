#include "colormap.hpp"

#include <algorithm>
#include <cmath>

#include "types.hpp"

namespace attnviz {
namespace {

// sRGB control points sampled every `stride` entries of the published 256-entry maps
// (matplotlib's viridis, magma and cividis; ColorBrewer's 11-class RdBu, which is how
// matplotlib defines RdBu). Linear interpolation between them reproduces the published
// tables to within 1 unit (2 for cividis's steep dark end) per channel.
constexpr std::uint8_t kViridis[][3] = {
    {68, 1, 84}, {70, 8, 92}, {71, 16, 99}, {72, 23, 105}, {72, 29, 111}, {72, 36, 117},
    {71, 42, 122}, {70, 48, 126}, {69, 55, 129}, {67, 61, 132}, {65, 66, 135}, {63, 72, 137},
    {61, 78, 138}, {58, 83, 139}, {56, 89, 140}, {53, 94, 141}, {51, 99, 141}, {49, 104, 142},
    {46, 109, 142}, {44, 113, 142}, {42, 118, 142}, {41, 123, 142}, {39, 128, 142},
    {37, 132, 142}, {35, 137, 142}, {33, 142, 141}, {32, 146, 140}, {31, 151, 139},
    {30, 156, 137}, {31, 161, 136}, {33, 165, 133}, {36, 170, 131}, {40, 174, 128},
    {46, 179, 124}, {53, 183, 121}, {61, 188, 116}, {70, 192, 111}, {80, 196, 106},
    {90, 200, 100}, {101, 203, 94}, {112, 207, 87}, {124, 210, 80}, {137, 213, 72},
    {149, 216, 64}, {162, 218, 55}, {176, 221, 47}, {189, 223, 38}, {202, 225, 31},
    {216, 226, 25}, {229, 228, 25}, {241, 229, 29}, {253, 231, 37},
};
constexpr std::uint8_t kMagma[][3] = {
    {0, 0, 4}, {2, 2, 11}, {5, 4, 22}, {9, 7, 32}, {14, 11, 43}, {20, 14, 54}, {26, 16, 66},
    {33, 17, 78}, {41, 17, 90}, {49, 17, 101}, {57, 15, 110}, {66, 15, 117}, {74, 16, 121},
    {82, 19, 124}, {90, 22, 126}, {98, 25, 128}, {106, 28, 129}, {114, 31, 129}, {121, 34, 130},
    {129, 37, 129}, {137, 40, 129}, {145, 43, 129}, {153, 45, 128}, {161, 48, 126},
    {170, 51, 125}, {178, 53, 123}, {186, 56, 120}, {194, 59, 117}, {202, 62, 114},
    {210, 66, 111}, {217, 70, 107}, {224, 76, 103}, {231, 82, 99}, {236, 88, 96}, {241, 96, 93},
    {244, 105, 92}, {247, 114, 92}, {249, 123, 93}, {251, 133, 96}, {252, 142, 100},
    {253, 152, 105}, {254, 161, 110}, {254, 170, 116}, {254, 180, 123}, {254, 189, 130},
    {254, 198, 138}, {254, 207, 146}, {254, 216, 154}, {253, 226, 163}, {253, 235, 172},
    {252, 244, 182}, {252, 253, 191},
};
constexpr std::uint8_t kCividis[][3] = {
    {0, 34, 78}, {0, 37, 83}, {0, 39, 88}, {0, 41, 93}, {0, 43, 98}, {0, 45, 104}, {0, 47, 109},
    {0, 49, 112}, {5, 51, 113}, {15, 53, 112}, {22, 55, 112}, {28, 57, 111}, {33, 59, 110},
    {38, 61, 110}, {42, 63, 109}, {46, 65, 109}, {50, 67, 109}, {53, 69, 108}, {57, 72, 108},
    {60, 74, 108}, {63, 76, 108}, {66, 78, 108}, {69, 80, 108}, {72, 82, 108}, {75, 84, 108},
    {78, 86, 108}, {81, 88, 109}, {84, 90, 109}, {86, 92, 109}, {89, 94, 110}, {92, 97, 110},
    {94, 99, 111}, {97, 101, 111}, {100, 103, 112}, {102, 105, 112}, {105, 107, 113},
    {108, 109, 114}, {110, 111, 115}, {113, 114, 116}, {115, 116, 117}, {118, 118, 118},
    {120, 120, 119}, {123, 122, 120}, {126, 124, 120}, {128, 127, 120}, {131, 129, 121},
    {134, 131, 121}, {137, 133, 120}, {140, 136, 120}, {143, 138, 120}, {146, 140, 120},
    {148, 142, 119}, {151, 145, 119}, {154, 147, 118}, {157, 149, 118}, {160, 152, 117},
    {163, 154, 116}, {166, 156, 116}, {169, 159, 115}, {172, 161, 114}, {175, 164, 113},
    {179, 166, 112}, {182, 169, 111}, {185, 171, 109}, {188, 174, 108}, {191, 176, 107},
    {194, 179, 105}, {197, 181, 104}, {200, 184, 102}, {204, 186, 100}, {207, 189, 98},
    {210, 192, 96}, {213, 194, 94}, {217, 197, 92}, {220, 200, 89}, {223, 202, 87},
    {226, 205, 84}, {230, 208, 81}, {233, 211, 78}, {237, 213, 74}, {240, 216, 70},
    {243, 219, 66}, {247, 222, 62}, {251, 225, 56}, {254, 228, 52}, {254, 232, 56},
};
// Negative values blue, positive red: the ColorBrewer list reversed.
constexpr std::uint8_t kRdBu[][3] = {
    {5, 48, 97},      {33, 102, 172},   {67, 147, 195},   {146, 197, 222},
    {209, 229, 240},  {247, 247, 247},  {253, 219, 199},  {244, 165, 130},
    {214, 96, 77},    {178, 24, 43},    {103, 0, 31},
};

template <std::size_t N>
ColormapLut interpolate(const std::uint8_t (&points)[N][3]) {
  ColormapLut lut{};
  for (int i = 0; i < 256; ++i) {
    const double x = i * double(N - 1) / 255.0;
    const std::size_t a = std::min<std::size_t>(static_cast<std::size_t>(x), N - 2);
    const double f = x - double(a);
    for (int c = 0; c < 3; ++c) {
      const double v = points[a][c] + f * (double(points[a + 1][c]) - double(points[a][c]));
      lut[i][c] = static_cast<std::uint8_t>(std::floor(v + 0.5));
    }
  }
  return lut;
}

}  // namespace

Colormap parseColormap(const std::string& name) {
  if (name == "viridis") return Colormap::Viridis;
  if (name == "magma") return Colormap::Magma;
  if (name == "cividis") return Colormap::Cividis;
  if (name == "rdbu") return Colormap::RdBu;
  throw Error("unknown colour map \"" + name + "\" (expected viridis, magma, cividis or rdbu)");
}

const char* toString(Colormap map) {
  switch (map) {
    case Colormap::Viridis: return "viridis";
    case Colormap::Magma: return "magma";
    case Colormap::Cividis: return "cividis";
    case Colormap::RdBu: return "rdbu";
  }
  return "?";
}

bool isDiverging(Colormap map) { return map == Colormap::RdBu; }

const ColormapLut& colormapLut(Colormap map) {
  // Built once, on first use, from the control points (thread-safe static initialisation).
  static const ColormapLut viridis = interpolate(kViridis);
  static const ColormapLut magma = interpolate(kMagma);
  static const ColormapLut cividis = interpolate(kCividis);
  static const ColormapLut rdbu = interpolate(kRdBu);
  switch (map) {
    case Colormap::Magma: return magma;
    case Colormap::Cividis: return cividis;
    case Colormap::RdBu: return rdbu;
    case Colormap::Viridis: break;
  }
  return viridis;
}

Rgb8 mapValue(Colormap map, float value, float lo, float hi) {
  if (!std::isfinite(value)) return kMaskedColor;
  return colormapLut(map)[lutIndex(value, lo, hi)];
}

ValueRange autoRange(const float* values, std::size_t count, bool symmetric, const std::uint8_t* mask) {
  float lo = INFINITY, hi = -INFINITY;
  for (std::size_t i = 0; i < count; ++i) {
    if (mask && !mask[i]) continue;
    const float v = values[i];
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo > hi) return symmetric ? ValueRange{-1, 1} : ValueRange{0, 1};
  if (symmetric) {
    const float a = std::max(std::fabs(lo), std::fabs(hi));
    return a > 0 ? ValueRange{-a, a} : ValueRange{-1, 1};
  }
  if (lo == hi) {
    // A constant map still needs a non-empty range; centre it so the colour is mid-scale.
    const float pad = lo == 0 ? 1.0f : std::fabs(lo) * 0.5f;
    return {lo - pad, hi + pad};
  }
  return {lo, hi};
}

Colormap stageColormap(StageId stage, const StageColours& c) {
  const bool signedValues = stageInfo(stage).kind == ValueKind::Signed;
  return signedValues && c.divergingForSigned ? Colormap::RdBu : c.sequential;
}

ValueRange stageRange(StageId stage, Colormap map, const float* values, std::size_t count, const StageColours& c) {
  if (stageInfo(stage).kind == ValueKind::Signed || isDiverging(map)) return autoRange(values, count, isDiverging(map));
  // exp values and weights lie in [0, 1]; the top of the scale is their largest value, so
  // rows of small weights are still told apart.
  if (c.unitRange) return {0, 1};
  float hi = 0;
  for (std::size_t i = 0; i < count; ++i)
    if (std::isfinite(values[i])) hi = std::max(hi, values[i]);
  return {0, hi > 0 ? hi : 1};
}

ColourScale parseColourScale(const std::string& name) {
  if (name == "linear") return ColourScale::Linear;
  if (name == "log") return ColourScale::Log;
  if (name == "row") return ColourScale::RowNormalised;
  throw Error("unknown colour scale \"" + name + "\" (expected linear, log or row)");
}

const char* toString(ColourScale scale) {
  switch (scale) {
    case ColourScale::Log: return "log";
    case ColourScale::RowNormalised: return "row";
    case ColourScale::Linear: break;
  }
  return "linear";
}

bool colourScaleApplies(StageId stage, ColourScale scale) {
  return scale != ColourScale::Linear && stageInfo(stage).kind != ValueKind::Signed;
}

std::string colourScaleLabel(const std::string& quantity, ColourScale scale) {
  switch (scale) {
    case ColourScale::Log: return "log10 " + quantity;
    case ColourScale::RowNormalised: return quantity + " / row max";
    case ColourScale::Linear: break;
  }
  return quantity;
}

ValueRange colourScaleRange(ColourScale scale, ValueRange linear) {
  switch (scale) {
    case ColourScale::Log: {
      const float top = std::log10(linear.hi > 0 ? linear.hi : 1.0f);
      return {top - kLogDecades, top};
    }
    case ColourScale::RowNormalised: return {0, 1};
    case ColourScale::Linear: break;
  }
  return linear;
}

void applyColourScale(Matrix& values, ColourScale scale, ValueRange linear) {
  if (scale == ColourScale::Log) {
    const float floorValue = std::pow(10.0f, colourScaleRange(scale, linear).lo);
    for (Eigen::Index k = 0; k < values.size(); ++k) {
      float& v = values.data()[k];
      if (std::isfinite(v)) v = std::log10(std::max(v, floorValue));
    }
  } else if (scale == ColourScale::RowNormalised) {
    for (Eigen::Index r = 0; r < values.rows(); ++r) {
      float top = 0;
      for (Eigen::Index c = 0; c < values.cols(); ++c)
        if (std::isfinite(values(r, c))) top = std::max(top, values(r, c));
      if (top <= 0) continue;  // an all-zero or fully masked row stays as it is
      for (Eigen::Index c = 0; c < values.cols(); ++c)
        if (std::isfinite(values(r, c))) values(r, c) /= top;
    }
  }
}

}  // namespace attnviz

