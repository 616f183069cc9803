#pragma once
// 8-bit RGB pictures for the vision models: decoding (PNG, JPEG) as transformers' load_image
// sees a file (Pillow: EXIF orientation applied, then convert("RGB")), Pillow's Image.resize,
// and PNG output. No GL, no ImGui.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace attnviz::model {

// 8-bit RGB, row-major, 3 bytes a pixel.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;
};

// Sizes refused from a file's header, before anything is decoded or allocated.
inline constexpr int kMaxImageSide = 16384;
inline constexpr long kMaxImagePixels = 1L << 28;

// A PNG or JPEG file as Pillow 9 opens it and converts it to RGB:
//   grey, grey+alpha, RGB, RGBA, palette (with or without tRNS): alpha dropped, not blended
//   (convert("RGB")); 1, 2 and 4-bit grey scaled to 0..255.
//   16-bit RGB, RGBA and grey+alpha: the high byte of each sample (Pillow's RGB;16B, RGBA;16B and
//   LA;16B unpackers). 16-bit grey: Pillow opens it as mode "I" (32-bit integers) and
//   convert("RGB") clips each value to 0..255, so every sample above 255 becomes white; attnviz
//   does the same, because that is what transformers' load_image hands the processor.
//   JPEG: decoded by libjpeg-turbo with the settings Pillow's decoder uses (accurate integer
//   IDCT, fancy upsampling, libjpeg's own colour-space guess), so the pixels are Pillow's to the
//   bit: 1 component grey (replicated), 3 RGB, 4 CMYK taken as Adobe-inverted and converted as
//   convert("RGB") does. Data that libjpeg decodes with only warnings (corrupt entropy-coded
//   bytes, a premature marker) decodes, as in Pillow; data that ends before the last row does is
//   refused as truncated (Pillow: "image file is truncated").
//   EXIF orientation (JPEG APP1 "Exif", PNG eXIf; tags 2-8) applied as
//   PIL.ImageOps.exif_transpose does; a missing, out-of-range or unreadable tag changes nothing.
// Throws Error with one line naming the file: not a PNG or JPEG, a header declaring 0 or more
// than kMaxImageSide / kMaxImagePixels (checked before decoding), corrupt or truncated data.
RgbImage decodeImageFile(const std::string& path);
RgbImage decodeImage(const std::uint8_t* data, std::size_t size, const std::string& name);

// PIL's numbers for its resampling filters (Image.Resampling).
enum class Resample { Nearest = 0, Bilinear = 2, Bicubic = 3 };
const char* resampleName(Resample r);  // "nearest", "bilinear", "bicubic"

// Pillow's Image.resize((width, height), resample) on an RGB image, to the bit: for bilinear
// and bicubic (a = -0.5) its separable convolution (libImaging/Resample.c: the filter's support
// widened by the scale when shrinking, weights normalised to sum 1 and rounded to 22-bit fixed
// point, the horizontal pass first, rounded and clipped to 8 bits before the vertical pass);
// for nearest its affine scaling (source pixel = int((x + 0.5) · in/out), accumulated as
// Pillow accumulates it). The same size returns a copy. Sizes must be 1..kMaxImageSide.
RgbImage resizeLikePillow(const RgbImage& image, int width, int height, Resample resample);

// PNG bytes (stb_image_write) and a PNG file written atomically; throw Error naming the path.
std::string encodePng(const RgbImage& image);
void writePngFile(const std::string& path, const RgbImage& image);

}  // namespace attnviz::model
