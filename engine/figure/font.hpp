#pragma once
// Text for exported figures: an ordered fallback list of TrueType fonts (assets/fonts.json),
// UTF-8 text measured and rasterised with stb_truetype. Deterministic: the same text, size
// and fonts give the same coverage bytes on every run.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace attnviz {

// An 8-bit coverage bitmap of one line of text. The pen starts at x = originX and the
// baseline is the row baselineY; both may be outside [0, width) × [0, height).
struct TextBitmap {
  int width = 0, height = 0;
  int originX = 0, baselineY = 0;
  std::vector<std::uint8_t> coverage;  // width·height, row-major
};

class FontSet {
 public:
  // Loads the fonts listed in `fontsJsonPath`. Throws Error naming the file when it cannot be
  // read or none of its fonts can be loaded; fonts that are missing are skipped (their
  // characters then fall back to the next font, or to a replacement box).
  explicit FontSet(const std::string& fontsJsonPath);
  ~FontSet();
  FontSet(const FontSet&) = delete;
  FontSet& operator=(const FontSet&) = delete;

  // The fonts of dataDirectory()/fonts.json, loaded once per process. Throws Error.
  static const FontSet& standard();

  // Sizes are em sizes in pixels. Bold uses each font's bold face when it has one.
  float advance(std::string_view utf8, float px, bool bold = false) const;
  float ascent(float px) const;   // of the first font, positive, above the baseline
  float descent(float px) const;  // of the first font, positive, below the baseline
  TextBitmap rasterize(std::string_view utf8, float px, bool bold = false) const;

  // `utf8` cut to at most maxWidth pixels, ending in "…" when it had to be cut.
  std::string ellipsize(std::string_view utf8, float px, float maxWidth) const;

  // The font-family list for SVG output, e.g. "DejaVu Sans, Droid Sans Fallback, sans-serif".
  std::string svgFamily() const;

 private:
  struct Face;
  struct Placed;
  std::vector<Placed> place(std::string_view utf8, float px, bool bold) const;
  std::vector<std::unique_ptr<Face>> faces_;
};

}  // namespace attnviz
