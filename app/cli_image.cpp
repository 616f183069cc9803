// `attnviz preprocess`: what a vision model receives for a picture, written as .npy, so that it
// can be compared with transformers' pixel_values.
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "cli_common.hpp"
#include "model.hpp"
#include "image/image_processor.hpp"
#include "matrix_io.hpp"
#include "session.hpp"

namespace attnviz::cli {
namespace {

namespace fs = std::filesystem;
using namespace attnviz::model;

constexpr const char* kPreprocessHelp =
    "usage: attnviz preprocess (--model NAME|DIR | --config FILE) --image FILE --out pixels.npy\n"
    "                          [--resized resized.png]\n"
    "\n"
    "Reads FILE (PNG or JPEG) as transformers' load_image does (EXIF orientation applied, then RGB\n"
    "with any alpha dropped) and applies the model's image processor as transformers' PIL-based\n"
    "processors do: resize through Pillow in 8 bits, centre crop, rescale, normalise. Writes\n"
    "pixels.npy, float32 [3, H, W]: the model's pixel_values for this picture.\n"
    "  --model NAME|DIR    a ViT, DeiT or DINOv2 folder or built-in model: its\n"
    "                      preprocessor_config.json, or the defaults its config.json's model_type\n"
    "                      implies when there is none (ViT, DeiT: ViTImageProcessor at image_size;\n"
    "                      DINOv2: BitImageProcessor)\n"
    "  --config FILE       a preprocessor_config.json alone (ViTImageProcessor's defaults unless it\n"
    "                      names another processor)\n"
    "  --resized FILE.png  also write the 8-bit picture after resize and crop\n";

// The model's processor, as `compute --image` uses it: its shape (through the registry) says
// which processor's defaults apply when the folder has no preprocessor_config.json.
ImageProcessor processorOfModel(const std::string& nameOrPath) {
  const std::string folder = locateModel(nameOrPath, modelsDirectory(), false).folder;
  const std::string configPath = (fs::path(folder) / "config.json").string();
  const ModelShape shape = parseModelShape(readFile(configPath), configPath);
  if (shape.input != InputKind::Image)
    throw Error(nameOrPath + " is not a vision model (model_type " + shape.modelType + " reads text)");
  return readImageProcessor(folder, shape);
}

}  // namespace

int cmdPreprocess(const std::vector<std::string>& args) {
  std::optional<std::string> modelArg, configArg, imagePath, out, resizedPath;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kPreprocessHelp;
      return 0;
    }
    if (args[i] == "--model") modelArg = takeValue(args, i);
    else if (args[i] == "--config") configArg = takeValue(args, i);
    else if (args[i] == "--image") imagePath = takeValue(args, i);
    else if (args[i] == "--out") out = takeValue(args, i);
    else if (args[i] == "--resized") resizedPath = takeValue(args, i);
    else throw UsageError("unknown option " + args[i]);
  }
  if (modelArg && configArg) throw UsageError("give --model or --config, not both");
  if (!modelArg && !configArg) throw UsageError("preprocess needs --model NAME|DIR or --config FILE");
  if (!imagePath) throw UsageError("preprocess needs --image FILE");
  if (!out) throw UsageError("preprocess needs --out pixels.npy");

  const ImageProcessor processor = modelArg ? processorOfModel(*modelArg)
                                            : parseImageProcessor(readFile(*configArg), *configArg, ProcessorDefaults::Vit);
  const RgbImage image = decodeImageFile(*imagePath);
  const RgbImage resized = processor.resizeAndCrop(image);
  const PixelTensor pixels = processor.rescaleAndNormalise(resized);
  writeNpy(*out, pixels.values.data(), {long(pixels.channels), long(pixels.height), long(pixels.width)});
  if (resizedPath) writePngFile(*resizedPath, resized);
  std::cerr << "attnviz: wrote " << printable(*out) << " [3, " << pixels.height << ", " << pixels.width << "] from "
            << printable(*imagePath) << " (" << image.width << "×" << image.height << "): " << processor.type
            << (processor.fromFile ? "" : " defaults") << ", " << processor.summary() << "\n";
  return 0;
}

}  // namespace attnviz::cli
