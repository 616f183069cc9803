// Decoding, orienting, resizing and encoding 8-bit RGB pictures the way Pillow 9 does, so that
// what attnviz feeds a vision model is what transformers would have fed it.
//
// This file is compiled with -ffp-contract=off (engine/model/CMakeLists.txt): Pillow's filter
// weights are plain double arithmetic, and a fused multiply-add would round some of them
// differently, which can move a fixed-point weight by one and a pixel by one level.
#include "image.hpp"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

// libjpeg-turbo, the library Pillow decodes JPEG with. jpeglib.h needs FILE and size_t first.
#include <jerror.h>
#include <jpeglib.h>

#include "matrix_io.hpp"
#include "types.hpp"

namespace attnviz::model {
namespace {

// ---------------------------------------------------------------- containers and headers

enum class Format { Png, Jpeg };

const char* formatName(Format f) { return f == Format::Png ? "PNG" : "JPEG"; }

std::uint32_t bigEndian32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}
std::uint16_t bigEndian16(const std::uint8_t* p) { return std::uint16_t(p[0] << 8 | p[1]); }

std::optional<Format> sniffFormat(const std::uint8_t* data, std::size_t size) {
  static const std::uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::equal(png, png + 8, data)) return Format::Png;
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return Format::Jpeg;
  return std::nullopt;
}

struct Span {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};

// What a JPEG's markers tell before its pixels are decoded: the first APP1 Exif block (Pillow
// keeps the first).
struct JpegMarkers {
  Span exif;
};

JpegMarkers scanJpegMarkers(const std::uint8_t* data, std::size_t size) {
  JpegMarkers found;
  std::size_t pos = 2;  // after SOI
  while (pos + 4 <= size) {
    if (data[pos] != 0xff) break;  // not a marker: a corrupt file, which libjpeg reports
    const std::uint8_t marker = data[pos + 1];
    if (marker == 0xff) {  // fill byte before a marker
      ++pos;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {  // markers without a length
      pos += 2;
      continue;
    }
    if (marker == 0xd9) break;  // EOI before any scan
    const std::size_t length = bigEndian16(data + pos + 2);
    if (length < 2 || pos + 2 + length > size || marker == 0xda) break;  // the first scan: no more Exif
    const std::uint8_t* segment = data + pos + 4;
    const std::size_t segmentSize = length - 2;
    static const std::uint8_t exifTag[5] = {'E', 'x', 'i', 'f', 0};
    if (marker == 0xe1 && !found.exif.data && segmentSize >= 6 && std::equal(exifTag, exifTag + 5, segment))
      found.exif = {segment + 6, segmentSize - 6};  // "Exif\0\0", then a TIFF header
    pos += 2 + length;
  }
  return found;
}

// A PNG's chunks up to IEND: its declared size (IHDR, which must come first) and the first
// eXIf chunk (a TIFF header, without the JPEG "Exif\0\0" prefix).
struct PngChunks {
  std::uint32_t width = 0, height = 0;
  int colourType = -1;  // 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA
  bool hasHeader = false;
  Span exif;
};

PngChunks scanPngChunks(const std::uint8_t* data, std::size_t size) {
  PngChunks found;
  if (size >= 26 && std::equal(data + 12, data + 16, reinterpret_cast<const std::uint8_t*>("IHDR"))) {
    found.hasHeader = true;
    found.width = bigEndian32(data + 16);
    found.height = bigEndian32(data + 20);
    found.colourType = data[25];
  }
  std::size_t pos = 8;
  while (pos + 12 <= size) {
    const std::size_t length = bigEndian32(data + pos);
    const std::uint8_t* type = data + pos + 4;
    if (length > size - pos - 12) break;
    if (std::equal(type, type + 4, reinterpret_cast<const std::uint8_t*>("eXIf")) && !found.exif.data)
      found.exif = {data + pos + 8, length};
    if (std::equal(type, type + 4, reinterpret_cast<const std::uint8_t*>("IEND"))) break;
    pos += 12 + length;
  }
  return found;
}

// The Orientation tag (0x0112) of IFD0 of a TIFF-structured EXIF block; 1 (as stored) when it is
// missing, not a single SHORT or LONG, outside 1..8, or the block is unreadable. Pillow raises on
// an unreadable block; attnviz shows the picture as stored instead.
int exifOrientation(Span tiff) {
  const std::uint8_t* p = tiff.data;
  const std::size_t n = tiff.size;
  if (!p || n < 8) return 1;
  bool little;
  if (p[0] == 'I' && p[1] == 'I') little = true;
  else if (p[0] == 'M' && p[1] == 'M') little = false;
  else return 1;
  auto u16 = [&](std::size_t at) { return little ? std::uint32_t(p[at] | p[at + 1] << 8) : std::uint32_t(bigEndian16(p + at)); };
  auto u32 = [&](std::size_t at) {
    return little ? std::uint32_t(p[at]) | std::uint32_t(p[at + 1]) << 8 | std::uint32_t(p[at + 2]) << 16 |
                        std::uint32_t(p[at + 3]) << 24
                  : bigEndian32(p + at);
  };
  if (u16(2) != 42) return 1;
  const std::size_t ifd = u32(4);
  if (ifd > n - 2) return 1;
  const std::size_t entries = u16(ifd);
  for (std::size_t i = 0; i < entries; ++i) {
    const std::size_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > n) return 1;
    if (u16(entry) != 0x0112) continue;
    const std::uint32_t type = u16(entry + 2), count = u32(entry + 4);
    if (count != 1) return 1;
    const std::uint32_t value = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : 0;
    return value >= 1 && value <= 8 ? int(value) : 1;
  }
  return 1;
}

// ---------------------------------------------------------------- decoding

void checkDeclaredSize(const std::string& name, Format format, long width, long height) {
  const std::string declared = std::to_string(width) + "×" + std::to_string(height);
  if (width <= 0 || height <= 0)
    throw Error(name + ": the " + formatName(format) + " header declares a " + declared + " image (nothing to decode)");
  if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels)
    throw Error(name + ": the " + formatName(format) + " header declares " + declared + " pixels; attnviz decodes at most " +
                std::to_string(kMaxImageSide) + " pixels a side and " + std::to_string(kMaxImagePixels) + " in all");
}

[[noreturn]] void refuseCorrupt(const std::string& name, Format format) {
  const char* reason = stbi_failure_reason();
  throw Error(name + ": corrupt or truncated " + formatName(format) + " (stb_image: " + (reason ? reason : "unknown error") + ")");
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

// 8-bit files: stb converts to RGB as convert("RGB") does (grey replicated, alpha dropped,
// palettes expanded; 1, 2 and 4-bit grey scaled by 255, 85 and 17, as Pillow's L;1/L;2/L;4).
RgbImage decode8(const std::uint8_t* data, int size, const std::string& name, Format format) {
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<std::uint8_t, StbFree> pixels(stbi_load_from_memory(data, size, &width, &height, &channels, 3));
  if (!pixels) refuseCorrupt(name, format);
  RgbImage image{width, height, {}};
  image.pixels.assign(pixels.get(), pixels.get() + std::size_t(width) * height * 3);
  return image;
}

// 16-bit PNGs, reduced as Pillow 9 reduces them: the high byte of each sample (its RGB;16B,
// RGBA;16B and LA;16B unpackers), except plain grey, which Pillow opens as 32-bit mode "I" and
// convert("RGB") clips to 0..255 (values above 255 become white).
// `plainGrey`: the IHDR colour type is 0 (stb's channel count cannot tell: a tRNS chunk makes it
// report grey + alpha).
RgbImage decode16(const std::uint8_t* data, int size, const std::string& name, bool plainGrey) {
  int width = 0, height = 0, channelsInFile = 0;
  std::unique_ptr<std::uint16_t, StbFree> samples(
      stbi_load_16_from_memory(data, size, &width, &height, &channelsInFile, 4));  // RGBA; grey replicated
  if (!samples) refuseCorrupt(name, Format::Png);
  RgbImage image{width, height, std::vector<std::uint8_t>(std::size_t(width) * height * 3)};
  const std::uint16_t* in = samples.get();
  for (std::size_t i = 0, n = std::size_t(width) * height; i < n; ++i)
    for (int c = 0; c < 3; ++c) {
      const std::uint16_t v = in[i * 4 + c];
      image.pixels[i * 3 + c] = plainGrey ? std::uint8_t(std::min<std::uint16_t>(v, 255)) : std::uint8_t(v >> 8);
    }
  return image;
}

// ---------------------------------------------------------------- JPEG: libjpeg-turbo as Pillow drives it

// Pillow 9's JpegDecode.c and JpegImagePlugin.py: the SOF's component count picks the mode (1 "L",
// 3 "RGB", 4 "CMYK" read as "CMYK;I", i.e. inverted: Adobe's convention; anything else refused),
// the colour space stored in the file is libjpeg's own guess (JFIF, Adobe transform, component
// ids), the output colour space is grey, RGB or CMYK, and everything else is libjpeg's default:
// the accurate integer IDCT (JDCT_ISLOW), fancy (triangular) chroma upsampling, block smoothing,
// no scaling. Warnings (corrupt entropy data, extraneous bytes, a premature marker) are ignored
// and the picture libjpeg recovers is kept, as Pillow keeps it.
//
// Errors: libjpeg's error_exit longjmps back to the setjmp in jpegReadHeader / jpegReadPixels.
// Only libjpeg's C frames and the C-style callbacks below lie between the two, and those
// functions hold no object with a destructor, so nothing is skipped; the decompressor itself is
// freed by JpegSession's destructor (jpeg_destroy_decompress releases every pool libjpeg has).
// No C++ exception is thrown while a libjpeg frame is on the stack.

// At most this many scans (libjpeg-turbo's TurboJPEG limit against a progressive JPEG whose
// thousands of tiny scans take minutes to decode; real files have about ten). Pillow has no limit.
constexpr int kMaxJpegScans = 500;

struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

// The whole file in memory. Running past its end is what Pillow's suspending source would report
// as "image file is truncated": libjpeg is handed a fake EOI (as jpeg_mem_src does) so that it
// returns, and `reachedEnd` records it.
struct JpegSource {
  jpeg_source_mgr pub;
  const std::uint8_t* data;
  std::size_t size;
  bool reachedEnd;
};

struct JpegSession {
  jpeg_decompress_struct cinfo;
  JpegErrorManager error;
  JpegSource source;
  jpeg_progress_mgr progress;
  bool created;
  bool allRowsRead;  // set before jpeg_finish_decompress
  JpegSession() {
    std::memset(static_cast<void*>(this), 0, sizeof(*this));  // plain C structs; cinfo.mem == NULL until created
  }
  JpegSession(const JpegSession&) = delete;
  JpegSession& operator=(const JpegSession&) = delete;
  ~JpegSession() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

void jpegErrorExit(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, error->message);
  std::longjmp(error->jump, 1);
}

void jpegSilent(j_common_ptr) {}  // Pillow's output_message: warnings are not printed

void jpegInitSource(j_decompress_ptr) {}

boolean jpegFillInputBuffer(j_decompress_ptr cinfo) {
  static const JOCTET fakeEoi[2] = {0xff, JPEG_EOI};
  auto* source = reinterpret_cast<JpegSource*>(cinfo->src);
  source->reachedEnd = true;
  WARNMS(cinfo, JWRN_JPEG_EOF);
  source->pub.next_input_byte = fakeEoi;
  source->pub.bytes_in_buffer = 2;
  return TRUE;
}

void jpegSkipInputData(j_decompress_ptr cinfo, long count) {
  jpeg_source_mgr* source = cinfo->src;
  if (count <= 0) return;
  while (count > long(source->bytes_in_buffer)) {
    count -= long(source->bytes_in_buffer);
    (void)(*source->fill_input_buffer)(cinfo);
  }
  source->next_input_byte += std::size_t(count);
  source->bytes_in_buffer -= std::size_t(count);
}

void jpegTermSource(j_decompress_ptr) {}

void jpegProgress(j_common_ptr cinfo) {
  auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (decompress->input_scan_number <= kMaxJpegScans) return;
  auto* error = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  std::snprintf(error->message, sizeof error->message, "more than %d scans", kMaxJpegScans);
  std::longjmp(error->jump, 1);
}

// Creates the decompressor and reads the markers up to the first scan. False: libjpeg failed,
// session->error.message says why.
bool jpegReadHeader(JpegSession* session, const std::uint8_t* data, std::size_t size) {
  jpeg_decompress_struct* cinfo = &session->cinfo;
  cinfo->err = jpeg_std_error(&session->error.pub);
  session->error.pub.error_exit = jpegErrorExit;
  session->error.pub.output_message = jpegSilent;
  if (setjmp(session->error.jump)) return false;
  session->created = true;  // destroying a zeroed or half-created decompressor is safe
  jpeg_create_decompress(cinfo);
  session->source.pub.init_source = jpegInitSource;
  session->source.pub.fill_input_buffer = jpegFillInputBuffer;
  session->source.pub.skip_input_data = jpegSkipInputData;
  session->source.pub.resync_to_restart = jpeg_resync_to_restart;
  session->source.pub.term_source = jpegTermSource;
  session->source.pub.next_input_byte = data;
  session->source.pub.bytes_in_buffer = size;
  session->source.data = data;
  session->source.size = size;
  cinfo->src = &session->source.pub;
  session->progress.progress_monitor = jpegProgress;
  cinfo->progress = &session->progress;
  jpeg_read_header(cinfo, TRUE);
  return true;
}

// Decodes every row into `out` (output_height rows of output_width · output_components bytes,
// allocated by the caller from the header). False: libjpeg failed or the data ended first.
bool jpegReadPixels(JpegSession* session, std::uint8_t* out, std::size_t rowBytes) {
  jpeg_decompress_struct* cinfo = &session->cinfo;
  if (setjmp(session->error.jump)) return false;
  jpeg_start_decompress(cinfo);  // a progressive or multi-scan file is read to its end here
  if (std::size_t(cinfo->output_width) * std::size_t(cinfo->output_components) != rowBytes) {
    std::snprintf(session->error.message, sizeof session->error.message, "unexpected output size");
    return false;
  }
  while (cinfo->output_scanline < cinfo->output_height) {
    if (session->source.reachedEnd) return false;
    JSAMPROW row = out + std::size_t(cinfo->output_scanline) * rowBytes;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  if (session->source.reachedEnd) return false;
  // Every row is there. Pillow stops here if the data ends before EOI; libjpeg sees the fake EOI.
  session->allRowsRead = true;
  jpeg_finish_decompress(cinfo);
  return true;
}

std::uint8_t mulDiv255(int a, int b) {  // Pillow's MULDIV255: a · b / 255, rounded
  const int t = a * b + 128;
  return std::uint8_t(((t >> 8) + t) >> 8);
}

RgbImage decodeJpeg(const std::uint8_t* data, std::size_t size, const std::string& name) {
  auto session = std::make_unique<JpegSession>();
  const auto refuse = [&]() -> Error {
    if (session->source.reachedEnd)
      return Error(name + ": truncated JPEG (the data ends before the image does)");
    return Error(name + ": corrupt JPEG (libjpeg: " + session->error.message + ")");
  };
  if (!jpegReadHeader(session.get(), data, size) || session->source.reachedEnd) throw refuse();
  jpeg_decompress_struct& cinfo = session->cinfo;
  checkDeclaredSize(name, Format::Jpeg, long(cinfo.image_width), long(cinfo.image_height));
  switch (cinfo.num_components) {
    case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo.out_color_space = JCS_RGB; break;
    case 4: cinfo.out_color_space = JCS_CMYK; break;
    default:
      throw Error(name + ": a JPEG with " + std::to_string(cinfo.num_components) +
                  " components (Pillow and attnviz read 1, 3 or 4)");
  }
  const int channels = cinfo.num_components;
  const std::size_t width = cinfo.image_width, height = cinfo.image_height;
  std::vector<std::uint8_t> samples(width * height * std::size_t(channels));
  if (!jpegReadPixels(session.get(), samples.data(), width * std::size_t(channels)) &&
      !(session->allRowsRead && session->source.reachedEnd))
    throw refuse();

  RgbImage image{int(width), int(height), {}};
  if (channels == 3) {
    image.pixels = std::move(samples);
    return image;
  }
  image.pixels.resize(width * height * 3);
  for (std::size_t i = 0, n = width * height; i < n; ++i) {
    std::uint8_t* rgb = &image.pixels[i * 3];
    if (channels == 1) {
      rgb[0] = rgb[1] = rgb[2] = samples[i];  // convert("RGB") of "L"
      continue;
    }
    // "CMYK;I" stores 255 - each sample; convert("RGB") then gives, per channel,
    // nk - MULDIV255(c, nk) with nk = 255 - k: here k' - MULDIV255(255 - c', k') in libjpeg's samples.
    const std::uint8_t* cmyk = &samples[i * 4];
    const int k = cmyk[3];
    for (int c = 0; c < 3; ++c) rgb[c] = std::uint8_t(k - mulDiv255(255 - cmyk[c], k));
  }
  return image;
}

// Pillow's Image.transpose for the EXIF orientations, as exif_transpose picks them:
// 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270 (a quarter turn
// clockwise), 7 TRANSVERSE, 8 ROTATE_90 (a quarter turn anticlockwise).
RgbImage applyOrientation(const RgbImage& in, int orientation) {
  if (orientation <= 1 || orientation > 8) return in;
  const int w = in.width, h = in.height;
  const bool swapsAxes = orientation >= 5;
  RgbImage out{swapsAxes ? h : w, swapsAxes ? w : h, std::vector<std::uint8_t>(in.pixels.size())};
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;  // the source pixel that lands on (x, y)
      switch (orientation) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        case 8: sx = w - 1 - y; sy = x; break;
      }
      const std::uint8_t* src = &in.pixels[(std::size_t(sy) * w + sx) * 3];
      std::copy(src, src + 3, &out.pixels[(std::size_t(y) * out.width + x) * 3]);
    }
  return out;
}

// ---------------------------------------------------------------- Pillow's resampling

// Pillow's fixed point: 8 bits of result and 2 bits of headroom for the negative lobes and the
// overshoot of bicubic weights, in a 32-bit accumulator.
constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinearWeight(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic convolution with a = -0.5, each term evaluated in the order Pillow evaluates it.
double bicubicWeight(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Filter {
  double support;
  double (*weight)(double);
};

// One axis of a resize: for each output pixel, the first input pixel it reads, how many it
// reads, and their weights in fixed point (`taps` slots per output pixel).
struct AxisWeights {
  int taps = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weights;
};

std::int32_t toFixedPoint(double w) {
  const double scaled = w * (1 << kPrecisionBits);
  return std::int32_t(w < 0 ? -0.5 + scaled : 0.5 + scaled);  // rounds half away from zero, as Pillow
}

AxisWeights axisWeights(int inSize, int outSize, const Filter& filter) {
  // Pillow hands the source box to the resampler as floats; in - 0.0f is exact here.
  const double scale = double(float(inSize)) / outSize;
  // Shrinking stretches the filter over `scale` input pixels so that every input pixel counts
  // (an antialiasing filter); enlarging keeps it at its own width.
  const double filterScale = std::max(scale, 1.0);
  const double support = filter.support * filterScale;
  const double inverseFilterScale = 1.0 / filterScale;
  AxisWeights axis;
  axis.taps = int(std::ceil(support)) * 2 + 1;
  axis.first.resize(std::size_t(outSize));
  axis.count.resize(std::size_t(outSize));
  axis.weights.assign(std::size_t(outSize) * axis.taps, 0);
  std::vector<double> w(std::size_t(axis.taps));
  for (int i = 0; i < outSize; ++i) {
    const double center = (i + 0.5) * scale;
    const int first = std::max(int(center - support + 0.5), 0);  // int() truncates, as Pillow's cast
    const int count = std::min(int(center + support + 0.5), inSize) - first;
    double sum = 0.0;
    for (int t = 0; t < count; ++t) {
      w[std::size_t(t)] = filter.weight((t + first - center + 0.5) * inverseFilterScale);
      sum += w[std::size_t(t)];
    }
    for (int t = 0; t < count; ++t) {
      const double normalised = sum != 0.0 ? w[std::size_t(t)] / sum : w[std::size_t(t)];
      axis.weights[std::size_t(i) * axis.taps + t] = toFixedPoint(normalised);
    }
    axis.first[std::size_t(i)] = first;
    axis.count[std::size_t(i)] = count;
  }
  return axis;
}

// Back to 8 bits: the accumulator started at one half, so the shift rounds; Pillow clips through
// a table that is exactly this clamp.
std::uint8_t clip8(std::int32_t accumulator) {
  return std::uint8_t(std::clamp(accumulator >> kPrecisionBits, 0, 255));
}

// The horizontal pass over rows [firstRow, firstRow + rows) of `in` (only those the vertical
// pass reads). The products cannot overflow: |weights| sum to less than 1.25 · 2^22, times 255.
RgbImage resampleRows(const RgbImage& in, int firstRow, int rows, const AxisWeights& x, int outWidth) {
  RgbImage out{outWidth, rows, std::vector<std::uint8_t>(std::size_t(outWidth) * rows * 3)};
  for (int y = 0; y < rows; ++y) {
    const std::uint8_t* row = &in.pixels[std::size_t(firstRow + y) * in.width * 3];
    for (int ox = 0; ox < outWidth; ++ox) {
      const std::int32_t* k = &x.weights[std::size_t(ox) * x.taps];
      const std::uint8_t* src = row + std::size_t(x.first[std::size_t(ox)]) * 3;
      std::int32_t acc[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
      for (int t = 0; t < x.count[std::size_t(ox)]; ++t)
        for (int c = 0; c < 3; ++c) acc[c] += src[t * 3 + c] * k[t];
      for (int c = 0; c < 3; ++c) out.pixels[(std::size_t(y) * outWidth + ox) * 3 + c] = clip8(acc[c]);
    }
  }
  return out;
}

// The vertical pass; `rowOffset` is the first source row `in` holds.
RgbImage resampleColumns(const RgbImage& in, int rowOffset, const AxisWeights& y, int outHeight) {
  RgbImage out{in.width, outHeight, std::vector<std::uint8_t>(std::size_t(in.width) * outHeight * 3)};
  const std::size_t stride = std::size_t(in.width) * 3;
  for (int oy = 0; oy < outHeight; ++oy) {
    const std::int32_t* k = &y.weights[std::size_t(oy) * y.taps];
    const std::uint8_t* top = &in.pixels[std::size_t(y.first[std::size_t(oy)] - rowOffset) * stride];
    for (std::size_t i = 0; i < stride; ++i) {
      std::int32_t acc = 1 << (kPrecisionBits - 1);
      for (int t = 0; t < y.count[std::size_t(oy)]; ++t) acc += top[t * stride + i] * k[t];
      out.pixels[std::size_t(oy) * stride + i] = clip8(acc);
    }
  }
  return out;
}

RgbImage resizeConvolution(const RgbImage& in, int width, int height, const Filter& filter) {
  const AxisWeights x = axisWeights(in.width, width, filter);
  const AxisWeights y = axisWeights(in.height, height, filter);
  // Pillow always runs the horizontal pass first, and skips a pass whose size does not change.
  if (width == in.width) return resampleColumns(in, 0, y, height);
  const int firstRow = y.first.front();
  const int endRow = y.first.back() + y.count.back();
  RgbImage rows = resampleRows(in, firstRow, endRow - firstRow, x, width);
  if (height == in.height) return rows;
  return resampleColumns(rows, firstRow, y, height);
}

// Pillow's nearest-neighbour resize is an affine scaling: the source coordinate of output
// pixel i is accumulated (start at step / 2, add step per pixel) and truncated.
std::vector<int> nearestSources(int inSize, int outSize) {
  const double step = double(float(inSize)) / outSize;
  std::vector<int> sources(static_cast<std::size_t>(outSize));
  double at = step * 0.5;
  for (int i = 0; i < outSize; ++i, at += step) sources[std::size_t(i)] = at < 0.0 ? -1 : int(at);
  return sources;
}

RgbImage resizeNearest(const RgbImage& in, int width, int height) {
  const std::vector<int> sx = nearestSources(in.width, width), sy = nearestSources(in.height, height);
  RgbImage out{width, height, std::vector<std::uint8_t>(std::size_t(width) * height * 3, 0)};
  for (int y = 0; y < height; ++y) {
    if (sy[std::size_t(y)] < 0 || sy[std::size_t(y)] >= in.height) continue;  // Pillow leaves such pixels 0
    for (int x = 0; x < width; ++x) {
      if (sx[std::size_t(x)] < 0 || sx[std::size_t(x)] >= in.width) continue;
      const std::uint8_t* src = &in.pixels[(std::size_t(sy[std::size_t(y)]) * in.width + sx[std::size_t(x)]) * 3];
      std::copy(src, src + 3, &out.pixels[(std::size_t(y) * width + x) * 3]);
    }
  }
  return out;
}

void appendBytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), std::size_t(size));
}

}  // namespace

RgbImage decodeImage(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (size == 0) throw Error(name + ": empty file (not an image)");
  const std::optional<Format> format = sniffFormat(data, size);
  if (!format) throw Error(name + ": not a PNG or JPEG image");
  if (size > std::size_t(INT_MAX)) throw Error(name + ": larger than 2 GiB; attnviz decodes smaller images");
  const int length = int(size);

  Span exif;
  bool plainGrey = false;
  if (*format == Format::Png) {
    const PngChunks chunks = scanPngChunks(data, size);
    if (!chunks.hasHeader) throw Error(name + ": corrupt PNG (no IHDR header chunk)");
    checkDeclaredSize(name, *format, long(chunks.width), long(chunks.height));
    exif = chunks.exif;
    plainGrey = chunks.colourType == 0;
  } else {
    // libjpeg reads the header and attnviz checks the declared size before any pixel is decoded.
    const RgbImage stored = decodeJpeg(data, size, name);
    return applyOrientation(stored, exifOrientation(scanJpegMarkers(data, size).exif));
  }

  stbi_set_flip_vertically_on_load_thread(0);
  const bool sixteenBit = stbi_is_16_bit_from_memory(data, length);
  const RgbImage stored = sixteenBit ? decode16(data, length, name, plainGrey) : decode8(data, length, name, *format);
  return applyOrientation(stored, exifOrientation(exif));
}

RgbImage decodeImageFile(const std::string& path) {
  const std::string bytes = readFile(path);
  return decodeImage(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), path);
}

const char* resampleName(Resample r) {
  switch (r) {
    case Resample::Nearest: return "nearest";
    case Resample::Bilinear: return "bilinear";
    case Resample::Bicubic: return "bicubic";
  }
  return "?";
}

RgbImage resizeLikePillow(const RgbImage& image, int width, int height, Resample resample) {
  if (width < 1 || height < 1 || width > kMaxImageSide || height > kMaxImageSide)
    throw Error("cannot resize to " + std::to_string(width) + "×" + std::to_string(height) + " (sides from 1 to " +
                std::to_string(kMaxImageSide) + ")");
  if (image.width < 1 || image.height < 1) throw Error("cannot resize an empty image");
  if (width == image.width && height == image.height) return image;  // Image.resize returns a copy
  switch (resample) {
    case Resample::Nearest: return resizeNearest(image, width, height);
    case Resample::Bilinear: return resizeConvolution(image, width, height, {1.0, bilinearWeight});
    case Resample::Bicubic: return resizeConvolution(image, width, height, {2.0, bicubicWeight});
  }
  throw Error("unknown resampling filter " + std::to_string(int(resample)));
}

std::string encodePng(const RgbImage& image) {
  // stb keeps these in globals: set them on every call (as the figure code does).
  stbi_write_png_compression_level = 6;
  stbi_write_force_png_filter = -1;
  std::string out;
  if (!stbi_write_png_to_func(appendBytes, &out, image.width, image.height, 3, image.pixels.data(), image.width * 3))
    throw Error("PNG encoding failed");
  return out;
}

void writePngFile(const std::string& path, const RgbImage& image) { writeFileAtomic(path, encodePng(image)); }

}  // namespace attnviz::model
