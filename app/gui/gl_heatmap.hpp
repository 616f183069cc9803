#pragma once
// All of the app's own GL calls: matrix textures, the colour-map LUT textures, the heatmap
// shader (drawn from inside ImGui's draw list through a callback) and screenshots.
#include <cstdint>
#include <functional>
#include <string>

#include "app_state.hpp"

struct ImDrawList;

namespace attnviz::gui {

bool initHeatmapRenderer(std::string* error);
// Also runs the callbacks given to atRendererShutdown, while the window's context still exists.
void shutdownHeatmapRenderer();
// For other owners of GL objects on the window's context (the GPU backend).
void atRendererShutdown(std::function<void()> release);
// Called at the start of each frame: forgets last frame's draw records.
void beginHeatmapFrame();

// A float texture for `key`, re-uploaded only when `revision` moved (or the key is new).
// `source` is asked for the matrix only then. Returns the GL texture name.
unsigned matrixTexture(const std::string& key, std::uint64_t revision,
                       const std::function<const Matrix&()>& source);
// An 8-bit RGB picture (width × height × 3 bytes) as a texture, nearest-filtered so that a
// model's small input stays sharp when enlarged; re-uploaded only when `revision` moved.
unsigned pictureTexture(const std::string& key, std::uint64_t revision, int width, int height,
                        const std::function<const std::uint8_t*()>& pixels);
// Drops textures not used for a while (e.g. the heads of a previous sample).
void collectUnusedTextures();

struct HeatmapDraw {
  unsigned texture = 0;
  int rows = 0, cols = 0;
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;           // on-screen rectangle (ImGui coordinates)
  float col0 = 0, row0 = 0, col1 = 0, row1 = 0;   // matrix coordinates at its corners
  float vmin = 0, vmax = 1;
  ColormapId colormap = ColormapId::Viridis;
  int pinRow = -1, pinCol = -1;
};
// Queues the heatmap into `list` at the current position in its draw order.
void addHeatmap(ImDrawList* list, const HeatmapDraw& draw);

// GL_RENDERER of the window's context, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
std::string glRenderer();

// Reads the back buffer (bottom-up in GL, so rows are flipped) and writes a PNG.
// (x, y) is the top-left corner in window pixels; the region is clamped to the window.
bool saveScreenshot(const std::string& path, int x, int y, int width, int height, int windowHeight,
                    std::string* error);

}  // namespace attnviz::gui
