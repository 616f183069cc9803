#pragma once
#include <memory>
#include <string>

#include "backend.hpp"

namespace attnviz {

// "cpu" or "gpu". Throws Error when the name is unknown or the backend cannot run here
// (the message names the reason, e.g. no OpenGL 4.3 or no EGL).
std::unique_ptr<Backend> makeBackend(const std::string& name);

}  // namespace attnviz
