#include "fonts.hpp"

#include <imgui.h>

#include <filesystem>
#include <set>

#include "matrix_io.hpp"
#include "session.hpp"
#include "tokens.hpp"

namespace attnviz::gui {

namespace {

Fonts gFonts;
std::set<ImWchar> gCjk;  // CJK code points the atlas must hold
bool gSamplesScanned = false;
ImVector<ImWchar> gCjkRanges;

constexpr const char* kSans[] = {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"};
constexpr const char* kMono[] = {"/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"};
constexpr const char* kCjk[] = {"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
                                "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"};

// Latin with extensions, Greek, Cyrillic, phonetic superscripts (ᵀ), punctuation, super- and
// subscripts, arrows, mathematical operators (√ Σ ∞ ·), technical symbols and shapes (▶ ■).
const ImWchar kSansRanges[] = {0x0020, 0x024F, 0x0370, 0x03FF, 0x0400, 0x04FF, 0x1D00, 0x1DBF,
                               0x2000, 0x206F, 0x2070, 0x209F, 0x2190, 0x21FF, 0x2200, 0x22FF,
                               0x2300, 0x23FF, 0x2500, 0x25FF, 0};

bool isCjk(char32_t c) {
  return (c >= 0x2E80 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0xFF00 && c <= 0xFFEF) || (c >= 0x1100 && c <= 0x11FF);
}

template <std::size_t N>
const char* firstExisting(const char* const (&paths)[N]) {
  std::error_code ec;
  for (const char* p : paths)
    if (std::filesystem::exists(p, ec)) return p;
  return nullptr;
}

void scanSamples() {
  if (gSamplesScanned) return;
  gSamplesScanned = true;
  try {
    for (const SampleInfo& s : listSamples()) requestGlyphs(readFile(s.path));
  } catch (const std::exception&) {
    // Without samples there are no sample glyphs to add; typed text still asks for its own.
  }
}

}  // namespace

const Fonts& fonts() { return gFonts; }

bool requestGlyphs(const std::string& text) {
  bool added = false;
  try {
    for (char32_t c : decodeUtf8(text))
      if (c <= 0xFFFF && isCjk(c)) added |= gCjk.insert(ImWchar(c)).second;
  } catch (const std::exception&) {
  }
  return added;
}

void buildFonts(float scale) {
  scanSamples();
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  const float size = 16.0f * scale;
  ImFontConfig cfg;
  cfg.OversampleH = 2;
  const char* sans = firstExisting(kSans);
  gFonts.ui = sans ? io.Fonts->AddFontFromFileTTF(sans, size, &cfg, kSansRanges) : nullptr;
  if (!gFonts.ui) gFonts.ui = io.Fonts->AddFontDefault();

  // Common CJK punctuation plus the characters actually used.
  ImFontGlyphRangesBuilder builder;
  for (ImWchar c = 0x3000; c <= 0x303F; ++c) builder.AddChar(c);
  for (ImWchar c = 0xFF01; c <= 0xFF5E; ++c) builder.AddChar(c);
  for (ImWchar c : gCjk) builder.AddChar(c);
  gCjkRanges.clear();
  builder.BuildRanges(&gCjkRanges);
  auto mergeCjk = [&](float px) {
    if (const char* cjk = firstExisting(kCjk)) {
      ImFontConfig merge;
      merge.MergeMode = true;
      merge.OversampleH = 1;
      io.Fonts->AddFontFromFileTTF(cjk, px, &merge, gCjkRanges.Data);
    }
  };
  mergeCjk(size);
  const char* mono = firstExisting(kMono);
  gFonts.mono = mono ? io.Fonts->AddFontFromFileTTF(mono, 15.0f * scale, &cfg, kSansRanges) : gFonts.ui;
  if (mono) mergeCjk(15.0f * scale);
  gFonts.title = sans ? io.Fonts->AddFontFromFileTTF(sans, 21.0f * scale, &cfg, kSansRanges) : gFonts.ui;
  if (sans) mergeCjk(21.0f * scale);
  io.Fonts->Build();
}

}  // namespace attnviz::gui
