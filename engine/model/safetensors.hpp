#pragma once
// The safetensors container (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {...}}, then the raw little-endian tensor data. Everything the header declares
// is checked against the file before any tensor is read.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "types.hpp"

namespace attnviz::model {

class WeightMatrix;

// Hugging Face's own reader refuses headers above 100 MB; so does attnviz.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };
const char* toString(DType t);
int byteSize(DType t);
bool isFloatingPoint(DType t);  // the dtypes attnviz converts to float32: F32, F16, BF16

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte range within the data section
  std::int64_t elements() const;
};

std::string shapeString(const std::vector<std::int64_t>& shape);  // "[768, 2304]"

// Parses and validates a header: JSON object, known dtypes, non-negative shapes whose byte size
// equals end - begin, ranges inside a data section of `dataBytes` bytes that do not overlap.
// `fileName` starts every message. Throws Error.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;             // in the order of their data
  std::map<std::string, std::string> metadata;  // __metadata__ (string values only, as specified)
};
SafetensorsHeader parseSafetensorsHeader(std::string_view json, std::uint64_t dataBytes,
                                         const std::string& fileName);

// One memory-mapped .safetensors file. A model's weight matrices stay in it (weights.hpp), read
// in place in their stored type; small tensors (norms, biases) are converted to float32.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // maps and validates; throws Error
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const TensorInfo* find(const std::string& name) const;
  // Converts a floating-point tensor to float32 into `out` (elements() values).
  void readFloats(const TensorInfo& tensor, float* out) const;
  // The first byte of a tensor's data in the mapping.
  const unsigned char* dataOf(const TensorInfo& tensor) const { return data_ + tensor.begin; }

 private:
  std::string path_;
  const unsigned char* map_ = nullptr;
  std::size_t mapBytes_ = 0;
  const unsigned char* data_ = nullptr;
  SafetensorsHeader header_;
  std::map<std::string, std::size_t> index_;
};

// A checkpoint's tensors across one file or the shards named by model.safetensors.index.json.
class TensorStore {
 public:
  static TensorStore open(const std::string& path);  // a .safetensors file or an index .json

  struct Found {
    const SafetensorsFile* file;
    const TensorInfo* info;
  };
  // nullptr info when absent.
  Found find(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const;

  // Reads tensor `name` of exactly `shape` as float32; throws Error naming the tensor, the
  // expected and the found shape, or the dtype.
  Matrix readMatrix(const std::string& name, std::int64_t rows, std::int64_t cols) const;
  Vector readVector(const std::string& name, std::int64_t size) const;
  // The same checks, and the matrix left in the file in its stored type (F32, F16, BF16): the
  // result keeps the file mapped.
  WeightMatrix readWeight(const std::string& name, std::int64_t rows, std::int64_t cols) const;
  // A tensor of exactly `shape` seen as a rows × cols matrix or a vector of all its elements
  // (rows · cols and the vector's size are its element count): a convolution [D, C, P, P] as
  // D × C·P·P, a [1, 1, D] token as a vector of D.
  WeightMatrix readWeight(const std::string& name, const std::vector<std::int64_t>& shape, std::int64_t rows,
                          std::int64_t cols) const;
  Vector readVector(const std::string& name, const std::vector<std::int64_t>& shape) const;

 private:
  std::string source_;  // the file or index opened, for messages
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::map<std::string, Found> tensors_;
};

float halfToFloat(std::uint16_t bits);
float bfloat16ToFloat(std::uint16_t bits);

}  // namespace attnviz::model
