#include "font.hpp"

#include <stb_truetype.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "matrix_io.hpp"
#include "session.hpp"
#include "types.hpp"
#include "utf8.hpp"

namespace attnviz {

namespace fs = std::filesystem;

struct FontSet::Face {
  std::string family;
  std::string data, boldData;  // stb_truetype reads the font bytes in place: keep them alive
  stbtt_fontinfo info{}, boldInfo{};
  bool hasBold = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;  // empty: everything

  bool covers(char32_t c) const {
    if (ranges.empty()) return true;
    for (const auto& [lo, hi] : ranges)
      if (c >= lo && c <= hi) return true;
    return false;
  }
  const stbtt_fontinfo& font(bool bold) const { return bold && hasBold ? boldInfo : info; }
};

struct FontSet::Placed {
  const stbtt_fontinfo* font;
  int glyph;
  float scale;
  float x;  // pen position of this glyph, relative to the start of the line
};

namespace {

bool loadFont(const std::string& path, std::string& bytes, stbtt_fontinfo& info) {
  try {
    bytes = readFile(path);
  } catch (const Error&) {
    return false;
  }
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const int offset = stbtt_GetFontOffsetForIndex(data, 0);
  return offset >= 0 && stbtt_InitFont(&info, data, offset) != 0;
}

char32_t parseHex(const std::string& s, const std::string& where) {
  std::size_t used = 0;
  unsigned long v = 0;
  try {
    v = std::stoul(s, &used, 16);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || v > 0x10FFFF)
    throw Error(where + ": bad code point \"" + s + "\" in ranges (expected hexadecimal like 4E00-9FFF)");
  return char32_t(v);
}

}  // namespace

FontSet::FontSet(const std::string& fontsJsonPath) {
  const std::string text = readFile(fontsJsonPath);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fontsJsonPath + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object() || !j.contains("fonts") || !j["fonts"].is_array())
    throw Error(fontsJsonPath + ": expected an object with a \"fonts\" array");
  const fs::path base = fs::path(fontsJsonPath).parent_path();
  const auto resolve = [&](const std::string& p) { return fs::path(p).is_absolute() ? p : (base / p).string(); };
  std::string missing;
  for (const auto& entry : j["fonts"]) {
    if (!entry.is_object() || !entry.contains("file") || !entry["file"].is_string())
      throw Error(fontsJsonPath + ": each font needs a \"file\" string");
    auto face = std::make_unique<Face>();
    const std::string file = resolve(entry["file"].get<std::string>());
    if (!loadFont(file, face->data, face->info)) {
      missing += (missing.empty() ? "" : ", ") + file;
      continue;
    }
    if (entry.contains("bold") && entry["bold"].is_string())
      face->hasBold = loadFont(resolve(entry["bold"].get<std::string>()), face->boldData, face->boldInfo);
    face->family = entry.value("family", fs::path(file).stem().string());
    if (entry.contains("ranges")) {
      for (const auto& r : entry["ranges"]) {
        const std::string s = r.is_string() ? r.get<std::string>() : "";
        const auto dash = s.find('-');
        if (dash == std::string::npos)
          throw Error(fontsJsonPath + ": bad range \"" + s + "\" (expected like 4E00-9FFF)");
        face->ranges.emplace_back(parseHex(s.substr(0, dash), fontsJsonPath), parseHex(s.substr(dash + 1), fontsJsonPath));
      }
    }
    faces_.push_back(std::move(face));
  }
  if (faces_.empty())
    throw Error(fontsJsonPath + ": none of its fonts could be loaded (" + (missing.empty() ? "none listed" : missing) +
                "); install fonts-dejavu-core");
}

FontSet::~FontSet() = default;

const FontSet& FontSet::standard() {
  static const FontSet fonts((fs::path(dataDirectory()) / "fonts.json").string());
  return fonts;
}

std::vector<FontSet::Placed> FontSet::place(std::string_view utf8, float px, bool bold) const {
  std::vector<Placed> out;
  float x = 0;
  const stbtt_fontinfo* prevFont = nullptr;
  int prevGlyph = 0;
  for (char32_t c : decodeUtf8Lenient(utf8)) {
    if (c < 0x20 || (c >= 0x7F && c < 0xA0)) c = 0xFFFD;  // control characters have no glyph
    const stbtt_fontinfo* font = nullptr;
    int glyph = 0;
    // Preferred: the first font whose ranges claim the character; then any font that has it.
    for (int pass = 0; pass < 2 && !glyph; ++pass) {
      for (const auto& face : faces_) {
        if (pass == 0 && !face->covers(c)) continue;
        const stbtt_fontinfo& f = face->font(bold);
        if (const int g = stbtt_FindGlyphIndex(&f, int(c))) {
          font = &f;
          glyph = g;
          break;
        }
      }
    }
    if (!glyph) {  // nobody has it: the first font's replacement character, or its empty box
      font = &faces_.front()->font(bold);
      glyph = stbtt_FindGlyphIndex(font, 0xFFFD);
    }
    const float scale = stbtt_ScaleForMappingEmToPixels(font, px);
    if (prevFont == font && prevGlyph) x += scale * float(stbtt_GetGlyphKernAdvance(font, prevGlyph, glyph));
    out.push_back({font, glyph, scale, x});
    int advance = 0, lsb = 0;
    stbtt_GetGlyphHMetrics(font, glyph, &advance, &lsb);
    x += scale * float(advance);
    prevFont = font;
    prevGlyph = glyph;
  }
  // A sentinel carries the total advance.
  out.push_back({nullptr, 0, 0, x});
  return out;
}

float FontSet::advance(std::string_view utf8, float px, bool bold) const { return place(utf8, px, bold).back().x; }

float FontSet::ascent(float px) const {
  int asc = 0, desc = 0, gap = 0;
  stbtt_GetFontVMetrics(&faces_.front()->info, &asc, &desc, &gap);
  return float(asc) * stbtt_ScaleForMappingEmToPixels(&faces_.front()->info, px);
}

float FontSet::descent(float px) const {
  int asc = 0, desc = 0, gap = 0;
  stbtt_GetFontVMetrics(&faces_.front()->info, &asc, &desc, &gap);
  return -float(desc) * stbtt_ScaleForMappingEmToPixels(&faces_.front()->info, px);
}

TextBitmap FontSet::rasterize(std::string_view utf8, float px, bool bold) const {
  const std::vector<Placed> glyphs = place(utf8, px, bold);
  // Union of the glyph boxes, relative to (pen start, baseline).
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool any = false;
  std::vector<std::array<int, 4>> boxes(glyphs.size());
  for (std::size_t i = 0; i + 1 < glyphs.size(); ++i) {
    const Placed& g = glyphs[i];
    const float fx = g.x - std::floor(g.x);
    auto& b = boxes[i];
    stbtt_GetGlyphBitmapBoxSubpixel(g.font, g.glyph, g.scale, g.scale, fx, 0, &b[0], &b[1], &b[2], &b[3]);
    if (b[2] <= b[0] || b[3] <= b[1]) continue;
    const int gx = int(std::floor(g.x));
    x0 = any ? std::min(x0, gx + b[0]) : gx + b[0];
    x1 = any ? std::max(x1, gx + b[2]) : gx + b[2];
    y0 = any ? std::min(y0, b[1]) : b[1];
    y1 = any ? std::max(y1, b[3]) : b[3];
    any = true;
  }
  TextBitmap out;
  if (!any) return out;
  out.width = x1 - x0;
  out.height = y1 - y0;
  out.originX = -x0;
  out.baselineY = -y0;
  out.coverage.assign(std::size_t(out.width) * out.height, 0);
  std::vector<unsigned char> tmp;
  for (std::size_t i = 0; i + 1 < glyphs.size(); ++i) {
    const Placed& g = glyphs[i];
    const auto& b = boxes[i];
    const int w = b[2] - b[0], h = b[3] - b[1];
    if (w <= 0 || h <= 0) continue;
    tmp.assign(std::size_t(w) * h, 0);
    const float fx = g.x - std::floor(g.x);
    stbtt_MakeGlyphBitmapSubpixel(g.font, tmp.data(), w, h, w, g.scale, g.scale, fx, 0, g.glyph);
    const int ox = int(std::floor(g.x)) + b[0] - x0, oy = b[1] - y0;
    // Overlapping neighbours (kerned pairs) add up, so a shared edge is not left half-covered.
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        std::uint8_t& dst = out.coverage[std::size_t(oy + y) * out.width + (ox + x)];
        dst = std::uint8_t(std::min(255, int(dst) + tmp[std::size_t(y) * w + x]));
      }
  }
  return out;
}

std::string FontSet::ellipsize(std::string_view utf8, float px, float maxWidth) const {
  if (advance(utf8, px) <= maxWidth) return std::string(utf8);
  std::u32string text = decodeUtf8Lenient(utf8);
  const std::u32string ellipsis = U"\u2026";
  while (!text.empty()) {
    text.pop_back();
    const std::string candidate = encodeUtf8(text + ellipsis);
    if (advance(candidate, px) <= maxWidth) return candidate;
  }
  return encodeUtf8(ellipsis);
}

std::string FontSet::svgFamily() const {
  std::string out;
  for (const auto& face : faces_) out += face->family + ", ";
  return out + "sans-serif";
}

}  // namespace attnviz
