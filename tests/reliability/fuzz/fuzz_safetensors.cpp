// The safetensors container. The input is a whole file: an 8-byte little-endian header length,
// the header, the data. parseSafetensorsHeader runs on the header with the data's real size,
// and on the raw input as JSON (so JSON seeds reach it too), then SafetensorsFile maps the same
// bytes (a memfd, no disk) and reads every floating-point tensor. A header that parses must
// describe tensors whose byte ranges lie inside the data, match their shape and do not overlap.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "safetensors.hpp"

namespace {

using namespace attnviz::model;

void checkHeader(const SafetensorsHeader& h, std::uint64_t dataBytes) {
  std::uint64_t previousEnd = 0;
  for (const TensorInfo& t : h.tensors) {
    if (t.begin > t.end || t.end > dataBytes) attnviz::fuzz::violated("tensor outside the data:", t.name.c_str());
    const std::int64_t n = t.elements();
    if (n < 0) attnviz::fuzz::violated("accepted a shape whose size overflows:", t.name.c_str());
    if (std::uint64_t(n) * std::uint64_t(byteSize(t.dtype)) != t.end - t.begin)
      attnviz::fuzz::violated("shape and byte range disagree:", t.name.c_str());
    if (t.end > t.begin) {
      if (t.begin < previousEnd) attnviz::fuzz::violated("overlapping tensors accepted:", t.name.c_str());
      previousEnd = t.end;
    }
  }
}

// One memfd for the whole run, rewritten for every input.
struct Memfd {
  int fd = -1;
  std::string path;
};
const Memfd& memfd() {
  static const Memfd m = [] {
    Memfd f;
    f.fd = ::memfd_create("fuzz.safetensors", 0);
    if (f.fd < 0) attnviz::fuzz::violated("memfd_create failed");
    f.path = "/proc/self/fd/" + std::to_string(f.fd);
    return f;
  }();
  return m;
}

void writeMemfd(const uint8_t* data, size_t size) {
  const int fd = memfd().fd;
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != ssize_t(size)) attnviz::fuzz::violated("memfd write failed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The input as a header on its own, with a data section as long as the input.
  attnviz::fuzz::parseOrError([&] { checkHeader(parseSafetensorsHeader(bytes, size, "fuzz.safetensors"), size); });
  if (size < 8) return 0;
  std::uint64_t headerBytes = 0;
  for (int i = 7; i >= 0; --i) headerBytes = (headerBytes << 8) | data[i];
  if (headerBytes <= size - 8) {
    const std::uint64_t dataBytes = size - 8 - headerBytes;
    attnviz::fuzz::parseOrError([&] {
      checkHeader(parseSafetensorsHeader(bytes.substr(8, headerBytes), dataBytes, "fuzz.safetensors"), dataBytes);
    });
  }
  // The same bytes as a file.
  writeMemfd(data, size);
  attnviz::fuzz::parseOrError([&] {
    const SafetensorsFile file(memfd().path);
    checkHeader(file.header(), size - 8 - headerBytes);
    std::vector<float> values;
    for (const TensorInfo& t : file.header().tensors) {
      if (file.find(t.name) == nullptr) attnviz::fuzz::violated("a listed tensor cannot be found:", t.name.c_str());
      values.assign(size_t(t.elements()), 0.0f);
      attnviz::fuzz::parseOrError([&] { file.readFloats(t, values.data()); });
    }
  });
  return 0;
}
