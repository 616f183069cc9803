#pragma once
// Compute shader sources (embedded, or from $ATTNVIZ_SHADER_DIR for shader development), a
// small #include preprocessor, and compiling them into GL programs with readable errors.
#include <string>
#include <utility>
#include <vector>

namespace attnviz::gpu {

// The file's text: from the directory in $ATTNVIZ_SHADER_DIR when that is set, else embedded.
// Throws Error when it does not exist.
std::string loadShaderFile(const std::string& fileName);

struct PreprocessedShader {
  std::string text;
  std::vector<std::string> files;  // GLSL source-string number → file name, for driver logs
};

// Expands `#include "x.glsl"` (each file once) and puts `defines` right after #version.
// #line directives keep driver line numbers pointing into the right file.
PreprocessedShader preprocessShader(const std::string& fileName,
                                    const std::vector<std::pair<std::string, std::string>>& defines);

// A compiled and linked compute program; deletes it when destroyed (needs the context current).
class ComputeProgram {
 public:
  ComputeProgram() = default;
  // Throws Error with the driver's log, on one line, when compiling or linking fails.
  ComputeProgram(const std::string& fileName,
                 const std::vector<std::pair<std::string, std::string>>& defines = {});
  ~ComputeProgram();
  ComputeProgram(ComputeProgram&& other) noexcept;
  ComputeProgram& operator=(ComputeProgram&& other) noexcept;

  unsigned id() const { return id_; }
  void use() const;
  // Uniform setters on this program; a uniform the compiler removed is ignored.
  void set(const char* name, int value) const;
  void set(const char* name, unsigned value) const;
  void set(const char* name, float value) const;

 private:
  int location(const char* name) const;
  unsigned id_ = 0;
};

}  // namespace attnviz::gpu
