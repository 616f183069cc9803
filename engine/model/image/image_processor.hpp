#pragma once
// Hugging Face image processors (preprocessor_config.json) as transformers' PIL-based
// ("slow") processors apply them: resize through Pillow in 8 bits, centre crop, rescale,
// normalise, channels first. ViTImageProcessor, DeiTImageProcessor and BitImageProcessor
// (DINOv2), and their older *FeatureExtractor names.
#include <array>
#include <string>
#include <utility>

#include "image.hpp"
#include "pixel_tensor.hpp"

namespace attnviz::model {

struct ImageProcessor {
  std::string type;       // "ViTImageProcessor", "BitImageProcessor", ... (as the file names it, or the default's)
  bool fromFile = false;  // false: no preprocessor_config.json, the family's defaults
  bool doResize = true;
  int height = 0, width = 0;  // a fixed size, or
  int shortestEdge = 0;       // the short side's length, the long side keeping the aspect ratio
  Resample resample = Resample::Bilinear;
  bool doCenterCrop = false;
  int cropHeight = 0, cropWidth = 0;
  bool doRescale = true;
  double rescaleFactor = 1.0 / 255;
  bool doNormalize = true;
  std::array<double, 3> mean{}, std{};

  // resize -> centre crop -> rescale -> normalise, as transformers: the 8-bit steps through
  // resizeAndCrop, then per value x = float32(double(v) · rescale_factor) and
  // (x − float32(mean)) / float32(std) in float32, exactly as transformers' NumPy code rounds.
  PixelTensor preprocess(const RgbImage& image) const;
  // The float steps alone (rescale, normalise) on a picture resizeAndCrop already made.
  PixelTensor rescaleAndNormalise(const RgbImage& resized) const;
  // The 8-bit picture the model sees: resized (Pillow) and centre-cropped. A crop larger than
  // the image pads with black (0) as transformers' center_crop pads with zeros.
  RgbImage resizeAndCrop(const RgbImage& image) const;
  // The (height, width) a resize gives an image of this size: shortest edge as transformers'
  // get_resize_output_image_size(default_to_square=False): short = requested, long =
  // int(requested · long / short). Throws Error when that exceeds kMaxImageSide.
  std::pair<int, int> resizedSize(int imageHeight, int imageWidth) const;

  std::string json() const;     // what was used, for model.json ("preprocessing"), transformers' key names
  // One line for messages, sizes as width×height: "resize 224×224 bilinear, centre crop 224×224,
  // rescale 1/255, normalise mean (0.5, 0.5, 0.5) std (0.5, 0.5, 0.5)".
  std::string summary() const;
};

// Which processor's defaults apply when preprocessor_config.json is missing (or names none):
// ViT and DeiT models use ViTImageProcessor's, DINOv2 BitImageProcessor's.
enum class ProcessorDefaults { Vit, Bit };

// folder/preprocessor_config.json read as transformers reads it; a missing file gives
// `defaults`' values with fromFile = false, where `defaultSize` (the model's image_size) replaces
// ViTImageProcessor's 224 × 224. Throws Error naming the file and the key.
ImageProcessor readImageProcessor(const std::string& folder, ProcessorDefaults defaults, int defaultSize);

// The same on the text of a preprocessor_config.json (`name` for messages). The processor the
// file names (image_processor_type, or feature_extractor_type in older files) decides the
// defaults of missing keys and how a bare number `size` reads (ViT, DeiT: a square; Bit: the
// shortest edge); `defaults` applies when it names none. Keys that do not change the
// computation are ignored; an unsupported value (resample 1, 4 or 5, do_pad, a size of 0, a
// size dict of other keys, a processor attnviz does not implement) is refused by name.
ImageProcessor parseImageProcessor(const std::string& json, const std::string& name, ProcessorDefaults defaults);

}  // namespace attnviz::model
