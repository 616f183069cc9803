#pragma once
// The app's view of the shared colour maps (engine/figure/colormap.hpp): the heatmap shader's
// LUT texture, the colour bar and the exporters read the same 256-entry tables.
#include <string>

#include "app_state.hpp"
#include "figure/colormap.hpp"

namespace attnviz::gui {

Colormap toFigureColormap(ColormapId id);
const ColormapLut& colormapLut(ColormapId id);
const char* colormapName(ColormapId id);
ColormapId parseColormapId(const std::string& name);  // throws Error listing the names
// The LUT entry the shader picks for `value` in [vmin, vmax].
Rgb8 colormapColor(ColormapId id, float value, float vmin, float vmax);
// Black or white text, whichever reads on `background` (an ImU32).
unsigned int textColourOn(Rgb8 background);

}  // namespace attnviz::gui
