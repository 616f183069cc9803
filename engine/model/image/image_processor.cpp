// preprocessor_config.json and the steps it names, as transformers' PIL-based image processors
// (image_processing_vit.py, image_processing_deit.py, image_processing_bit.py; image_transforms.py
// for resize, center_crop, rescale and normalize; image_processing_utils.get_size_dict for the
// forms `size` takes) compute them.
#include "image_processor.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "config_json.hpp"
#include "matrix_io.hpp"
#include "types.hpp"

namespace attnviz::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------- the processors and their defaults

enum class Kind { Vit, Deit, Bit };

// The class names a preprocessor_config.json may give (image_processor_type, or
// feature_extractor_type in files written before image processors existed). The fast
// (torchvision) variants read the same keys; attnviz computes what the PIL-based ones compute.
std::optional<Kind> kindOfTypeName(const std::string& type) {
  if (type == "ViTImageProcessor" || type == "ViTImageProcessorFast" || type == "ViTFeatureExtractor") return Kind::Vit;
  if (type == "DeiTImageProcessor" || type == "DeiTImageProcessorFast" || type == "DeiTFeatureExtractor") return Kind::Deit;
  if (type == "BitImageProcessor" || type == "BitImageProcessorFast") return Kind::Bit;
  return std::nullopt;
}

constexpr std::array<double, 3> kImagenetStandard = {0.5, 0.5, 0.5};  // IMAGENET_STANDARD_MEAN and _STD
constexpr std::array<double, 3> kOpenAiClipMean = {0.48145466, 0.4578275, 0.40821073};
constexpr std::array<double, 3> kOpenAiClipStd = {0.26862954, 0.26130258, 0.27577711};

// The processors' __init__ defaults in transformers.
ImageProcessor defaultsOf(Kind kind) {
  ImageProcessor p;
  p.doResize = p.doRescale = p.doNormalize = true;
  p.rescaleFactor = 1.0 / 255;
  switch (kind) {
    case Kind::Vit:
      p.type = "ViTImageProcessor";
      p.height = p.width = 224;
      p.resample = Resample::Bilinear;
      p.mean = p.std = kImagenetStandard;
      break;
    case Kind::Deit:
      p.type = "DeiTImageProcessor";
      p.height = p.width = 256;
      p.resample = Resample::Bicubic;
      p.doCenterCrop = true;
      p.cropHeight = p.cropWidth = 224;
      p.mean = p.std = kImagenetStandard;
      break;
    case Kind::Bit:
      p.type = "BitImageProcessor";
      p.shortestEdge = 224;
      p.resample = Resample::Bicubic;
      p.doCenterCrop = true;
      p.cropHeight = p.cropWidth = 224;
      p.mean = kOpenAiClipMean;
      p.std = kOpenAiClipStd;
      break;
  }
  return p;
}

// ---------------------------------------------------------------- reading keys

std::string quoted(const char* key) { return std::string("\"") + key + "\""; }

int sizeValue(const json& v, const char* key, const std::string& name) {
  if (!v.is_number_integer() || v.get<long>() < 1 || v.get<long>() > kMaxImageSide)
    throw Error(name + ": " + quoted(key) + " sizes must be integers from 1 to " + std::to_string(kMaxImageSide) +
                " (got " + v.dump() + ")");
  return int(v.get<long>());
}

// A size as transformers' get_size_dict reads it: a number (a square when `squareByDefault`,
// otherwise the shortest edge), a list [height, width], or a dict of exactly {height, width} or
// {shortest_edge}. Other dicts (longest_edge, max_height, ...) belong to other processors.
struct SizeSpec {
  int height = 0, width = 0, shortestEdge = 0;
};

std::optional<SizeSpec> readSize(const json& j, const char* key, bool squareByDefault, const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  const json& v = *it;
  SizeSpec s;
  if (v.is_number()) {
    const int n = sizeValue(v, key, name);
    if (squareByDefault) s.height = s.width = n;
    else s.shortestEdge = n;
    return s;
  }
  if (v.is_array() && v.size() == 2) {
    s.height = sizeValue(v[0], key, name);
    s.width = sizeValue(v[1], key, name);
    return s;
  }
  if (v.is_object() && v.size() == 2 && v.contains("height") && v.contains("width")) {
    s.height = sizeValue(v["height"], key, name);
    s.width = sizeValue(v["width"], key, name);
    return s;
  }
  if (v.is_object() && v.size() == 1 && v.contains("shortest_edge")) {
    s.shortestEdge = sizeValue(v["shortest_edge"], key, name);
    return s;
  }
  throw Error(name + ": " + quoted(key) + " " + v.dump() +
              " is not supported (attnviz reads {\"height\", \"width\"}, {\"shortest_edge\"}, [height, width] or a number)");
}

Resample readResample(const json& j, Resample byDefault, const std::string& name) {
  const auto it = j.find("resample");
  if (it == j.end() || it->is_null()) return byDefault;
  if (!it->is_number_integer()) throw Error(name + ": \"resample\" must be a PIL filter number (got " + it->dump() + ")");
  switch (it->get<long>()) {
    case 0: return Resample::Nearest;
    case 2: return Resample::Bilinear;
    case 3: return Resample::Bicubic;
    case 1: case 4: case 5: {
      static const char* names[] = {"", "LANCZOS", "", "", "BOX", "HAMMING"};
      throw Error(name + ": \"resample\": " + std::to_string(it->get<long>()) + " (" + names[it->get<long>()] +
                  ") is not supported (attnviz implements 0 nearest, 2 bilinear and 3 bicubic)");
    }
    default:
      throw Error(name + ": \"resample\": " + it->dump() + " is not a PIL resampling filter (0 to 5)");
  }
}

double finiteNumber(const json& v, const char* key, const std::string& name) {
  if (!v.is_number() || !std::isfinite(v.get<double>()))
    throw Error(name + ": " + quoted(key) + " must hold finite numbers (got " + v.dump() + ")");
  return v.get<double>();
}

// image_mean / image_std: one number for every channel, or one per channel (RGB).
std::array<double, 3> readPerChannel(const json& j, const char* key, const std::array<double, 3>& byDefault,
                                     const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return byDefault;
  if (it->is_number()) {
    const double v = finiteNumber(*it, key, name);
    return {v, v, v};
  }
  if (!it->is_array() || it->size() != 3)
    throw Error(name + ": " + quoted(key) + " must be a number or a list of 3 (one per RGB channel; got " + it->dump() + ")");
  return {finiteNumber((*it)[0], key, name), finiteNumber((*it)[1], key, name), finiteNumber((*it)[2], key, name)};
}

std::string typeNameIn(const json& j, const std::string& name) {
  for (const char* key : {"image_processor_type", "feature_extractor_type"}) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) throw Error(name + ": " + quoted(key) + " must be a string (got " + it->dump() + ")");
    return it->get<std::string>();
  }
  return "";
}

// ---------------------------------------------------------------- the steps

int floorHalf(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

// transformers' center_crop: top = (H - h) // 2 and left likewise (floor division); where the
// image is smaller than the crop it is first padded with zeros, centred (ceil of half the
// difference before it), which amounts to reading black outside the image.
RgbImage centreCrop(const RgbImage& in, int height, int width) {
  const int top = floorHalf(in.height - height), left = floorHalf(in.width - width);
  RgbImage out{width, height, std::vector<std::uint8_t>(std::size_t(width) * height * 3, 0)};
  for (int y = 0; y < height; ++y) {
    const int sy = y + top;
    if (sy < 0 || sy >= in.height) continue;
    for (int x = 0; x < width; ++x) {
      const int sx = x + left;
      if (sx < 0 || sx >= in.width) continue;
      const std::uint8_t* src = &in.pixels[(std::size_t(sy) * in.width + sx) * 3];
      std::copy(src, src + 3, &out.pixels[(std::size_t(y) * width + x) * 3]);
    }
  }
  return out;
}

std::string decimal(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "?";
}

std::string triple(const std::array<double, 3>& v) {
  std::string s = "(";
  for (std::size_t c = 0; c < 3; ++c) s += (c ? ", " : "") + decimal(v[c]);
  return s + ")";
}

std::string dims(int width, int height) { return std::to_string(width) + "×" + std::to_string(height); }

}  // namespace

std::pair<int, int> ImageProcessor::resizedSize(int imageHeight, int imageWidth) const {
  if (!doResize) return {imageHeight, imageWidth};
  if (shortestEdge <= 0) return {height, width};
  // get_resize_output_image_size(default_to_square=False): the short side becomes the requested
  // length and the long side int(requested * long / short), a float division then truncation.
  const bool portrait = imageWidth <= imageHeight;
  const int shortSide = portrait ? imageWidth : imageHeight, longSide = portrait ? imageHeight : imageWidth;
  const double scaledLong = double(long(shortestEdge) * longSide) / shortSide;
  if (scaledLong >= kMaxImageSide + 1.0)
    throw Error("resizing a " + dims(imageWidth, imageHeight) + " image to shortest edge " + std::to_string(shortestEdge) +
                " would make its long side " + decimal(std::floor(scaledLong)) + " pixels (attnviz's limit is " +
                std::to_string(kMaxImageSide) + ")");
  const int newLong = int(scaledLong);
  return portrait ? std::pair{newLong, shortestEdge} : std::pair{shortestEdge, newLong};
}

RgbImage ImageProcessor::resizeAndCrop(const RgbImage& image) const {
  RgbImage out = image;
  if (doResize) {
    const auto [h, w] = resizedSize(image.height, image.width);
    out = resizeLikePillow(image, w, h, resample);
  }
  if (doCenterCrop) out = centreCrop(out, cropHeight, cropWidth);
  return out;
}

PixelTensor ImageProcessor::rescaleAndNormalise(const RgbImage& resized) const {
  PixelTensor t;
  t.channels = 3;
  t.height = resized.height;
  t.width = resized.width;
  const std::size_t plane = std::size_t(t.height) * t.width;
  t.values.resize(3 * plane);
  // transformers: rescale multiplies in float64 and casts to float32; normalize casts mean and
  // std to the image's float32 and subtracts and divides in float32.
  std::array<float, 3> mean32{}, std32{};
  for (int c = 0; c < 3; ++c) {
    mean32[std::size_t(c)] = float(mean[std::size_t(c)]);
    std32[std::size_t(c)] = float(std[std::size_t(c)]);
  }
  for (std::size_t i = 0; i < plane; ++i)
    for (std::size_t c = 0; c < 3; ++c) {
      const std::uint8_t v = resized.pixels[i * 3 + c];
      float x = doRescale ? float(double(v) * rescaleFactor) : float(v);
      if (doNormalize) x = (x - mean32[c]) / std32[c];
      t.values[c * plane + i] = x;
    }
  return t;
}

PixelTensor ImageProcessor::preprocess(const RgbImage& image) const { return rescaleAndNormalise(resizeAndCrop(image)); }

std::string ImageProcessor::json() const {
  nlohmann::ordered_json j;
  j["image_processor_type"] = type;
  j["from_file"] = fromFile;
  j["do_resize"] = doResize;
  if (doResize) {
    if (shortestEdge > 0) j["size"] = {{"shortest_edge", shortestEdge}};
    else j["size"] = {{"height", height}, {"width", width}};
    j["resample"] = int(resample);
    j["resample_name"] = resampleName(resample);
  }
  j["do_center_crop"] = doCenterCrop;
  if (doCenterCrop) j["crop_size"] = {{"height", cropHeight}, {"width", cropWidth}};
  j["do_rescale"] = doRescale;
  if (doRescale) j["rescale_factor"] = rescaleFactor;
  j["do_normalize"] = doNormalize;
  if (doNormalize) {
    j["image_mean"] = mean;
    j["image_std"] = std;
  }
  return j.dump();
}

std::string ImageProcessor::summary() const {
  std::string s;
  if (!doResize) s = "no resize";
  else if (shortestEdge > 0) s = "resize shortest edge " + std::to_string(shortestEdge) + " " + resampleName(resample);
  else s = "resize " + dims(width, height) + " " + resampleName(resample);
  if (doCenterCrop) s += ", centre crop " + dims(cropWidth, cropHeight);
  if (!doRescale) s += ", no rescale";
  else if (rescaleFactor == 1.0 / 255) s += ", rescale 1/255";
  else s += ", rescale ×" + decimal(rescaleFactor);
  if (doNormalize) s += ", normalise mean " + triple(mean) + " std " + triple(std);
  else s += ", no normalisation";
  return s;
}

ImageProcessor parseImageProcessor(const std::string& text, const std::string& name, ProcessorDefaults defaults) {
  const json j = config_json::parseObject(text, name);
  const std::string typeName = typeNameIn(j, name);
  Kind kind = defaults == ProcessorDefaults::Bit ? Kind::Bit : Kind::Vit;
  if (!typeName.empty()) {
    const std::optional<Kind> named = kindOfTypeName(typeName);
    if (!named)
      throw Error(name + ": image processor \"" + typeName +
                  "\" is not one attnviz implements (ViTImageProcessor, DeiTImageProcessor, BitImageProcessor)");
    kind = *named;
  }
  ImageProcessor p = defaultsOf(kind);
  if (!typeName.empty()) p.type = typeName;
  p.fromFile = true;

  p.doResize = config_json::flag(j, "do_resize", p.doResize, name);
  // ViT and DeiT read a bare number as a square, Bit as the shortest edge (get_size_dict's
  // default_to_square); ViT and DeiT resize to a height and width only.
  if (const auto size = readSize(j, "size", kind != Kind::Bit, name)) {
    if (size->shortestEdge > 0 && kind != Kind::Bit)
      throw Error(name + ": \"size\" {\"shortest_edge\"} is not supported by " + p.type + " (it resizes to {\"height\", \"width\"})");
    p.height = size->height;
    p.width = size->width;
    p.shortestEdge = size->shortestEdge;
  }
  p.resample = readResample(j, p.resample, name);

  // ViTImageProcessor has no centre crop: transformers ignores do_center_crop and crop_size in
  // its files, and so does attnviz.
  if (kind != Kind::Vit) {
    p.doCenterCrop = config_json::flag(j, "do_center_crop", p.doCenterCrop, name);
    if (const auto crop = readSize(j, "crop_size", true, name)) {
      if (crop->shortestEdge > 0)
        throw Error(name + ": \"crop_size\" {\"shortest_edge\"} is not supported (a crop needs {\"height\", \"width\"})");
      p.cropHeight = crop->height;
      p.cropWidth = crop->width;
    }
  }

  p.doRescale = config_json::flag(j, "do_rescale", p.doRescale, name);
  if (const auto it = j.find("rescale_factor"); it != j.end() && !it->is_null()) {
    p.rescaleFactor = finiteNumber(*it, "rescale_factor", name);
    if (!(p.rescaleFactor > 0)) throw Error(name + ": \"rescale_factor\" must be positive (got " + it->dump() + ")");
  }
  p.doNormalize = config_json::flag(j, "do_normalize", p.doNormalize, name);
  p.mean = readPerChannel(j, "image_mean", p.mean, name);
  p.std = readPerChannel(j, "image_std", p.std, name);
  for (double s : p.std)
    if (float(s) == 0.0f) throw Error(name + ": \"image_std\" must not hold 0 (normalising divides by it)");

  config_json::flag(j, "do_convert_rgb", true, name);  // attnviz always converts to RGB; only checked
  if (config_json::flag(j, "do_pad", false, name))
    throw Error(name + ": \"do_pad\": true is not supported (attnviz resizes and crops, it does not pad)");
  return p;
}

ImageProcessor readImageProcessor(const std::string& folder, ProcessorDefaults defaults, int defaultSize) {
  const fs::path file = fs::path(folder) / "preprocessor_config.json";
  std::error_code ec;
  if (fs::exists(file, ec)) return parseImageProcessor(readFile(file.string()), file.string(), defaults);
  ImageProcessor p = defaultsOf(defaults == ProcessorDefaults::Bit ? Kind::Bit : Kind::Vit);
  p.fromFile = false;
  if (defaults == ProcessorDefaults::Vit && defaultSize >= 1 && defaultSize <= kMaxImageSide)
    p.height = p.width = defaultSize;  // the model's image_size rather than ViTImageProcessor's 224
  return p;
}

}  // namespace attnviz::model
