#include "gl_debug.hpp"

#include <glad/gl.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>

namespace attnviz::gui {

namespace {

std::atomic<long> gErrors{0};
std::atomic<bool> gProbing{false};
std::mutex gLogMutex;
std::set<GLuint> gLogged;  // message ids already printed: a per-frame error must not flood stderr

const char* typeName(GLenum type) {
  switch (type) {
    case GL_DEBUG_TYPE_ERROR: return "error";
    case GL_DEBUG_TYPE_UNDEFINED_BEHAVIOR: return "undefined behaviour";
    case GL_DEBUG_TYPE_DEPRECATED_BEHAVIOR: return "deprecated behaviour";
    case GL_DEBUG_TYPE_PORTABILITY: return "portability";
    case GL_DEBUG_TYPE_PERFORMANCE: return "performance";
    default: return "message";
  }
}

void GLAPIENTRY onMessage(GLenum source, GLenum type, GLuint id, GLenum severity, GLsizei length,
                          const GLchar* message, const void*) {
  (void)source;
  if (type == GL_DEBUG_TYPE_ERROR) ++gErrors;
  if (gProbing) return;
  std::lock_guard lock(gLogMutex);
  if (!gLogged.insert(id).second) return;
  std::cerr << "attnviz: GL " << typeName(type)
            << (severity == GL_DEBUG_SEVERITY_HIGH ? " (high)" : "") << " [" << id << "]: "
            << std::string_view(message, length >= 0 ? std::size_t(length) : std::strlen(message)) << "\n";
}

}  // namespace

bool glDebugWanted() {
  if (const char* s = std::getenv("ATTNVIZ_GL_DEBUG"); s && *s) return std::strcmp(s, "0") != 0;
#ifdef NDEBUG
  return false;
#else
  return true;
#endif
}

bool installGlDebug() {
  GLint flags = 0;
  glGetIntegerv(GL_CONTEXT_FLAGS, &flags);
  if (!(flags & GL_CONTEXT_FLAG_DEBUG_BIT) || !glDebugMessageCallback) {
    std::cerr << "attnviz: the GL context has no debug output; GL errors are not counted\n";
    return false;
  }
  glEnable(GL_DEBUG_OUTPUT);
  // Synchronous: the callback runs inside the failing call, so a debugger breakpoint there
  // shows the culprit's stack.
  glEnable(GL_DEBUG_OUTPUT_SYNCHRONOUS);
  glDebugMessageCallback(onMessage, nullptr);
  // Errors and undefined behaviour of any severity; of the rest (Mesa's shader-compile chatter,
  // performance hints) only what the driver calls high severity.
  glDebugMessageControl(GL_DONT_CARE, GL_DONT_CARE, GL_DONT_CARE, 0, nullptr, GL_FALSE);
  glDebugMessageControl(GL_DONT_CARE, GL_DONT_CARE, GL_DEBUG_SEVERITY_HIGH, 0, nullptr, GL_TRUE);
  glDebugMessageControl(GL_DONT_CARE, GL_DEBUG_TYPE_ERROR, GL_DONT_CARE, 0, nullptr, GL_TRUE);
  glDebugMessageControl(GL_DONT_CARE, GL_DEBUG_TYPE_UNDEFINED_BEHAVIOR, GL_DONT_CARE, 0, nullptr, GL_TRUE);
  // One deliberate error proves the callback fires, so a count of 0 later means something.
  gProbing = true;
  glEnable(GL_DEBUG_TYPE_ERROR);  // not a capability: GL_INVALID_ENUM
  while (glGetError() != GL_NO_ERROR) {}
  gProbing = false;
  if (gErrors.exchange(0) == 0) {
    std::cerr << "attnviz: GL debug output installed but a deliberate error did not reach it\n";
    return false;
  }
  return true;
}

long glDebugErrorCount() { return gErrors.load(); }

}  // namespace attnviz::gui
