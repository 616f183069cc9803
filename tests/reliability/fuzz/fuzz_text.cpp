// CSV / TSV / whitespace-separated text, as read from a file.
#include "fuzz_common.hpp"
#include "matrix_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  attnviz::fuzz::parseOrError([&] { attnviz::fuzz::checkMatrix(attnviz::parseDelimitedText(text, "fuzz.csv")); });
  return 0;
}
