#include "gl_context.hpp"

#include <glad/egl.h>
#include <glad/gl.h>

#include <vector>

#include "types.hpp"

namespace attnviz::gpu {
namespace {

std::string eglErrorName(EGLint code) {
  switch (code) {
    case EGL_SUCCESS: return "EGL_SUCCESS";
    case EGL_NOT_INITIALIZED: return "EGL_NOT_INITIALIZED";
    case EGL_BAD_ACCESS: return "EGL_BAD_ACCESS";
    case EGL_BAD_ALLOC: return "EGL_BAD_ALLOC";
    case EGL_BAD_ATTRIBUTE: return "EGL_BAD_ATTRIBUTE";
    case EGL_BAD_CONFIG: return "EGL_BAD_CONFIG";
    case EGL_BAD_CONTEXT: return "EGL_BAD_CONTEXT";
    case EGL_BAD_DISPLAY: return "EGL_BAD_DISPLAY";
    case EGL_BAD_MATCH: return "EGL_BAD_MATCH";
    case EGL_BAD_PARAMETER: return "EGL_BAD_PARAMETER";
    default: return "EGL error " + std::to_string(code);
  }
}

struct Attempt {
  EGLDisplay display = EGL_NO_DISPLAY;
  EGLContext context = EGL_NO_CONTEXT;
};

// Initialises `display` and makes a surfaceless GL 4.3 core context current on it, or says
// in `why` what failed.
Attempt tryDisplay(EGLDisplay display, std::string& why) {
  Attempt attempt;
  if (display == EGL_NO_DISPLAY) {
    why = "no display (" + eglErrorName(eglGetError()) + ")";
    return attempt;
  }
  EGLint major = 0, minor = 0;
  if (!eglInitialize(display, &major, &minor)) {
    why = "eglInitialize failed (" + eglErrorName(eglGetError()) + ")";
    return attempt;
  }
  // Display-level extensions (surfaceless contexts, create_context) are only known now.
  if (!gladLoaderLoadEGL(display)) {
    why = "cannot load EGL entry points for the display";
    return attempt;
  }
  if (!eglBindAPI(EGL_OPENGL_API)) {
    why = "the display has no desktop OpenGL (" + eglErrorName(eglGetError()) + ")";
    return attempt;
  }
  const EGLint configAttributes[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_SURFACE_TYPE, 0,
                                     EGL_NONE};
  EGLConfig config = nullptr;
  EGLint configCount = 0;
  // Not every driver lists configs with no surface type; any GL config will do without a surface.
  if (!eglChooseConfig(display, configAttributes, &config, 1, &configCount) || configCount == 0) {
    const EGLint anyGl[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_NONE};
    if (!eglChooseConfig(display, anyGl, &config, 1, &configCount) || configCount == 0) {
      why = "no OpenGL config";
        return attempt;
    }
  }
  const EGLint contextAttributes[] = {EGL_CONTEXT_MAJOR_VERSION, 4, EGL_CONTEXT_MINOR_VERSION, 3,
                                      EGL_CONTEXT_OPENGL_PROFILE_MASK,
                                      EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT, EGL_NONE};
  EGLContext context = eglCreateContext(display, config, EGL_NO_CONTEXT, contextAttributes);
  if (context == EGL_NO_CONTEXT) {
    why = "no OpenGL 4.3 core context (" + eglErrorName(eglGetError()) + ")";
    return attempt;
  }
  if (!eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, context)) {
    why = "cannot make a context current without a surface (" + eglErrorName(eglGetError()) + ")";
    eglDestroyContext(display, context);
    return attempt;
  }
  attempt.display = display;
  attempt.context = context;
  return attempt;
}

}  // namespace

std::unique_ptr<HeadlessGlContext> HeadlessGlContext::create() {
  // EGL_NO_DISPLAY loads libEGL and the client extensions (platforms, device enumeration).
  if (!gladLoaderLoadEGL(EGL_NO_DISPLAY))
    throw Error("no EGL: cannot load libEGL.so.1 (install libegl1 and a GL driver such as Mesa)");
  std::vector<std::string> failures;
  std::unique_ptr<HeadlessGlContext> result(new HeadlessGlContext);
  const auto succeed = [&](const Attempt& a, const std::string& platform) {
    result->display_ = a.display;
    result->context_ = a.context;
    result->platform_ = platform;
  };

  if (GLAD_EGL_EXT_platform_device && GLAD_EGL_EXT_device_enumeration) {
    EGLint deviceCount = 0;
    eglQueryDevicesEXT(0, nullptr, &deviceCount);
    std::vector<EGLDeviceEXT> devices(std::max(deviceCount, 0));
    if (deviceCount > 0) eglQueryDevicesEXT(deviceCount, devices.data(), &deviceCount);
    for (EGLint i = 0; i < deviceCount && !result->context_; ++i) {
      std::string why;
      const Attempt a = tryDisplay(
          eglGetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT, devices[i], nullptr), why);
      if (a.context)
        succeed(a, "device");
      else
        failures.push_back("device " + std::to_string(i) + ": " + why);
    }
    if (deviceCount <= 0) failures.push_back("device platform: no devices");
  } else {
    failures.push_back("no EGL_EXT_platform_device");
  }

  if (!result->context_) {
    gladLoaderLoadEGL(EGL_NO_DISPLAY);  // back to client extensions after a failed device
    if (GLAD_EGL_MESA_platform_surfaceless && GLAD_EGL_EXT_platform_base) {
      std::string why;
      const Attempt a = tryDisplay(
          eglGetPlatformDisplayEXT(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, nullptr), why);
      if (a.context)
        succeed(a, "surfaceless");
      else
        failures.push_back("surfaceless: " + why);
    } else {
      failures.push_back("no EGL_MESA_platform_surfaceless");
    }
  }

  if (!result->context_) {
    std::string joined;
    for (const auto& f : failures) joined += (joined.empty() ? "" : "; ") + f;
    throw Error("no headless OpenGL 4.3 context (" + joined + ")");
  }
  loadGlForCurrentContext(reinterpret_cast<GlProcAddressLoader>(eglGetProcAddress));
  return result;
}

// The display is never terminated: EGL hands every context on a platform the same display, so
// terminating it would pull the context from under another backend still alive.
HeadlessGlContext::~HeadlessGlContext() {
  if (!display_ || !context_) return;
  if (eglGetCurrentContext() == context_)
    eglMakeCurrent(display_, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
  eglDestroyContext(display_, context_);
}

void HeadlessGlContext::makeCurrent() const {
  if (eglGetCurrentContext() == context_) return;
  if (!eglMakeCurrent(display_, EGL_NO_SURFACE, EGL_NO_SURFACE, context_))
    throw Error("cannot make the GPU context current on this thread (" +
                eglErrorName(eglGetError()) + ")");
}

void loadGlForCurrentContext(GlProcAddressLoader loader) {
  if (loader) {
    if (!gladLoadGL(reinterpret_cast<GLADloadfunc>(loader)))
      throw Error("cannot load OpenGL entry points for the current context");
  } else if (!glad_glGetString) {
    throw Error("no OpenGL entry points: load glad for the current context, or pass a loader");
  }
  GLint major = 0, minor = 0;
  glGetIntegerv(GL_MAJOR_VERSION, &major);
  glGetIntegerv(GL_MINOR_VERSION, &minor);
  if (major * 100 + minor < 403 || !glad_glDispatchCompute) {
    const char* version = reinterpret_cast<const char*>(glGetString(GL_VERSION));
    throw Error(std::string("OpenGL 4.3 is needed for compute shaders, this context has ") +
                (version ? version : "no version"));
  }
}

std::string currentRenderer() {
  const char* renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  return renderer ? renderer : "unknown renderer";
}

}  // namespace attnviz::gpu
