// Pasted tables: NumPy prints and reprs, nested lists, and anything the text parser takes.
#include "fuzz_common.hpp"
#include "matrix_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  attnviz::fuzz::parseOrError([&] { attnviz::fuzz::checkMatrix(attnviz::parseClipboardMatrix(text)); });
  return 0;
}
