#include "bundle.hpp"

#include <zip.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "matrix_io.hpp"
#include "safetensors.hpp"

namespace attnviz {
namespace {

using Arrays = std::map<std::string, NpyArray>;

// A decompressed entry may not exceed this, whatever its header declares (zip bombs).
constexpr long kMaxNpzEntryBytes = 4L << 30;

const char* const kKnownNames = "attention, tokens, query_tokens, key_tokens, q, k, v, mask, metadata, format_version";

std::string shapeText(const std::vector<long>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string place(int layer, int head, long row, long col) {
  return "layer " + std::to_string(layer) + ", head " + std::to_string(head) + ", row " + std::to_string(row) +
         ", column " + std::to_string(col);
}

std::string shortNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// --- .npz -------------------------------------------------------------------------------------

struct ZipArchive {
  zip_t* archive = nullptr;
  ~ZipArchive() {
    if (archive) zip_discard(archive);
  }
};

std::string readEntry(zip_t* archive, zip_uint64_t index, const std::string& where) {
  zip_file_t* file = zip_fopen_index(archive, index, 0);
  if (!file) throw Error(where + ": cannot read (" + zip_strerror(archive) + ")");
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> closer(file, zip_fclose);
  std::string bytes;
  // Grown as the data arrives, never allocated from the size the entry declares.
  char chunk[1 << 16];
  for (;;) {
    const zip_int64_t got = zip_fread(file, chunk, sizeof chunk);
    if (got < 0) throw Error(where + ": cannot read (" + zip_file_strerror(file) + ")");
    if (got == 0) break;
    if (long(bytes.size()) + got > kMaxNpzEntryBytes) throw Error(where + ": larger than the 4 GiB limit");
    bytes.append(chunk, size_t(got));
  }
  return bytes;
}

Arrays readNpzArrays(std::string_view bytes, const std::string& name) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!source) {
    const std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(name + ": cannot read the archive (" + reason + ")");
  }
  ZipArchive zip;
  zip.archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!zip.archive) {
    zip_source_free(source);
    const std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(name + ": not a readable .npz (zip) archive: " + reason);
  }
  zip_error_fini(&error);
  Arrays arrays;
  const zip_int64_t entries = zip_get_num_entries(zip.archive, 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* entryName = zip_get_name(zip.archive, zip_uint64_t(i), 0);
    if (!entryName) throw Error(name + ": entry " + std::to_string(i) + " has no name");
    std::string key = entryName;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    else throw Error(name + ": entry \"" + printable(key) + "\" is not a .npy array (an .npz holds only .npy files)");
    const std::string where = name + ": " + printable(key);
    if (arrays.count(key)) throw Error(where + ": the archive holds two arrays of that name");
    arrays.emplace(key, parseNpyArray(readEntry(zip.archive, zip_uint64_t(i), where), where, kMaxBundleArrayElements));
  }
  return arrays;
}

// --- .safetensors -------------------------------------------------------------------------------

NpyArray textArray(const std::string& json, const std::string& where) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_array())
    throw Error(where + " in __metadata__ must be a JSON list of strings");
  NpyArray a;
  a.isText = true;
  for (const auto& item : j) {
    if (!item.is_string()) throw Error(where + " in __metadata__ must be a JSON list of strings");
    a.strings.push_back(item.get<std::string>());
  }
  a.shape = {long(a.strings.size())};
  return a;
}

Arrays readSafetensorsArrays(const std::string& path) {
  const model::SafetensorsFile file(path);
  Arrays arrays;
  for (const model::TensorInfo& t : file.header().tensors) {
    const std::string where = path + ": " + printable(t.name);
    if (t.elements() > kMaxBundleArrayElements)
      throw Error(where + ": above the size limit (" + std::to_string(kMaxBundleArrayElements) + " values)");
    NpyArray a;
    a.shape.assign(t.shape.begin(), t.shape.end());
    a.values.resize(size_t(t.elements()));
    if (!model::isFloatingPoint(t.dtype))
      throw Error(where + ": is " + model::toString(t.dtype) + "; a bundle's tensors are F32, F16 or BF16");
    file.readFloats(t, a.values.data());
    arrays.emplace(t.name, std::move(a));
  }
  for (const auto& [key, value] : file.header().metadata) {
    const std::string where = path + ": " + printable(key);
    if (key == "tokens" || key == "query_tokens" || key == "key_tokens") {
      arrays[key] = textArray(value, where);
    } else if (key == "metadata" || key == "format_version") {
      NpyArray a;
      a.isText = true;
      a.strings = {value};
      arrays[key] = std::move(a);
    }
    // Other __metadata__ entries are the writer's own (as safetensors allows).
  }
  return arrays;
}

// --- assembling and checking ------------------------------------------------------------------

class Assembler {
 public:
  Assembler(Arrays arrays, std::string name, const BundleReadOptions& options)
      : arrays_(std::move(arrays)), name_(std::move(name)), options_(options) {}

  AttentionBundle run() {
    for (const auto& [key, array] : arrays_) {
      const std::string known = std::string(",") + kKnownNames + ",";
      if (known.find(", " + key + ",") == std::string::npos && known.find("," + key + ",") == std::string::npos)
        fail("unknown array \"" + printable(key) + "\" (a bundle holds " + kKnownNames + ")");
    }
    b_.path = name_;
    readVersion();
    readAttention();
    readInputs();
    readMask();
    readLabels();
    if (const NpyArray* meta = find("metadata")) {
      if (!meta->isText || meta->strings.size() != 1) fail("metadata must be one string (JSON text, for example)");
      b_.metadata = meta->strings[0];
    }
    checkWeights();
    return std::move(b_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(name_ + ": " + what); }

  const NpyArray* find(const std::string& key) const {
    const auto it = arrays_.find(key);
    return it == arrays_.end() ? nullptr : &it->second;
  }

  const NpyArray& numbers(const std::string& key) const {
    const NpyArray& a = arrays_.at(key);
    if (a.isText) fail(key + " holds strings; it must be a float array");
    return a;
  }

  void readVersion() {
    const NpyArray* v = find("format_version");
    if (!v) return;
    long version = -1;
    if (v->isText && v->strings.size() == 1) {
      try {
        size_t used = 0;
        version = std::stol(v->strings[0], &used);
        if (used != v->strings[0].size()) version = -1;
      } catch (const std::exception&) {
        version = -1;
      }
    } else if (!v->isText && v->values.size() == 1 && v->values[0] == std::floor(v->values[0]) &&
               std::abs(v->values[0]) < 1e6f) {
      version = long(v->values[0]);
    }
    if (version < 1) fail("format_version must be one positive integer (this attnviz writes " +
                          std::to_string(kBundleFormatVersion) + ")");
    if (version > kBundleFormatVersion)
      fail("bundle format_version " + std::to_string(version) + " is newer than this attnviz (reads up to " +
           std::to_string(kBundleFormatVersion) + "); update attnviz");
    b_.formatVersion = int(version);
  }

  void readAttention() {
    if (!find("attention")) {
      std::string found;
      for (const auto& [key, _] : arrays_) found += (found.empty() ? "" : ", ") + printable(key);
      fail("no \"attention\" array (found: " + (found.empty() ? std::string("nothing") : found) +
           "); save_bundle(path, tokens, attention) writes one");
    }
    const NpyArray& a = numbers("attention");
    shape_ = a.shape;
    const size_t rank = a.shape.size();
    if (rank == 5)
      fail("attention is 5-D " + shapeText(a.shape) + ": drop the batch axis (attention[:, 0] for a stacked [L, batch, H, n, m], "
           "or attention[0] for [batch, L, H, n, m]; save_bundle drops a batch axis of size 1)");
    if (rank < 2 || rank > 5)
      fail("attention is " + std::to_string(rank) + "-D " + shapeText(a.shape) +
           ": expected [layers, heads, n, m], [heads, n, m] or [n, m]");
    for (long axis : a.shape)
      if (axis == 0) fail("attention " + shapeText(a.shape) + " has an empty axis");
    b_.layers = rank == 4 ? int(a.shape[0]) : 1;
    b_.heads = rank >= 3 ? int(a.shape[rank - 3]) : 1;
    b_.n = int(a.shape[rank - 2]);
    b_.m = int(a.shape[rank - 1]);
    if (b_.n > kMaxSequenceLength || b_.m > kMaxSequenceLength)
      fail("attention " + shapeText(a.shape) + " is above the sequence length limit (" +
           std::to_string(kMaxSequenceLength) + ")");
    const long nm = long(b_.n) * b_.m;
    b_.attention.resize(size_t(b_.layers) * b_.heads);
    for (int l = 0; l < b_.layers; ++l)
      for (int h = 0; h < b_.heads; ++h) {
        const float* src = a.values.data() + (long(l) * b_.heads + h) * nm;
        Matrix& w = b_.attention[size_t(l * b_.heads + h)];
        w = Eigen::Map<const Matrix>(src, b_.n, b_.m);
        for (long c = 0; c < nm; ++c)
          if (!std::isfinite(src[c]))
            fail("attention " + place(l, h, c / b_.m, c % b_.m) + " is " + (std::isnan(src[c]) ? "NaN" : "infinite"));
      }
    arrays_.erase("attention");  // its values now live in the matrices
  }

  // q, k or v as per-layer matrices with the heads side by side; returns the per-head width.
  int readPerHead(const std::string& key, int rows, const char* rowsName, std::vector<Matrix>& out) {
    const NpyArray& a = numbers(key);
    const size_t rank = shape_.size();
    std::vector<long> expected(shape_.begin(), shape_.end() - 2);
    expected.push_back(rows);
    const auto fmt = [&](const std::vector<long>& s, const char* last) {
      std::string t = shapeText(s);
      return t.substr(0, t.size() - 1) + ", " + last + "]";
    };
    std::string expectedText = fmt(expected, key == "v" ? "d_v" : "d_head");
    const std::string axes = rank == 4 ? "[layers, heads, " : rank == 3 ? "[heads, " : "[";
    if (a.shape.size() != rank || !std::equal(expected.begin(), expected.end(), a.shape.begin()))
      fail(key + " " + shapeText(a.shape) + " and attention " + shapeText(shape_) + " disagree: " + key + " must be " +
           axes + rowsName + ", " + (key == "v" ? "d_v" : "d_head") + "] = " + expectedText);
    const long width = a.shape.back();
    if (width == 0) fail(key + " " + shapeText(a.shape) + " has an empty axis");
    if (width * b_.heads > kMaxDimension) fail(key + " " + shapeText(a.shape) + " is above the size limit");
    out.assign(size_t(b_.layers), Matrix(rows, b_.heads * width));
    for (int l = 0; l < b_.layers; ++l)
      for (int h = 0; h < b_.heads; ++h)
        for (int r = 0; r < rows; ++r)
          for (long c = 0; c < width; ++c) {
            const float value = a.values[size_t(((long(l) * b_.heads + h) * rows + r) * width + c)];
            if (!std::isfinite(value))
              fail(key + " " + place(l, h, r, c) + " is " + (std::isnan(value) ? "NaN" : "infinite"));
            out[size_t(l)](r, h * width + c) = value;
          }
    arrays_.erase(key);
    return int(width);
  }

  void readInputs() {
    const bool q = find("q"), k = find("k");
    if (q != k) fail(std::string(q ? "q is given without k" : "k is given without q") + ": recomputing the weights needs both");
    if (q) {
      b_.hasQK = true;
      const long qWidth = find("q")->shape.empty() ? 0 : find("q")->shape.back();
      const long kWidth = find("k")->shape.empty() ? 0 : find("k")->shape.back();
      if (find("q")->shape.size() == shape_.size() && find("k")->shape.size() == shape_.size() && qWidth != kWidth)
        fail("q " + shapeText(find("q")->shape) + " and k " + shapeText(find("k")->shape) +
             " disagree: their last axis (d_head) must be the same");
      b_.dHead = readPerHead("q", b_.n, "n", b_.q);
      readPerHead("k", b_.m, "m", b_.k);
    }
    if (find("v")) {
      b_.hasV = true;
      b_.dValue = readPerHead("v", b_.m, "m", b_.v);
    }
  }

  void readMask() {
    const NpyArray* a = find("mask");
    if (!a) return;
    if (a->isText) fail("mask holds strings; it must be a bool or 0/1 array");
    if (a->shape != std::vector<long>{b_.n, b_.m})
      fail("mask " + shapeText(a->shape) + " and attention " + shapeText(shape_) + " disagree: mask must be [n, m] = [" +
           std::to_string(b_.n) + ", " + std::to_string(b_.m) + "]");
    const Matrix values = Eigen::Map<const Matrix>(a->values.data(), b_.n, b_.m);
    b_.mask = toMask(values, name_ + ": mask");
  }

  std::vector<std::string> labels(const std::string& key, long count, const std::string& axis) const {
    const NpyArray& a = arrays_.at(key);
    if (!a.isText)
      fail(key + " must be a string array (np.array(list_of_str)), not numbers");
    if (a.shape.size() != 1)
      fail(key + " must be 1-D, one label per token (got " + shapeText(a.shape) + ")");
    if (long(a.strings.size()) != count)
      fail(key + " has " + std::to_string(a.strings.size()) + " labels but attention " + shapeText(shape_) + " has " +
           axis + " = " + std::to_string(count));
    return a.strings;
  }

  void readLabels() {
    const bool self = find("tokens"), queries = find("query_tokens"), keys = find("key_tokens");
    if (self && (queries || keys)) fail("give tokens (self-attention) or query_tokens and key_tokens, not both");
    if (queries != keys) fail(std::string(queries ? "query_tokens is given without key_tokens" : "key_tokens is given without query_tokens"));
    if (self) {
      if (b_.n != b_.m) {
        // Labels for one sequence, but the queries and keys differ in number.
        const NpyArray& t = arrays_.at("tokens");
        fail("tokens has " + std::to_string(t.strings.size()) + " labels but attention " + shapeText(shape_) +
             " has n = " + std::to_string(b_.n) + " queries and m = " + std::to_string(b_.m) +
             " keys: give query_tokens and key_tokens instead");
      }
      b_.queryTokens = labels("tokens", b_.n, "n");
      b_.keyTokens = b_.queryTokens;
      b_.hasLabels = true;
    } else if (queries) {
      b_.queryTokens = labels("query_tokens", b_.n, "n");
      b_.keyTokens = labels("key_tokens", b_.m, "m");
      b_.cross = true;
      b_.hasLabels = true;
    } else {
      for (int i = 0; i < b_.n; ++i) b_.queryTokens.push_back("q" + std::to_string(i));
      for (int j = 0; j < b_.m; ++j) b_.keyTokens.push_back("k" + std::to_string(j));
    }
  }

  void checkWeights() {
    bool causal = b_.mask.size() == 0 && b_.n > 1;
    for (int l = 0; l < b_.layers; ++l)
      for (int h = 0; h < b_.heads; ++h) {
        const Matrix& w = b_.weights(l, h);
        for (int i = 0; i < b_.n; ++i) {
          double sum = 0;
          for (int j = 0; j < b_.m; ++j) {
            const float a = w(i, j);
            sum += a;
            if (causal && j > i + (b_.m - b_.n) && a != 0) causal = false;
            if (a < 0) unnormalised("attention " + place(l, h, i, j) + " is negative (" + shortNumber(a) + ")");
          }
          // A row of zeros is a fully masked query (PyTorch SDPA's convention).
          if (sum != 0 && std::abs(sum - 1) > kBundleRowSumTolerance)
            unnormalised("attention layer " + std::to_string(l) + ", head " + std::to_string(h) + ", row " +
                         std::to_string(i) + " sums to " + shortNumber(sum) + ", not 1 (within 1e-3)");
        }
      }
    b_.causalWeights = causal;
  }

  void unnormalised(const std::string& what) {
    if (!options_.allowUnnormalised)
      fail(what + "; pass --allow-unnormalised to show the weights as given");
    if (b_.rowsNotNormalised.size() < 8) b_.rowsNotNormalised.push_back(what);
  }

  Arrays arrays_;
  std::string name_;
  BundleReadOptions options_;
  std::vector<long> shape_;
  AttentionBundle b_;
};

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

AttentionBundle parseNpzBundle(std::string_view bytes, const std::string& name, const BundleReadOptions& options) {
  return Assembler(readNpzArrays(bytes, name), name, options).run();
}

AttentionBundle readBundle(const std::string& path, const BundleReadOptions& options) {
  if (endsWith(path, ".safetensors")) return Assembler(readSafetensorsArrays(path), path, options).run();
  const std::string bytes = readFile(path);
  if (endsWith(path, ".npz") || bytes.substr(0, 2) == "PK") return parseNpzBundle(bytes, path, options);
  if (bytes.size() >= 8) {
    // A safetensors file starts with its header length and then '{'.
    if (bytes.size() > 8 && bytes[8] == '{') return Assembler(readSafetensorsArrays(path), path, options).run();
  }
  throw Error(path + ": not an attention bundle (expected a .npz or .safetensors file)");
}

}  // namespace attnviz
