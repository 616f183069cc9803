#include "colormap_lut.hpp"

#include <imgui.h>

namespace attnviz::gui {

// ColormapId mirrors attnviz::Colormap so sessions of the app and the exporters name the same maps.
static_assert(int(ColormapId::RdBu) == int(Colormap::RdBu) && kColormapCount == 4);

Colormap toFigureColormap(ColormapId id) { return Colormap(int(id)); }
const ColormapLut& colormapLut(ColormapId id) { return attnviz::colormapLut(toFigureColormap(id)); }
const char* colormapName(ColormapId id) { return toString(toFigureColormap(id)); }
ColormapId parseColormapId(const std::string& name) { return ColormapId(int(parseColormap(name))); }

Rgb8 colormapColor(ColormapId id, float value, float vmin, float vmax) {
  return mapValue(toFigureColormap(id), value, vmin, vmax);
}

unsigned int textColourOn(Rgb8 c) {
  const float lum = 0.2126f * c[0] + 0.7152f * c[1] + 0.0722f * c[2];
  return lum > 140 ? IM_COL32(0, 0, 0, 230) : IM_COL32(255, 255, 255, 235);
}

}  // namespace attnviz::gui
