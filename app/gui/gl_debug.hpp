#pragma once
// GL errors through KHR_debug (core since 4.3): a callback counts GL_DEBUG_TYPE_ERROR messages
// and logs each distinct one once. On in debug builds, and in any build with ATTNVIZ_GL_DEBUG=1
// (the soak test); ATTNVIZ_GL_DEBUG=0 turns it off. The count reaches --dump-state as gl_errors.

namespace attnviz::gui {

bool glDebugWanted();
// After the context is current and GL is loaded (the window must have been created with
// GLFW_OPENGL_DEBUG_CONTEXT). False, with a line on stderr, when the context has no debug output
// or a deliberate probe error does not reach the callback.
bool installGlDebug();
long glDebugErrorCount();

}  // namespace attnviz::gui
