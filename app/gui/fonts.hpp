#pragma once
// The UI fonts: DejaVu Sans (Latin, Greek, the math symbols of the formulas) merged with Droid
// Sans Fallback for CJK, plus DejaVu Sans Mono for numbers. Only the CJK characters that occur
// in the samples and the current texts are baked, which keeps the atlas small on llvmpipe.
#include <string>

struct ImFont;

namespace attnviz::gui {

struct Fonts {
  ImFont* ui = nullptr;
  ImFont* mono = nullptr;
  ImFont* title = nullptr;
};
const Fonts& fonts();

// (Re)builds the atlas at `scale`; call before the renderer creates the font texture.
void buildFonts(float scale);
// Records the CJK characters of `text`; true when some were new and the atlas needs a rebuild.
bool requestGlyphs(const std::string& text);

}  // namespace attnviz::gui
