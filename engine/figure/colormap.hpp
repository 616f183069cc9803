#pragma once
// Colour maps as 256-entry sRGB lookup tables. The desktop heatmap shader (uploaded as a 256×1
// texture), the colour bar and the PNG/SVG exporters all read these same tables, so what is on
// screen and what is in a file agree pixel for pixel.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "stages.hpp"
#include "types.hpp"

namespace attnviz {

// Viridis, magma and cividis are perceptually uniform and colour-blind safe (cividis is tuned
// for deuteranopia). RdBu is diverging: blue below 0, near-white at 0, red above 0 (the
// orientation of matplotlib's "RdBu_r"); callers pass a range symmetric around 0.
enum class Colormap { Viridis, Magma, Cividis, RdBu };

using Rgb8 = std::array<std::uint8_t, 3>;
using ColormapLut = std::array<Rgb8, 256>;  // 768 contiguous bytes, ready for GL_RGB8 upload
static_assert(sizeof(ColormapLut) == 768);

// "viridis" | "magma" | "cividis" | "rdbu"; throws Error listing the names.
Colormap parseColormap(const std::string& name);
const char* toString(Colormap map);
bool isDiverging(Colormap map);  // true for RdBu: use a range symmetric around 0
const ColormapLut& colormapLut(Colormap map);

// Cells that are masked (or hold a non-finite value) are never colour-mapped: they are
// painted with this light grey and crossed by hatch lines of kMaskedHatch. Neither colour
// occurs in any of the maps.
inline constexpr Rgb8 kMaskedColor{228, 228, 228};
inline constexpr Rgb8 kMaskedHatch{170, 170, 170};

// The LUT entry for `value` in [lo, hi]: t = clamp((value - lo) / (hi - lo), 0, 1), index
// min(255, floor(t * 256)). This is exactly what GL_NEAREST sampling of the 256×1 texture at
// coordinate t returns, so a shader doing `texture(lut, vec2(t, 0.5))` matches. Requires
// lo < hi and a finite value.
inline int lutIndex(float value, float lo, float hi) {
  float t = (value - lo) / (hi - lo);
  t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
  const int i = static_cast<int>(t * 256.0f);
  return i > 255 ? 255 : i;
}
Rgb8 mapValue(Colormap map, float value, float lo, float hi);

struct ValueRange {
  float lo = 0, hi = 1;
  bool operator==(const ValueRange&) const = default;
};

// The automatic range: min and max over the finite values (-inf of masked cells ignored), and
// when `mask` is given (1 = allowed, same layout as `values`) over the allowed cells only.
// Symmetric ranges are [-a, a] with a = max |value|. A constant or empty input is widened so
// that lo < hi always holds: empty → [0, 1] ([-1, 1] symmetric).
ValueRange autoRange(const float* values, std::size_t count, bool symmetric,
                     const std::uint8_t* mask = nullptr);

// The colour rule of a stage (stages.hpp), the one the app's heatmap and every figure use.
// Signed stages: the diverging map centred on 0 (or, with divergingForSigned off, the
// sequential map over [min, max]). exp, row sums and weights: the sequential map over
// [0, max], or [0, 1] with unitRange.
struct StageColours {
  Colormap sequential = Colormap::Viridis;
  bool divergingForSigned = true;
  bool unitRange = false;
};
Colormap stageColormap(StageId stage, const StageColours& colours = {});
// The range for `values` (the stage's display values: masked cells are -inf and ignored)
// drawn with `map`.
ValueRange stageRange(StageId stage, Colormap map, const float* values, std::size_t count,
                      const StageColours& colours = {});

// How values become colours. Long rows of weights are nearly one colour on a linear scale
// (long-512: max 0.066, typical 0.002), so stages of non-negative values (exp, row sums,
// weights) can also be drawn on a log scale (log10 over kLogDecades decades below the top of
// the range; smaller values take the bottom colour) or with each row divided by its maximum.
// Signed stages are always linear. The app's heatmap and every figure apply the same transform.
enum class ColourScale { Linear, Log, RowNormalised };
inline constexpr float kLogDecades = 4;
ColourScale parseColourScale(const std::string& name);  // "linear" | "log" | "row"; throws Error
const char* toString(ColourScale scale);                 // the name parseColourScale reads
bool colourScaleApplies(StageId stage, ColourScale scale);  // false for signed stages and Linear
// The colour bar's label for `quantity` ("weight") drawn with `scale`: "log10 weight",
// "weight / row max", or the quantity itself.
std::string colourScaleLabel(const std::string& quantity, ColourScale scale);
// Values as they are colour-mapped (masked −inf cells stay −inf), and the range that goes with
// them; `linear` is the range the stage's colour rule gives the untransformed values.
void applyColourScale(Matrix& values, ColourScale scale, ValueRange linear);
ValueRange colourScaleRange(ColourScale scale, ValueRange linear);

}  // namespace attnviz
