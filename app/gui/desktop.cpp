// The desktop app's entry point and main loop (the shape of Dear ImGui's example_glfw_opengl3).
#include <glad/gl.h>
// glad first: GLFW must not pull in the system GL header.
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>

#include "actions.hpp"
#include "model_actions.hpp"
#include "model_download.hpp"
#include "desktop.hpp"
#include "document.hpp"
#include "fonts.hpp"
#include "gl_debug.hpp"
#include "gl_heatmap.hpp"
#include "recovery.hpp"
#include "replace.hpp"
#include "script.hpp"
#include "views.hpp"

namespace attnviz {

namespace gui {
namespace {

struct Options {
  std::string sample, sessionFile, script, screenshot, frameStats, dumpState;
  std::string model, text, image;  // --model NAME|PATH [--text TEXT | --image FILE]: open in model mode
  int frames = -1;
  int width = 1600, height = 1000;
  bool recovery = true;       // --no-recovery: no recovery file and no questions
  bool forceRecovery = false;  // --recovery: keep them in automated runs too (the recovery test)
  bool ignorePointer = false;
};

const char* kUsage =
    "usage: attnviz [FILE.json | FILE.npz | FILE.safetensors | --sample NAME | --model NAME|PATH [--text TEXT | --image FILE]]\n"
    "               [--script FILE]\n"
    "               [--screenshot FILE] [--frames N]\n"
    "               [--frame-stats FILE] [--dump-state FILE] [--no-recovery] [--recovery]\n               [--ignore-pointer] [--window-size WxH]\n"
    "Opens the desktop visualizer. --script runs one action per line (see app/gui/script.hpp);\n"
    "--screenshot writes the last frame as PNG; --frames quits after N frames; --ignore-pointer\n"
    "keeps a pointer resting over the window from hovering cells (reproducible screenshots).\n"
    "Unsaved edits go to $XDG_STATE_HOME/attnviz/recovery-<pid>.json (one per window) every\n"
    "ATTNVIZ_RECOVERY_SECONDS (2) and are offered back after a crash; quitting or replacing the\n"
    "document with unsaved edits asks first. Automated runs do neither unless --recovery.\n"
    "ATTNVIZ_GL_DEBUG=1 counts GL errors through KHR_debug (on by default in debug builds).\n";

bool parseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      out = argv[++i];
    };
    if (a == "--sample") value(o.sample);
    else if (a == "--model") value(o.model);
    else if (a == "--text") value(o.text);
    else if (a == "--image") value(o.image);
    else if (a == "--script") value(o.script);
    else if (a == "--screenshot") value(o.screenshot);
    else if (a == "--frame-stats") value(o.frameStats);
    else if (a == "--dump-state") value(o.dumpState);
    else if (a == "--no-recovery") o.recovery = false;
    else if (a == "--recovery") o.forceRecovery = true;
    else if (a == "--ignore-pointer") o.ignorePointer = true;
    else if (a == "--window-size") {
      std::string v;
      value(v);
      if (std::sscanf(v.c_str(), "%dx%d", &o.width, &o.height) != 2 || o.width < 320 || o.height < 240)
        throw Error("--window-size WIDTHxHEIGHT, at least 320x240");
    }
    else if (a == "--frames") { std::string n; value(n); o.frames = std::stoi(n); }
    else if (a == "--help" || a == "-h") { std::cout << kUsage; return false; }
    else if (!a.empty() && a[0] != '-') o.sessionFile = a;
    else throw Error("unknown option " + a);
  }
  return true;
}

AppState* gApp = nullptr;

// A dropped session, matrix, model or attention bundle: openFile tells them apart by content.
void onDrop(GLFWwindow*, int count, const char** paths) {
  for (int i = 0; i < count; ++i) openFile(*gApp, paths[i]);
}

void applyStyle(float scale) {
  ImGui::StyleColorsDark();
  ImGuiStyle& s = ImGui::GetStyle();
  s.WindowRounding = 0;
  s.FrameRounding = 4;
  s.GrabRounding = 4;
  s.WindowBorderSize = 1;
  s.FramePadding = ImVec2(7, 4);
  s.ItemSpacing = ImVec2(8, 6);
  s.Colors[ImGuiCol_WindowBg] = ImVec4(0.105f, 0.11f, 0.125f, 1);
  s.Colors[ImGuiCol_TitleBg] = s.Colors[ImGuiCol_TitleBgActive] = ImVec4(0.15f, 0.17f, 0.21f, 1);
  s.ScaleAllSizes(scale);
}

void writeFrameStats(const Automation& a) {
  std::ofstream out(a.frameStatsPath);
  out << "frame,ms\n";
  for (std::size_t i = 0; i < a.frameMs.size(); ++i) out << i << "," << a.frameMs[i] << "\n";
}

// Work that keeps the loop polling instead of waiting for input events.
bool busy(const AppState& app) {
  const Automation& a = app.automation;
  return app.view.playing || isComputing(app.doc) || isDownloading(app) || a.nextLine < a.script.size() || a.maxFrames >= 0 ||
         !a.pendingScreenshot.empty() || app.frameIndex < 3;
}

}  // namespace
}  // namespace gui

int runDesktopApp(int argc, char** argv) {
  using namespace gui;
  Options opt;
  AppState app;
  gApp = &app;
  try {
    if (!parseArgs(argc, argv, opt)) return 0;
    if (!opt.script.empty()) app.automation.script = readScript(opt.script);
  } catch (const std::exception& e) {
    std::cerr << "attnviz: " << printable(e.what()) << "\n" << kUsage;
    return 2;
  }
  Automation& a = app.automation;
  a.maxFrames = opt.frames;
  a.screenshotAtExit = opt.screenshot;
  a.frameStatsPath = opt.frameStats;
  a.dumpStatePath = opt.dumpState;
  const bool automated = !opt.script.empty() || opt.frames >= 0 || !opt.screenshot.empty();
  if (!opt.screenshot.empty() && opt.frames < 0 && opt.script.empty()) a.maxFrames = 5;

  glfwSetErrorCallback([](int code, const char* text) { std::cerr << "GLFW error " << code << ": " << printable(text) << "\n"; });
  if (!glfwInit()) {
    std::cerr << "attnviz: cannot open a window (no display?). The command-line tools still work: attnviz --help\n";
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 4);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
  const bool glDebug = glDebugWanted();
  glfwWindowHint(GLFW_OPENGL_DEBUG_CONTEXT, glDebug ? GLFW_TRUE : GLFW_FALSE);
  GLFWwindow* window = glfwCreateWindow(opt.width, opt.height, "attnviz", nullptr, nullptr);
  if (!window) {
    std::cerr << "attnviz: cannot create an OpenGL 4.3 core window\n";
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(automated ? 0 : 1);
  if (!gladLoadGL(glfwGetProcAddress)) {
    std::cerr << "attnviz: cannot load OpenGL functions\n";
    return 1;
  }
  const bool countGlErrors = glDebug && installGlDebug();
  float xscale = 1, yscale = 1;
  glfwGetWindowContentScale(window, &xscale, &yscale);
  app.uiScale = std::max(1.0f, xscale);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // the layout is computed, nothing to remember
  applyStyle(app.uiScale);
  buildFonts(app.uiScale);
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 430");
  std::string error;
  if (!initHeatmapRenderer(&error)) {
    std::cerr << "attnviz: " << printable(error) << "\n";
    return 1;
  }
  glfwSetDropCallback(window, onDrop);

  // The first document: an attention bundle, a session file, a named sample or the default sample.
  // A bundle that cannot be read leaves no document to show: the message, and exit as --model does.
  if (!opt.sessionFile.empty() && looksLikeBundle(opt.sessionFile)) {
    if (!openBundle(app, opt.sessionFile)) {
      std::cerr << "attnviz: " << app.message << "\n";
      return 2;
    }
  } else if (!opt.sessionFile.empty()) openFile(app, opt.sessionFile);
  else if (!loadSample(app, opt.sample.empty() ? kDefaultSample : opt.sample)) {
    std::cerr << "attnviz: " << app.message << "\n";
    if (!opt.sample.empty()) return 2;
  }
  if (!opt.model.empty()) {
    if (!setModel(app, opt.model)) {
      std::cerr << "attnviz: " << app.message << "\n";
      return 2;
    }
    if (!opt.text.empty() && !opt.image.empty()) {
      std::cerr << "attnviz: --text and --image: give one (a text model reads text, a vision model a picture)\n";
      return 2;
    }
    if (!opt.text.empty()) setTokensText(app, opt.text);
    if (!opt.image.empty() && !openImage(app, opt.image)) {
      std::cerr << "attnviz: " << app.message << "\n";
      return 2;
    }
  } else if (!opt.text.empty() || !opt.image.empty()) {
    std::cerr << "attnviz: " << (opt.text.empty() ? "--image" : "--text") << " goes with --model\n";
    return 2;
  }
  if (opt.recovery && (!automated || opt.forceRecovery)) {
    app.recovery.intervalSeconds = recoveryIntervalFromEnv();
    enableRecovery(app, defaultRecoveryDirectory());
  }

  // A script's hover and pin win over a pointer that only rests over the window (xvfb-run
  // leaves it mid-screen, over some other cell): in a scripted run the pointer counts from the
  // moment it moves or presses a button, as a person taking over would.
  bool pointerTookOver = false, pointerSeen = false;
  double pointerX = 0, pointerY = 0;
  auto pointerIgnored = [&]() {
    if (opt.ignorePointer) return true;
    if (opt.script.empty() || pointerTookOver) return false;
    double x = 0, y = 0;
    glfwGetCursorPos(window, &x, &y);
    bool pressed = false;
    for (int b = GLFW_MOUSE_BUTTON_1; b <= GLFW_MOUSE_BUTTON_LAST; ++b)
      pressed = pressed || glfwGetMouseButton(window, b) == GLFW_PRESS;
    pointerTookOver = pressed || (pointerSeen && (x != pointerX || y != pointerY));
    pointerSeen = true;
    pointerX = x;
    pointerY = y;
    return !pointerTookOver;
  };

  std::uint64_t glyphGen = 0;
  auto last = std::chrono::steady_clock::now();
  while (!app.quitRequested) {
    if (glfwWindowShouldClose(window)) {  // the close button asks like Ctrl+Q when edits are unsaved
      glfwSetWindowShouldClose(window, GLFW_FALSE);
      quit(app);
    }
    if (busy(app)) glfwPollEvents();
    else glfwWaitEventsTimeout(0.1);
    const auto frameStart = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(frameStart - last).count();
    last = frameStart;

    runScript(app);
    pollModelDownload(app);
    updateDocument(app.doc);
    if (glyphGen != app.doc.inputsGen) {
      glyphGen = app.doc.inputsGen;
      const TokenConfig& t = app.doc.session.tokens;
      if (requestGlyphs(t.text + t.source)) {  // typed CJK characters join the atlas
        buildFonts(app.uiScale);
        ImGui_ImplOpenGL3_DestroyFontsTexture();
        ImGui_ImplOpenGL3_CreateFontsTexture();
      }
    }
    if (app.view.playing) {
      app.view.playAccumulator += dt * app.view.playStepsPerSecond;
      if (app.view.playAccumulator >= 1) {
        app.view.playAccumulator = 0;
        stepNext(app);
      }
    }

    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    if (pointerIgnored()) ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
    ImGui::NewFrame();
    beginHeatmapFrame();
    handleShortcuts(app);
    drawLayout(app);
    commitHover(app);
    ImGui::Render();

    int fbw = 0, fbh = 0;
    glfwGetFramebufferSize(window, &fbw, &fbh);
    glViewport(0, 0, fbw, fbh);
    glClearColor(0.08f, 0.08f, 0.09f, 1);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());

    ++app.frameIndex;
    const bool lastFrame = a.maxFrames >= 0 && app.frameIndex >= a.maxFrames;
    if (!a.pendingScreenshot.empty() && a.screenshotCountdown-- <= 0) {
      auto [cx, cy, cw, chh] = a.screenshotCrop;
      if (cw <= 0 || chh <= 0) cx = cy = 0, cw = fbw, chh = fbh;
      cx = std::clamp(cx, 0, fbw - 1);
      cy = std::clamp(cy, 0, fbh - 1);
      cw = std::min(cw, fbw - cx);
      chh = std::min(chh, fbh - cy);
      if (saveScreenshot(a.pendingScreenshot, cx, cy, cw, chh, fbh, &error)) {
        writeScreenshotSidecar(app, a.pendingScreenshot + ".json");
        report(app, "Saved " + a.pendingScreenshot);
      } else {
        report(app, error, true);
      }
      a.pendingScreenshot.clear();
    }
    if (lastFrame && !a.screenshotAtExit.empty() && !saveScreenshot(a.screenshotAtExit, 0, 0, fbw, fbh, fbh, &error))
      std::cerr << "attnviz: " << printable(error) << "\n";
    glfwSwapBuffers(window);

    app.lastFrameMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - frameStart).count();
    if (!a.frameStatsPath.empty()) a.frameMs.push_back(app.lastFrameMs);
    if (app.frameIndex % 600 == 0) collectUnusedTextures();
    updateRecovery(app);
    updateReplace(app);
    if (countGlErrors) app.glErrors = glDebugErrorCount();
    if (lastFrame) app.quitRequested = true;
  }

  // Quitting asked about unsaved edits, so a clean exit leaves no recovery file behind.
  finishRecovery(app);
  stopModelDownload(app);  // its partial file stays in the cache, resumed next time
  finishComputation(app.doc);
  if (!a.frameStatsPath.empty()) writeFrameStats(a);
  if (!a.dumpStatePath.empty()) dumpState(app, a.dumpStatePath);
  shutdownHeatmapRenderer();
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return a.failed ? 1 : 0;
}

}  // namespace attnviz
