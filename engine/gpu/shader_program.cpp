#include "shader_program.hpp"

#include <glad/gl.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "compute_shaders.hpp"
#include "types.hpp"

namespace attnviz::gpu {
namespace {

// Driver logs span lines; an Error is one line, so lines are joined with " | ".
std::string oneLine(std::string log) {
  while (!log.empty() && (log.back() == '\n' || log.back() == '\0' || log.back() == ' '))
    log.pop_back();
  std::string out;
  for (char c : log) {
    if (c == '\n')
      out += " | ";
    else if (c != '\r')
      out += c;
  }
  return out;
}

std::string fileLegend(const std::vector<std::string>& files) {
  std::string legend;
  for (size_t i = 0; i < files.size(); ++i)
    legend += (i ? ", " : "") + std::to_string(i) + " = " + files[i];
  return legend;
}

struct Preprocessor {
  std::vector<std::string> files;
  std::set<std::string> included;

  void expand(const std::string& fileName, std::ostringstream& out, int depth) {
    if (depth > 16) throw Error("shader " + fileName + ": includes nested more than 16 deep");
    const int sourceNumber = int(files.size());
    files.push_back(fileName);
    std::istringstream in(loadShaderFile(fileName));
    std::string line;
    int lineNumber = 0;
    while (std::getline(in, line)) {
      ++lineNumber;
      const auto first = line.find_first_not_of(" \t");
      if (first != std::string::npos && line.compare(first, 8, "#include") == 0) {
        const auto open = line.find('"', first);
        const auto close = open == std::string::npos ? open : line.find('"', open + 1);
        if (close == std::string::npos)
          throw Error("shader " + fileName + " line " + std::to_string(lineNumber) +
                      ": expected #include \"file.glsl\"");
        const std::string target = line.substr(open + 1, close - open - 1);
        if (included.insert(target).second) {
          out << "#line 1 " << files.size() << "\n";
          expand(target, out, depth + 1);
          out << "#line " << lineNumber + 1 << " " << sourceNumber << "\n";
        } else {
          out << "\n";
        }
        continue;
      }
      out << line << "\n";
    }
  }
};

}  // namespace

std::string loadShaderFile(const std::string& fileName) {
  if (const char* dir = std::getenv("ATTNVIZ_SHADER_DIR"); dir && *dir) {
    const std::string path = std::string(dir) + "/" + fileName;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("shader " + path + " not found (ATTNVIZ_SHADER_DIR is set to " + dir + ")");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  const std::string_view text = embedded_compute_shaders::find(fileName);
  if (text.empty()) throw Error("shader " + fileName + " is not embedded in this build");
  return std::string(text);
}

PreprocessedShader preprocessShader(const std::string& fileName,
                                    const std::vector<std::pair<std::string, std::string>>& defines) {
  Preprocessor pre;
  pre.included.insert(fileName);
  std::ostringstream body;
  pre.expand(fileName, body, 0);
  // #version must stay the first line; the defines follow it, then a #line back to line 2.
  std::string text = body.str();
  const auto versionEnd = text.find('\n');
  if (text.compare(0, 8, "#version") != 0 || versionEnd == std::string::npos)
    throw Error("shader " + fileName + ": the first line must be #version");
  std::string header = text.substr(0, versionEnd + 1);
  for (const auto& [name, value] : defines) header += "#define " + name + " " + value + "\n";
  header += "#line 2 0\n";
  return {header + text.substr(versionEnd + 1), pre.files};
}

ComputeProgram::ComputeProgram(const std::string& fileName,
                               const std::vector<std::pair<std::string, std::string>>& defines) {
  const PreprocessedShader source = preprocessShader(fileName, defines);
  const GLuint shader = glCreateShader(GL_COMPUTE_SHADER);
  const char* text = source.text.c_str();
  glShaderSource(shader, 1, &text, nullptr);
  glCompileShader(shader);
  GLint ok = 0;
  glGetShaderiv(shader, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    GLint length = 0;
    glGetShaderiv(shader, GL_INFO_LOG_LENGTH, &length);
    std::string log(std::max(length, 1), '\0');
    glGetShaderInfoLog(shader, length, nullptr, log.data());
    glDeleteShader(shader);
    throw Error("GPU shader " + fileName + " failed to compile: " + oneLine(log) +
                " (source numbers: " + fileLegend(source.files) + ")");
  }
  id_ = glCreateProgram();
  glAttachShader(id_, shader);
  glLinkProgram(id_);
  glDeleteShader(shader);  // flagged; freed with the program
  glGetProgramiv(id_, GL_LINK_STATUS, &ok);
  if (!ok) {
    GLint length = 0;
    glGetProgramiv(id_, GL_INFO_LOG_LENGTH, &length);
    std::string log(std::max(length, 1), '\0');
    glGetProgramInfoLog(id_, length, nullptr, log.data());
    glDeleteProgram(id_);
    id_ = 0;
    throw Error("GPU shader " + fileName + " failed to link: " + oneLine(log));
  }
}

ComputeProgram::~ComputeProgram() {
  if (id_) glDeleteProgram(id_);
}

ComputeProgram::ComputeProgram(ComputeProgram&& other) noexcept : id_(other.id_) { other.id_ = 0; }

ComputeProgram& ComputeProgram::operator=(ComputeProgram&& other) noexcept {
  if (this != &other) {
    if (id_) glDeleteProgram(id_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void ComputeProgram::use() const { glUseProgram(id_); }

int ComputeProgram::location(const char* name) const { return glGetUniformLocation(id_, name); }

void ComputeProgram::set(const char* name, int value) const {
  if (const int at = location(name); at >= 0) glProgramUniform1i(id_, at, value);
}
void ComputeProgram::set(const char* name, unsigned value) const {
  if (const int at = location(name); at >= 0) glProgramUniform1ui(id_, at, value);
}
void ComputeProgram::set(const char* name, float value) const {
  if (const int at = location(name); at >= 0) glProgramUniform1f(id_, at, value);
}

}  // namespace attnviz::gpu
