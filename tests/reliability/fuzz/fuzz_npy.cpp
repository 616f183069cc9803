// NumPy .npy bytes. Also checks the heads/width bookkeeping of 3-D arrays, and that a mask
// built from the result either converts or is refused with Error.
#include "fuzz_common.hpp"
#include "matrix_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  attnviz::fuzz::parseOrError([&] {
    const attnviz::LoadedMatrix m = attnviz::parseNpy(bytes, "fuzz.npy");
    attnviz::fuzz::checkMatrix(m.values);
    if (m.heads < 1 || m.values.cols() % m.heads != 0) attnviz::fuzz::violated("heads do not divide the columns");
    attnviz::toMask(m.values, "fuzz.npy");
  });
  return 0;
}
