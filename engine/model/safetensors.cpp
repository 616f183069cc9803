#include "safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "json_text.hpp"
#include "matrix_io.hpp"
#include "weights.hpp"

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace attnviz::model {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxDimension = std::int64_t(1) << 40;

struct DTypeName {
  const char* name;
  DType type;
  int bytes;
};
constexpr DTypeName kDTypes[] = {
    {"F64", DType::F64, 8}, {"F32", DType::F32, 4}, {"F16", DType::F16, 2}, {"BF16", DType::BF16, 2},
    {"I64", DType::I64, 8}, {"I32", DType::I32, 4}, {"I16", DType::I16, 2}, {"I8", DType::I8, 1},
    {"U8", DType::U8, 1},   {"BOOL", DType::Bool, 1},
};

std::string inQuotes(std::string_view s) { return "\"" + printable(s) + "\""; }

std::int64_t checkedElements(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / 16 / d) return -1;
    n *= d;
  }
  return n;
}

TensorInfo parseEntry(const std::string& name, const json& entry, const std::string& file) {
  const std::string where = file + ": tensor " + inQuotes(name);
  if (!entry.is_object()) throw Error(where + " is not an object");
  TensorInfo t;
  t.name = name;
  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) throw Error(where + " has no dtype");
  const std::string dt = dtype->get<std::string>();
  const auto known = std::find_if(std::begin(kDTypes), std::end(kDTypes), [&](const DTypeName& d) { return dt == d.name; });
  if (known == std::end(kDTypes))
    throw Error(where + " has unsupported dtype " + inQuotes(dt) + " (attnviz reads F32, F16 and BF16 weights)");
  t.dtype = known->type;
  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) throw Error(where + " has no shape");
  for (const json& d : *shape) {
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > std::uint64_t(kMaxDimension))
      throw Error(where + ": shape entries must be non-negative integers below 2^40");
    t.shape.push_back(d.get<std::int64_t>());
  }
  if (shape->size() > 8) throw Error(where + ": more than 8 dimensions");
  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    throw Error(where + ": data_offsets must be two non-negative integers [begin, end]");
  t.begin = (*offsets)[0].get<std::uint64_t>();
  t.end = (*offsets)[1].get<std::uint64_t>();
  if (t.end < t.begin)
    throw Error(where + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] end before they begin");
  const std::int64_t elements = checkedElements(t.shape);
  if (elements < 0) throw Error(where + ": shape " + shapeString(t.shape) + " is too large");
  const std::uint64_t bytes = std::uint64_t(elements) * std::uint64_t(known->bytes);
  if (bytes != t.end - t.begin)
    throw Error(where + ": shape " + shapeString(t.shape) + " of " + dt + " is " + std::to_string(bytes) +
                " bytes but data_offsets span " + std::to_string(t.end - t.begin));
  return t;
}

}  // namespace

const char* toString(DType t) {
  for (const DTypeName& d : kDTypes)
    if (d.type == t) return d.name;
  return "?";
}

int byteSize(DType t) {
  for (const DTypeName& d : kDTypes)
    if (d.type == t) return d.bytes;
  return 0;
}

bool isFloatingPoint(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

std::int64_t TensorInfo::elements() const { return checkedElements(shape); }

std::string shapeString(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

float halfToFloat(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int shift = 0;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    bits = sign | (std::uint32_t(113 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

float bfloat16ToFloat(std::uint16_t bits) { return std::bit_cast<float>(std::uint32_t(bits) << 16); }

SafetensorsHeader parseSafetensorsHeader(std::string_view text, std::uint64_t dataBytes, const std::string& file) {
  const json header = parseJsonText(text, file + " header");
  if (!header.is_object()) throw Error(file + ": the header is not a JSON object");
  SafetensorsHeader out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(file + ": __metadata__ is not an object");
      for (const auto& [key, value] : entry.items())
        if (value.is_string()) out.metadata[key] = value.get<std::string>();
      continue;
    }
    out.tensors.push_back(parseEntry(name, entry, file));
  }
  std::sort(out.tensors.begin(), out.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 0; i < out.tensors.size(); ++i) {
    const TensorInfo& t = out.tensors[i];
    if (t.end > dataBytes)
      throw Error(file + ": tensor " + inQuotes(t.name) + ": data_offsets [" + std::to_string(t.begin) + ", " +
                  std::to_string(t.end) + "] reach beyond the " + std::to_string(dataBytes) + " bytes of data");
    if (i > 0 && out.tensors[i - 1].end > t.begin && t.end > t.begin)
      throw Error(file + ": tensors " + inQuotes(out.tensors[i - 1].name) + " and " + inQuotes(t.name) +
                  " overlap (bytes " + std::to_string(out.tensors[i - 1].begin) + "-" +
                  std::to_string(out.tensors[i - 1].end) + " and " + std::to_string(t.begin) + "-" +
                  std::to_string(t.end) + ")");
  }
  return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + " is not a regular file");
  }
  const std::uint64_t size = std::uint64_t(st.st_size);
  if (size < 8) {
    ::close(fd);
    throw Error(path + ": " + std::to_string(size) + " bytes is too short for a safetensors file (8-byte header length)");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mapErrno = errno;
  ::close(fd);
  if (map == MAP_FAILED) throw Error("cannot map " + path + ": " + std::strerror(mapErrno));
  map_ = static_cast<const unsigned char*>(map);
  mapBytes_ = size;
  try {
    std::uint64_t headerBytes = 0;
    std::memcpy(&headerBytes, map_, 8);
    if (headerBytes > kMaxSafetensorsHeaderBytes)
      throw Error(path + ": header length " + std::to_string(headerBytes) + " is above the limit of " +
                  std::to_string(kMaxSafetensorsHeaderBytes) + " bytes (not a safetensors file?)");
    if (headerBytes > size - 8)
      throw Error(path + ": header length " + std::to_string(headerBytes) + " is beyond the end of the file (" +
                  std::to_string(size) + " bytes; truncated or not a safetensors file?)");
    const std::string_view text(reinterpret_cast<const char*>(map_) + 8, headerBytes);
    header_ = parseSafetensorsHeader(text, size - 8 - headerBytes, path);
    data_ = map_ + 8 + headerBytes;
    for (size_t i = 0; i < header_.tensors.size(); ++i) index_[header_.tensors[i].name] = i;
  } catch (...) {
    ::munmap(const_cast<unsigned char*>(map_), mapBytes_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(const_cast<unsigned char*>(map_), mapBytes_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

void SafetensorsFile::readFloats(const TensorInfo& t, float* out) const {
  const unsigned char* src = data_ + t.begin;
  const std::int64_t count = t.elements();
  switch (t.dtype) {
    case DType::F32: std::memcpy(out, src, size_t(count) * 4); break;
    case DType::F16: halvesToFloat(src, std::size_t(count), out); break;
    case DType::BF16: bfloat16sToFloat(src, std::size_t(count), out); break;
    default:
      throw Error(path_ + ": tensor " + inQuotes(t.name) + " is " + toString(t.dtype) +
                  "; attnviz reads weights stored as F32, F16 or BF16");
  }
}

TensorStore TensorStore::open(const std::string& path) {
  TensorStore store;
  store.source_ = path;
  namespace fs = std::filesystem;
  auto add = [&store](const std::string& file) {
    store.files_.push_back(std::make_shared<const SafetensorsFile>(file));
    const SafetensorsFile* f = store.files_.back().get();
    for (const TensorInfo& t : f->header().tensors) {
      if (store.tensors_.count(t.name))
        throw Error(file + ": tensor " + inQuotes(t.name) + " is also in " + store.tensors_.at(t.name).file->path());
      store.tensors_[t.name] = {f, &t};
    }
  };
  if (fs::path(path).extension() != ".json") {
    add(path);
    return store;
  }
  const std::string text = readFile(path);
  const json index = parseJsonText(text, path);
  if (!index.is_object()) throw Error(path + ": not a JSON object");
  const auto map = index.find("weight_map");
  if (map == index.end() || !map->is_object()) throw Error(path + ": no \"weight_map\" object");
  std::vector<std::string> shards;
  for (const auto& [name, file] : map->items()) {
    if (!file.is_string()) throw Error(path + ": weight_map[" + inQuotes(name) + "] is not a file name");
    const std::string shard = file.get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "..")
      throw Error(path + ": weight_map[" + inQuotes(name) + "] = " + inQuotes(shard) + " is not a file beside the index");
    if (std::find(shards.begin(), shards.end(), shard) == shards.end()) shards.push_back(shard);
  }
  if (shards.size() > 4096) throw Error(path + ": more than 4096 shards");
  const fs::path dir = fs::path(path).parent_path();
  for (const std::string& shard : shards) add((dir / shard).string());
  for (const auto& [name, file] : map->items())
    if (!store.tensors_.count(name))
      throw Error(path + ": tensor " + inQuotes(name) + " is not in " + file.get<std::string>());
  return store;
}

TensorStore::Found TensorStore::find(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? Found{nullptr, nullptr} : it->second;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  for (const auto& [name, found] : tensors_) out.push_back(name);
  return out;
}

const std::map<std::string, std::string>& TensorStore::metadata() const {
  static const std::map<std::string, std::string> none;
  return files_.empty() ? none : files_.front()->header().metadata;
}

namespace {
// The shape is checked against the file before anything is allocated for the tensor.
void checkShape(const TensorStore::Found& f, const std::string& source, const std::string& name,
                const std::vector<std::int64_t>& shape) {
  if (!f.info) throw Error(source + ": no tensor " + inQuotes(name) + " (expected shape " + shapeString(shape) + ")");
  if (f.info->shape != shape)
    throw Error(f.file->path() + ": tensor " + inQuotes(name) + " has shape " + shapeString(f.info->shape) +
                " but the config needs " + shapeString(shape));
}
}  // namespace

Matrix TensorStore::readMatrix(const std::string& name, std::int64_t rows, std::int64_t cols) const {
  const Found f = find(name);
  checkShape(f, source_, name, {rows, cols});
  Matrix m(rows, cols);
  f.file->readFloats(*f.info, m.data());
  return m;
}

WeightMatrix TensorStore::readWeight(const std::string& name, std::int64_t rows, std::int64_t cols) const {
  return readWeight(name, {rows, cols}, rows, cols);
}

WeightMatrix TensorStore::readWeight(const std::string& name, const std::vector<std::int64_t>& shape,
                                     std::int64_t rows, std::int64_t cols) const {
  const Found f = find(name);
  checkShape(f, source_, name, shape);
  const DType t = f.info->dtype;
  if (t != DType::F32 && t != DType::F16 && t != DType::BF16)
    throw Error(f.file->path() + ": tensor " + inQuotes(name) + " is " + toString(t) +
                "; attnviz reads weights stored as F32, F16 or BF16");
  std::shared_ptr<const SafetensorsFile> owner;
  for (const auto& file : files_)
    if (file.get() == f.file) owner = file;
  return WeightMatrix::inPlace(t, long(rows), long(cols), f.file->dataOf(*f.info), std::move(owner),
                               WeightMatrix::Backing::MappedFile);
}

Vector TensorStore::readVector(const std::string& name, std::int64_t size) const { return readVector(name, std::vector<std::int64_t>{size}); }

Vector TensorStore::readVector(const std::string& name, const std::vector<std::int64_t>& shape) const {
  const Found f = find(name);
  checkShape(f, source_, name, shape);
  std::int64_t size = 1;
  for (const std::int64_t s : shape) size *= s;
  Vector v(size);
  f.file->readFloats(*f.info, v.data());
  return v;
}

}  // namespace attnviz::model
