#include "matrix_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "utf8.hpp"

namespace attnviz {
namespace {

constexpr long kMaxFileBytes = 4L << 30;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  const auto isBlank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Parses one cell: a decimal or scientific number, or true/false (for masks).
// Returns false when the cell is not a number at all.
bool parseCell(std::string_view cell, float& out) {
  cell = trim(cell);
  if (cell.size() >= 2 && (cell.front() == '"' || cell.front() == '\'') && cell.back() == cell.front())
    cell = trim(cell.substr(1, cell.size() - 2));
  if (cell.empty()) return false;
  const std::string l = lower(cell);
  if (l == "true") { out = 1; return true; }
  if (l == "false") { out = 0; return true; }
  if (cell.front() == '+') {
    cell.remove_prefix(1);
    if (!cell.empty() && cell.front() == '-') return false;  // "+-1" is not a number
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ptr != cell.data() + cell.size()) return false;
  // from_chars reports underflow (1e-400) as out of range too; strtod tells the two apart:
  // ±HUGE_VAL for overflow, a zero or subnormal for underflow.
  if (ec == std::errc::result_out_of_range) value = std::strtod(std::string(cell).c_str(), nullptr);
  else if (ec != std::errc()) return false;
  out = float(value);
  return true;
}

std::vector<std::string_view> splitCells(std::string_view line, char delimiter) {
  std::vector<std::string_view> cells;
  if (delimiter == ' ') {
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i >= line.size()) break;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      cells.push_back(line.substr(i, j - i));
      i = j;
    }
    return cells;
  }
  size_t start = 0;
  for (;;) {
    const size_t pos = line.find(delimiter, start);
    cells.push_back(line.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  // A trailing delimiter ("1,2,3,") leaves an empty last cell that is not a value.
  if (cells.size() > 1 && trim(cells.back()).empty()) cells.pop_back();
  return cells;
}

std::string at(const std::string& name, long line, long column) {
  return name + ": line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
}

void checkShapeLimits(const std::string& name, long rows, long cols) {
  if (rows > kMaxDimension || cols > kMaxDimension || rows * cols > kMaxMatrixElements)
    throw Error(name + ": " + std::to_string(rows) + "×" + std::to_string(cols) +
                " is above the size limit (" + std::to_string(kMaxDimension) + " rows or columns, " +
                std::to_string(kMaxMatrixElements) + " values)");
}

std::string errnoText() { return std::strerror(errno); }

// --- .npy ---------------------------------------------------------------------------------

struct NpyHeader {
  std::string descr;
  bool fortranOrder = false;
  std::vector<long> shape;
};

// Finds `'key':` in the header dict and returns the position right after the colon.
size_t findKey(std::string_view header, std::string_view key, const std::string& name) {
  for (const char quote : {'\'', '"'}) {
    const std::string pattern = std::string(1, quote) + std::string(key) + quote;
    const size_t pos = header.find(pattern);
    if (pos == std::string_view::npos) continue;
    size_t i = pos + pattern.size();
    while (i < header.size() && header[i] == ' ') ++i;
    if (i < header.size() && header[i] == ':') return i + 1;
  }
  throw Error(name + ": .npy header has no '" + std::string(key) + "' entry");
}

NpyHeader parseNpyHeader(std::string_view header, const std::string& name) {
  NpyHeader h;
  size_t i = findKey(header, "descr", name);
  while (i < header.size() && header[i] == ' ') ++i;
  if (i >= header.size() || (header[i] != '\'' && header[i] != '"'))
    throw Error(name + ": .npy header 'descr' is not a simple dtype string (structured arrays are not supported)");
  const char quote = header[i];
  const size_t end = header.find(quote, i + 1);
  if (end == std::string_view::npos) throw Error(name + ": .npy header is malformed (unterminated 'descr')");
  h.descr = std::string(header.substr(i + 1, end - i - 1));

  i = findKey(header, "fortran_order", name);
  while (i < header.size() && header[i] == ' ') ++i;
  if (header.substr(i, 4) == "True") h.fortranOrder = true;
  else if (header.substr(i, 5) == "False") h.fortranOrder = false;
  else throw Error(name + ": .npy header 'fortran_order' is neither True nor False");

  i = findKey(header, "shape", name);
  while (i < header.size() && header[i] == ' ') ++i;
  if (i >= header.size() || header[i] != '(') throw Error(name + ": .npy header 'shape' is not a tuple");
  ++i;
  for (;;) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    if (i >= header.size()) throw Error(name + ": .npy header 'shape' is unterminated");
    if (header[i] == ')') break;
    long value = 0;
    const auto [ptr, ec] = std::from_chars(header.data() + i, header.data() + header.size(), value);
    if (ec != std::errc() || value < 0)
      throw Error(name + ": .npy header 'shape' holds something other than a size");
    if (h.shape.size() >= 8) throw Error(name + ": .npy array has too many dimensions");
    h.shape.push_back(value);
    i = size_t(ptr - header.data());
  }
  return h;
}

template <typename T>
T readLittleEndian(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));  // attnviz targets little-endian machines only
  return value;
}

}  // namespace

std::string jsonSyntaxError(const std::string& name, const std::exception& parseError, size_t byte) {
  // nlohmann reports the 1-based position of the offending character and a long message whose
  // useful part follows " - " (e.g. "unexpected end of input; expected ...").
  std::string reason = parseError.what();
  const size_t dash = reason.find(" - ");
  reason = dash == std::string::npos ? "invalid JSON" : "invalid JSON, " + reason.substr(dash + 3);
  const size_t semicolon = reason.find(';');
  if (semicolon != std::string::npos) reason.resize(semicolon);
  return name + ": byte " + std::to_string(byte > 0 ? byte - 1 : 0) + ": " + reason;
}

std::string readFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(path + ": cannot open (" + errnoText() + ")");
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, not a file");
  if (st.st_size > kMaxFileBytes) throw Error(path + ": file is larger than the 4 GiB limit");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (" + errnoText() + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error (" + errnoText() + ")");
  return std::move(ss).str();
}

void writeFileAtomic(const std::string& path, std::string_view bytes) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) throw Error(path + ": cannot write (not a file name)");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error("cannot write " + path + ": it is a directory");
  // The rename would replace a device or pipe (as root, /dev/full or /dev/null itself) with a
  // regular file.
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw Error("cannot write " + path + ": not a regular file");
  std::string tmp = dir + "/." + base + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw Error("cannot write " + path + ": " + errnoText());
  const auto failWith = [&](const std::string& reason) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path + ": " + reason);
  };
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (w < 0) {
      if (errno == EINTR) continue;
      failWith(errnoText());
    }
    written += size_t(w);
  }
  if (::fsync(fd) != 0 && errno != EINVAL) failWith(errnoText());
  ::fchmod(fd, 0644);
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path + ": " + errnoText());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = errnoText();
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path + ": " + reason);
  }
}

Matrix parseDelimitedText(std::string_view text, const std::string& name) {
  // Strip a UTF-8 byte-order mark (spreadsheet exports often start with one).
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  char delimiter = 0;
  std::vector<float> values;
  long cols = -1, rows = 0, firstDataLine = 0;
  bool sawLine = false;
  long lineNo = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string_view trimmed = trim(line);
    if (trimmed.empty() || trimmed.front() == '#') {
      if (end == text.size()) break;
      continue;
    }
    if (!delimiter) delimiter = trimmed.find('\t') != std::string_view::npos ? '\t'
                               : trimmed.find(',') != std::string_view::npos ? ','
                               : trimmed.find(';') != std::string_view::npos ? ';' : ' ';
    const auto cells = splitCells(trimmed, delimiter);
    std::vector<float> rowValues(cells.size());
    long badColumn = 0;
    for (size_t c = 0; c < cells.size(); ++c)
      if (!parseCell(cells[c], rowValues[c])) {
        badColumn = long(c) + 1;
        break;
      }
    if (badColumn) {
      if (!sawLine) {  // the first non-comment line may be a header row
        sawLine = true;
        if (end == text.size()) break;
        continue;
      }
      const std::string cell(trim(cells[badColumn - 1]));
      throw Error(at(name, lineNo, badColumn) + (cell.empty() ? std::string("empty cell")
                                                             : "\"" + cell.substr(0, 40) + "\" is not a number"));
    }
    sawLine = true;
    for (size_t c = 0; c < rowValues.size(); ++c)
      if (!std::isfinite(rowValues[c]))
        throw Error(at(name, lineNo, long(c) + 1) + (std::isnan(rowValues[c]) ? "NaN" : "infinite value") +
                    " (only finite numbers are accepted)");
    if (cols < 0) {
      cols = long(rowValues.size());
      firstDataLine = lineNo;
    } else if (long(rowValues.size()) != cols) {
      throw Error(name + ": line " + std::to_string(lineNo) + ": " + std::to_string(rowValues.size()) +
                  " values, but line " + std::to_string(firstDataLine) + " has " + std::to_string(cols) +
                  " (rows must all have the same length)");
    }
    ++rows;
    checkShapeLimits(name, rows, cols);
    values.insert(values.end(), rowValues.begin(), rowValues.end());
    if (end == text.size()) break;
  }
  if (rows == 0) throw Error(name + ": no numbers found (empty file or only a header)");
  return Eigen::Map<Matrix>(values.data(), rows, cols);
}

Matrix parseClipboardMatrix(std::string_view text) {
  std::string t(trim(text));
  // NumPy repr: array([[1, 2], [3, 4]], dtype=float32)
  if (t.rfind("array(", 0) == 0) {
    t = t.substr(6);
    const size_t dtype = t.find("dtype");
    if (dtype != std::string::npos) t = t.substr(0, dtype);
    while (!t.empty() && (t.back() == ')' || t.back() == ',' || std::isspace(static_cast<unsigned char>(t.back()))))
      t.pop_back();
  }
  if (!t.empty() && t.front() == '[') {
    // NumPy print or nested lists: each innermost [...] is a row; commas are optional.
    std::string rows;
    int depth = 0, maxDepth = 0;
    for (char c : t) {
      if (c == '[') maxDepth = std::max(maxDepth, ++depth);
      else if (c == ']') {
        if (depth == 0) throw Error("clipboard: unbalanced brackets");  // "[1]]2[" balances only in count
        if (depth-- == maxDepth) rows += '\n';
      }
      else if (c == ',' || c == '\n' || c == '\r') rows += ' ';
      else rows += c;
    }
    if (depth != 0) throw Error("clipboard: unbalanced brackets");
    if (maxDepth > 2) throw Error("clipboard: only 1-D or 2-D arrays can be pasted");
    return parseDelimitedText(rows, "clipboard");
  }
  return parseDelimitedText(t, "clipboard");
}

namespace {

// The magic, version and header of a .npy file: the header parsed, and where the data starts.
// Messages give the byte offset of what is wrong.
struct NpyParts {
  NpyHeader header;
  size_t dataStart = 0;
};

NpyParts splitNpy(std::string_view bytes, const std::string& name) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != "\x93NUMPY")
    throw Error(name + ": byte 0: not a .npy file (missing the \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = readLittleEndian<std::uint16_t>(bytes.data() + 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error(name + ": byte 8: truncated .npy header");
    headerLen = readLittleEndian<std::uint32_t>(bytes.data() + 8);
    headerStart = 12;
  } else {
    throw Error(name + ": byte 6: unsupported .npy format version " + std::to_string(major));
  }
  if (headerLen > 1 << 20 || headerStart + headerLen > bytes.size())
    throw Error(name + ": byte " + std::to_string(headerStart) + ": truncated .npy header");
  return {parseNpyHeader(bytes.substr(headerStart, headerLen), name), headerStart + headerLen};
}

}  // namespace

LoadedMatrix parseNpy(std::string_view bytes, const std::string& name) {
  const NpyParts parts = splitNpy(bytes, name);
  const NpyHeader& h = parts.header;
  const size_t dataStart = parts.dataStart;

  int itemSize;
  enum { F4, F8, B1, U1, I4, I8 } type;
  const std::string& d = h.descr;
  if (d == "<f4" || d == "=f4") { type = F4; itemSize = 4; }
  else if (d == "<f8" || d == "=f8") { type = F8; itemSize = 8; }
  else if (d == "|b1") { type = B1; itemSize = 1; }
  else if (d == "|u1") { type = U1; itemSize = 1; }
  else if (d == "<i4") { type = I4; itemSize = 4; }
  else if (d == "<i8") { type = I8; itemSize = 8; }
  else if (!d.empty() && d[0] == '>')
    throw Error(name + ": big-endian dtype '" + printable(d) + "' is not supported (use little-endian float32/float64)");
  else
    throw Error(name + ": unsupported dtype '" + printable(d) + "' (expected float32 '<f4' or float64 '<f8')");
  if (h.fortranOrder)
    throw Error(name + ": Fortran-order (column-major) arrays are not supported; save np.ascontiguousarray(a)");

  long heads = 1, rows, cols;
  switch (h.shape.size()) {
    case 1: rows = h.shape[0]; cols = 1; break;
    case 2: rows = h.shape[0]; cols = h.shape[1]; break;
    case 3: heads = h.shape[0]; rows = h.shape[1]; cols = h.shape[2]; break;
    default:
      throw Error(name + ": " + std::to_string(h.shape.size()) +
                  "-D array (expected 2-D [rows, cols] or 3-D [heads, rows, cols])");
  }
  if (heads > kMaxDimension) checkShapeLimits(name, heads, 1);
  if (cols > kMaxDimension) checkShapeLimits(name, rows, cols);  // before heads·cols can overflow
  checkShapeLimits(name, rows, heads * cols);
  const long count = heads * rows * cols;
  if (count == 0) throw Error(name + ": the array is empty (shape has a zero)");
  const size_t need = size_t(count) * size_t(itemSize);
  if (bytes.size() - dataStart < need)
    throw Error(name + ": byte " + std::to_string(bytes.size()) + ": truncated .npy data (expected " +
                std::to_string(need) + " bytes of data, found " + std::to_string(bytes.size() - dataStart) + ")");

  LoadedMatrix out;
  out.heads = int(heads);
  out.values.resize(rows, heads * cols);
  const char* p = bytes.data() + dataStart;
  for (long hh = 0; hh < heads; ++hh)
    for (long r = 0; r < rows; ++r)
      for (long c = 0; c < cols; ++c, p += itemSize) {
        float v;
        switch (type) {
          case F4: v = readLittleEndian<float>(p); break;
          case F8: v = float(readLittleEndian<double>(p)); break;
          case B1: case U1: v = float(static_cast<unsigned char>(*p)); break;
          case I4: v = float(readLittleEndian<std::int32_t>(p)); break;
          case I8: v = float(readLittleEndian<std::int64_t>(p)); break;
        }
        if (!std::isfinite(v))
          throw Error(name + ": " + (heads > 1 ? "[" + std::to_string(hh) + ", " : "[") + std::to_string(r) +
                      ", " + std::to_string(c) + "] is " + (std::isnan(v) ? "NaN" : "infinite") +
                      " (only finite numbers are accepted)");
        out.values(r, hh * cols + c) = v;
      }
  return out;
}

namespace {

// IEEE half precision to float, exactly (float32 represents every half).
float halfBitsToFloat(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  float magnitude;
  if (exponent == 0x1f) magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else if (exponent == 0) magnitude = std::ldexp(float(mantissa), -24);
  else magnitude = std::ldexp(float(mantissa | 0x400), exponent - 25);
  return (h & 0x8000) ? -magnitude : magnitude;
}


}  // namespace

NpyArray parseNpyArray(std::string_view bytes, const std::string& name, long maxElements) {
  const NpyParts parts = splitNpy(bytes, name);
  const NpyHeader& h = parts.header;
  const std::string_view data = bytes.substr(parts.dataStart);

  const std::string& d = h.descr;
  if (d == "|O" || d == "O" || d == "<O")
    throw Error(name + ": an object array (dtype=object) cannot be read without pickle; save strings as "
                       "np.array(list_of_str) and numbers as a float array");
  if (!d.empty() && d[0] == '>' && d != ">u1" && d != ">i1")
    throw Error(name + ": big-endian dtype '" + printable(d) + "' is not supported (save with .astype('<f4'))");
  // dtype kind and item size: '<f4', '|b1', '<U12', '|S7', ...
  const char kind = d.size() >= 2 ? d[d.size() >= 3 && (d[0] == '<' || d[0] == '|' || d[0] == '=') ? 1 : 0] : 0;
  long itemSize = 0;
  {
    const size_t digits = d.find_first_of("0123456789");
    if (digits == std::string::npos ||
        std::from_chars(d.data() + digits, d.data() + d.size(), itemSize).ptr != d.data() + d.size() || itemSize < 1 ||
        itemSize > 4096)
      throw Error(name + ": unsupported dtype '" + printable(d) + "'");
  }
  const bool numeric = (kind == 'f' && (itemSize == 2 || itemSize == 4 || itemSize == 8)) ||
                       ((kind == 'i' || kind == 'u') && (itemSize == 1 || itemSize == 2 || itemSize == 4 || itemSize == 8)) ||
                       (kind == 'b' && itemSize == 1);
  const bool text = kind == 'U' || kind == 'S';
  if (!numeric && !text)
    throw Error(name + ": unsupported dtype '" + printable(d) +
                "' (expected float16/32/64, integers, bool, or a NumPy string array)");
  const long bytesPerItem = kind == 'U' ? itemSize * 4 : itemSize;

  long count = 1;
  for (const long axis : h.shape) {
    if (axis != 0 && count > maxElements / axis)
      throw Error(name + ": array of " + std::to_string(h.shape.size()) + " axes is above the size limit (" +
                  std::to_string(maxElements) + " values)");
    count *= axis;
  }
  if (count > maxElements) throw Error(name + ": array is above the size limit (" + std::to_string(maxElements) + " values)");
  if (long(data.size()) / bytesPerItem < count)
    throw Error(name + ": truncated .npy data (expected " + std::to_string(count) + " values of " +
                std::to_string(bytesPerItem) + " bytes, found " + std::to_string(data.size()) + " bytes)");

  // Element `c` of C order sits at `fortranIndex(c)` in a Fortran-order file.
  const size_t rank = h.shape.size();
  std::vector<long> index(rank, 0);
  const auto nextSource = [&](long c) -> long {
    if (!h.fortranOrder || rank < 2) return c;
    long offset = 0, stride = 1;
    for (size_t a = 0; a < rank; ++a) {
      offset += index[a] * stride;
      stride *= h.shape[a];
    }
    for (size_t a = rank; a-- > 0;) {  // advance the C-order multi-index
      if (++index[a] < h.shape[a]) break;
      index[a] = 0;
    }
    return offset;
  };

  NpyArray out;
  out.shape = h.shape;
  out.isText = text;
  if (text) out.strings.resize(size_t(count));
  else out.values.resize(size_t(count));
  for (long c = 0; c < count; ++c) {
    const char* p = data.data() + nextSource(c) * bytesPerItem;
    if (text) {
      std::string& s = out.strings[size_t(c)];
      if (kind == 'S') {
        s.assign(p, size_t(itemSize));
      } else {
        for (long u = 0; u < itemSize; ++u) appendUtf8(s, char32_t(readLittleEndian<std::uint32_t>(p + 4 * u)));
      }
      while (!s.empty() && s.back() == '\0') s.pop_back();
      continue;
    }
    float v = 0;
    if (kind == 'f') {
      v = itemSize == 2 ? halfBitsToFloat(readLittleEndian<std::uint16_t>(p))
          : itemSize == 4 ? readLittleEndian<float>(p)
                          : float(readLittleEndian<double>(p));
    } else if (kind == 'b' || itemSize == 1) {
      v = kind == 'i' ? float(static_cast<signed char>(*p)) : float(static_cast<unsigned char>(*p));
    } else if (kind == 'i') {
      v = itemSize == 2 ? float(readLittleEndian<std::int16_t>(p))
          : itemSize == 4 ? float(readLittleEndian<std::int32_t>(p))
                          : float(readLittleEndian<std::int64_t>(p));
    } else {
      v = itemSize == 2 ? float(readLittleEndian<std::uint16_t>(p))
          : itemSize == 4 ? float(readLittleEndian<std::uint32_t>(p))
                          : float(readLittleEndian<std::uint64_t>(p));
    }
    out.values[size_t(c)] = v;
  }
  return out;
}

Matrix parseJsonMatrix(std::string_view text, const std::string& name) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(jsonSyntaxError(name, e, e.byte));
  } catch (const nlohmann::json::exception& e) {
    // out_of_range 406 ("number overflow parsing '1e400'") carries no byte offset.
    const std::string what = e.what();
    throw Error(name + ": invalid JSON, " + what.substr(what.find("] ") + 2));
  }
  if (j.is_object() && j.contains("data")) j = j["data"];
  if (!j.is_array() || j.empty()) throw Error(name + ": expected a non-empty JSON array of rows");
  const bool oneD = !j[0].is_array();
  const long rows = long(j.size());
  const long cols = oneD ? 1 : long(j[0].size());
  checkShapeLimits(name, rows, cols);
  if (cols == 0) throw Error(name + ": row 0 is empty");
  Matrix m(rows, cols);
  const auto cell = [&](const nlohmann::json& v, long r, long c) {
    float f;
    if (v.is_boolean()) f = v.get<bool>() ? 1.0f : 0.0f;
    else if (v.is_number()) f = v.get<float>();
    else throw Error(name + ": [" + std::to_string(r) + "][" + std::to_string(c) + "] is not a number");
    if (!std::isfinite(f))
      throw Error(name + ": [" + std::to_string(r) + "][" + std::to_string(c) + "] is not a finite float32");
    return f;
  };
  for (long r = 0; r < rows; ++r) {
    if (oneD) { m(r, 0) = cell(j[r], r, 0); continue; }
    if (!j[r].is_array()) throw Error(name + ": row " + std::to_string(r) + " is not an array");
    if (long(j[r].size()) != cols)
      throw Error(name + ": row " + std::to_string(r) + " has " + std::to_string(j[r].size()) +
                  " values, but row 0 has " + std::to_string(cols));
    for (long c = 0; c < cols; ++c) m(r, c) = cell(j[r][c], r, c);
  }
  return m;
}

LoadedMatrix readMatrixFile(const std::string& path) {
  const std::string bytes = readFile(path);
  const std::string ext = lower(path.substr(path.find_last_of('.') == std::string::npos ? path.size()
                                                                                         : path.find_last_of('.')));
  if (ext == ".npy") return parseNpy(bytes, path);
  if (ext == ".json") return {parseJsonMatrix(bytes, path), 1};
  return {parseDelimitedText(bytes, path), 1};
}

MaskMatrix toMask(const Matrix& values, const std::string& name) {
  MaskMatrix mask(values.rows(), values.cols());
  for (Eigen::Index r = 0; r < values.rows(); ++r)
    for (Eigen::Index c = 0; c < values.cols(); ++c) {
      const float v = values(r, c);
      if (v != 0 && v != 1)
        throw Error(name + ": mask value at [" + std::to_string(r) + ", " + std::to_string(c) +
                    "] is " + std::to_string(v) + " (a mask holds 1 = attend or 0 = masked)");
      mask(r, c) = v != 0;
    }
  return mask;
}

MaskMatrix readMaskFile(const std::string& path) {
  const LoadedMatrix loaded = readMatrixFile(path);
  if (loaded.heads != 1) throw Error(path + ": a mask must be 2-D (n×m), not per head");
  return toMask(loaded.values, path);
}

namespace {

// A .npy of `shape` whose elements are `itemSize` bytes each, NumPy type `descr` ('<f4', '<f8').
std::string encodeNpyOf(const char* descr, const void* data, size_t itemSize, const std::vector<long>& shape) {
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  long count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    dict += (shape.size() == 1 || i + 1 < shape.size()) ? ", " : "";
    count *= shape[i];
  }
  if (!dict.empty() && dict.back() == ' ' && shape.size() > 1) dict.resize(dict.size() - 2);
  dict += "), }";
  // Pad so that magic + version + length + header is a multiple of 64, ending in '\n'.
  const size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(dict.size() & 0xFF);
  out += char(dict.size() >> 8);
  out += dict;
  out.append(reinterpret_cast<const char*>(data), size_t(count) * itemSize);
  return out;
}

}  // namespace

std::string encodeNpy(const float* data, const std::vector<long>& shape) {
  return encodeNpyOf("<f4", data, sizeof(float), shape);
}

std::string encodeNpy(const double* data, const std::vector<long>& shape) {
  return encodeNpyOf("<f8", data, sizeof(double), shape);
}

void writeNpy(const std::string& path, const float* data, const std::vector<long>& shape) {
  writeFileAtomic(path, encodeNpy(data, shape));
}

void writeNpy(const std::string& path, const double* data, const std::vector<long>& shape) {
  writeFileAtomic(path, encodeNpy(data, shape));
}

void writeCsv(const std::string& path, const Matrix& m) {
  std::string out;
  char buf[32];
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    for (Eigen::Index c = 0; c < m.cols(); ++c) {
      const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, m(r, c));
      out.append(buf, ptr);
      out += c + 1 < m.cols() ? ',' : '\n';
    }
  }
  writeFileAtomic(path, out);
}

}  // namespace attnviz
