// PNG and JPEG bytes (stb_image, libjpeg-turbo, the EXIF orientation), then the ViT and Bit
// processors on whatever decodes: a picture either decodes within the size limits and
// preprocesses to finite pixels of the processor's size, or is refused with a one-line Error.
#include <stb_image.h>

#include "fuzz_common.hpp"
#include "image/image_processor.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace attnviz::model;
  // Pictures the size limits admit but too large for 10 s under the sanitizers are left out.
  int w = 0, h = 0, channels = 0;
  if (stbi_info_from_memory(data, int(size), &w, &h, &channels) && double(w) * h > double(1 << 22)) return 0;
  attnviz::fuzz::parseOrError([&] {
    const RgbImage image = decodeImage(data, size, "fuzz.png");
    if (image.width < 1 || image.height < 1 || image.width > kMaxImageSide || image.height > kMaxImageSide)
      attnviz::fuzz::violated("decoded image outside the size limits");
    if (image.pixels.size() != std::size_t(image.width) * std::size_t(image.height) * 3)
      attnviz::fuzz::violated("pixel buffer of the wrong size");
    if (std::size_t(image.width) * std::size_t(image.height) > 1u << 16) return;  // keep each input fast
    for (const ProcessorDefaults kind : {ProcessorDefaults::Vit, ProcessorDefaults::Bit}) {
      const ImageProcessor processor =
          parseImageProcessor(R"({"size": 16, "crop_size": 16})", "fuzz preprocessor_config.json", kind);
      const PixelTensor pixels = processor.preprocess(image);
      if (pixels.values.size() != std::size_t(pixels.channels) * pixels.height * pixels.width)
        attnviz::fuzz::violated("pixel tensor of the wrong size");
      for (const float v : pixels.values)
        if (!std::isfinite(v)) attnviz::fuzz::violated("non-finite pixel");
    }
  });
  return 0;
}
