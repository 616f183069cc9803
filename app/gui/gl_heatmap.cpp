#include "gl_heatmap.hpp"

#include <glad/gl.h>
#include <imgui.h>
#include <stb_image_write.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "colormap_lut.hpp"
#include "gui_shaders.hpp"

namespace attnviz::gui {

namespace {

struct CachedTexture {
  GLuint id = 0;
  int w = 0, h = 0;
  std::uint64_t revision = ~0ull;
  long lastUsedFrame = 0;
};

struct Renderer {
  GLuint program = 0, vao = 0;
  GLuint luts[kColormapCount] = {};
  GLint uProjection = -1, uRect = -1, uCells = -1, uValues = -1, uLut = -1, uRange = -1, uSize = -1,
        uPinned = -1;
  std::unordered_map<std::string, CachedTexture> textures;
  std::deque<HeatmapDraw> draws;  // stable addresses until the frame is rendered
  std::vector<std::function<void()>> atShutdown;
  long frame = 0;
  GLint maxTextureSize = 0;
};
Renderer* gR = nullptr;

GLuint compile(GLenum type, std::string_view source, std::string* error) {
  GLuint s = glCreateShader(type);
  const char* text = source.data();
  const GLint length = GLint(source.size());
  glShaderSource(s, 1, &text, &length);
  glCompileShader(s);
  GLint ok = 0;
  glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char log[2048];
    glGetShaderInfoLog(s, sizeof log, nullptr, log);
    *error = std::string("heatmap shader: ") + log;
    glDeleteShader(s);
    return 0;
  }
  return s;
}

void drawCallback(const ImDrawList*, const ImDrawCmd* cmd) {
  const HeatmapDraw& d = *static_cast<const HeatmapDraw*>(cmd->UserCallbackData);
  const ImDrawData* dd = ImGui::GetDrawData();
  const float L = dd->DisplayPos.x, R = L + dd->DisplaySize.x;
  const float T = dd->DisplayPos.y, B = T + dd->DisplaySize.y;
  const float ortho[16] = {2 / (R - L), 0, 0, 0, 0, 2 / (T - B), 0, 0, 0, 0, -1, 0,
                           (R + L) / (L - R), (T + B) / (B - T), 0, 1};
  // ImGui sets its scissor per command after callbacks, so clip to this command's rectangle here.
  const ImVec2 s = dd->FramebufferScale;
  const float fbH = dd->DisplaySize.y * s.y;
  const ImVec4 c = cmd->ClipRect;
  glEnable(GL_SCISSOR_TEST);
  glScissor(GLint((c.x - L) * s.x), GLint(fbH - (c.w - T) * s.y), GLsizei((c.z - c.x) * s.x),
            GLsizei((c.w - c.y) * s.y));
  glDisable(GL_BLEND);
  glUseProgram(gR->program);
  glUniformMatrix4fv(gR->uProjection, 1, GL_FALSE, ortho);
  glUniform4f(gR->uRect, d.x0, d.y0, d.x1, d.y1);
  glUniform4f(gR->uCells, d.col0, d.row0, d.col1, d.row1);
  glUniform2f(gR->uRange, d.vmin, d.vmax);
  glUniform2i(gR->uSize, d.cols, d.rows);
  glUniform2i(gR->uPinned, d.pinCol, d.pinRow);
  glUniform1i(gR->uValues, 0);
  glUniform1i(gR->uLut, 1);
  glActiveTexture(GL_TEXTURE1);
  glBindTexture(GL_TEXTURE_2D, gR->luts[int(d.colormap)]);
  glActiveTexture(GL_TEXTURE0);
  glBindTexture(GL_TEXTURE_2D, d.texture);
  glBindVertexArray(gR->vao);
  glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
  glEnable(GL_BLEND);
}

}  // namespace

bool initHeatmapRenderer(std::string* error) {
  auto r = std::make_unique<Renderer>();
  GLuint vs = compile(GL_VERTEX_SHADER, embedded_gui_shaders::find("heatmap.vert"), error);
  GLuint fs = vs ? compile(GL_FRAGMENT_SHADER, embedded_gui_shaders::find("heatmap.frag"), error) : 0;
  if (!vs || !fs) return false;
  r->program = glCreateProgram();
  glAttachShader(r->program, vs);
  glAttachShader(r->program, fs);
  glLinkProgram(r->program);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(r->program, GL_LINK_STATUS, &ok);
  if (!ok) {
    char log[2048];
    glGetProgramInfoLog(r->program, sizeof log, nullptr, log);
    *error = std::string("heatmap shader link: ") + log;
    return false;
  }
  const GLuint p = r->program;
  r->uProjection = glGetUniformLocation(p, "uProjection");
  r->uRect = glGetUniformLocation(p, "uRect");
  r->uCells = glGetUniformLocation(p, "uCells");
  r->uValues = glGetUniformLocation(p, "uValues");
  r->uLut = glGetUniformLocation(p, "uLut");
  r->uRange = glGetUniformLocation(p, "uRange");
  r->uSize = glGetUniformLocation(p, "uSize");
  r->uPinned = glGetUniformLocation(p, "uPinned");
  glGenVertexArrays(1, &r->vao);
  glGetIntegerv(GL_MAX_TEXTURE_SIZE, &r->maxTextureSize);
  glGenTextures(kColormapCount, r->luts);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  for (int i = 0; i < kColormapCount; ++i) {
    glBindTexture(GL_TEXTURE_2D, r->luts[i]);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGB8, 256, 1, 0, GL_RGB, GL_UNSIGNED_BYTE,
                 colormapLut(ColormapId(i)).data());
  }
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  gR = r.release();
  return true;
}

void atRendererShutdown(std::function<void()> release) {
  if (gR) gR->atShutdown.push_back(std::move(release));
}

void shutdownHeatmapRenderer() {
  if (!gR) return;
  for (auto& release : gR->atShutdown) release();
  for (auto& [key, t] : gR->textures) glDeleteTextures(1, &t.id);
  glDeleteTextures(kColormapCount, gR->luts);
  glDeleteVertexArrays(1, &gR->vao);
  glDeleteProgram(gR->program);
  delete gR;
  gR = nullptr;
}

void beginHeatmapFrame() {
  gR->draws.clear();
  ++gR->frame;
}

unsigned matrixTexture(const std::string& key, std::uint64_t revision,
                       const std::function<const Matrix&()>& source) {
  CachedTexture& t = gR->textures[key];
  t.lastUsedFrame = gR->frame;
  if (t.id && t.revision == revision) return t.id;
  const Matrix& m = source();
  // Textures larger than the GL limit show their top-left part; kMaxSequenceLength (16384) equals
  // llvmpipe's and most drivers' limit, so this only bites on unusual hardware.
  const int w = std::min<int>(int(m.cols()), gR->maxTextureSize);
  const int h = std::min<int>(int(m.rows()), gR->maxTextureSize);
  if (!t.id) glGenTextures(1, &t.id);
  glBindTexture(GL_TEXTURE_2D, t.id);
  glPixelStorei(GL_UNPACK_ROW_LENGTH, int(m.cols()));
  if (t.w != w || t.h != h) {
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_R32F, std::max(w, 1), std::max(h, 1), 0, GL_RED, GL_FLOAT,
                 m.size() ? m.data() : nullptr);
    t.w = w;
    t.h = h;
  } else if (m.size()) {
    glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, w, h, GL_RED, GL_FLOAT, m.data());
  }
  glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
  t.revision = revision;
  return t.id;
}

unsigned pictureTexture(const std::string& key, std::uint64_t revision, int width, int height,
                        const std::function<const std::uint8_t*()>& pixels) {
  CachedTexture& t = gR->textures[key];
  t.lastUsedFrame = gR->frame;
  if (t.id && t.revision == revision) return t.id;
  const int w = std::clamp(width, 1, gR->maxTextureSize), h = std::clamp(height, 1, gR->maxTextureSize);
  if (!t.id) glGenTextures(1, &t.id);
  glBindTexture(GL_TEXTURE_2D, t.id);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glPixelStorei(GL_UNPACK_ROW_LENGTH, width);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGB8, w, h, 0, GL_RGB, GL_UNSIGNED_BYTE, pixels());
  glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  t.w = w;
  t.h = h;
  t.revision = revision;
  return t.id;
}

void collectUnusedTextures() {
  for (auto it = gR->textures.begin(); it != gR->textures.end();) {
    if (gR->frame - it->second.lastUsedFrame > 600) {
      glDeleteTextures(1, &it->second.id);
      it = gR->textures.erase(it);
    } else {
      ++it;
    }
  }
}

void addHeatmap(ImDrawList* list, const HeatmapDraw& draw) {
  gR->draws.push_back(draw);
  list->AddCallback(drawCallback, &gR->draws.back());
  list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
}

std::string glRenderer() {
  const auto* text = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  return text ? text : "";
}

bool saveScreenshot(const std::string& path, int x, int y, int width, int height, int windowHeight,
                    std::string* error) {
  std::vector<unsigned char> pixels(std::size_t(width) * std::size_t(height) * 3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(x, windowHeight - y - height, width, height, GL_RGB, GL_UNSIGNED_BYTE, pixels.data());
  std::vector<unsigned char> flipped(pixels.size());
  const std::size_t row = std::size_t(width) * 3;
  for (int y = 0; y < height; ++y)
    std::copy_n(&pixels[std::size_t(height - 1 - y) * row], row, &flipped[std::size_t(y) * row]);
  stbi_write_png_compression_level = 9;
  if (!stbi_write_png(path.c_str(), width, height, 3, flipped.data(), int(row))) {
    *error = path + ": cannot write PNG";
    return false;
  }
  return true;
}

}  // namespace attnviz::gui
