#pragma once
// A vision model's input: what its image processor made of a picture, or what `--pixels` gave.
#include <vector>

namespace attnviz::model {

// channels × height × width float32, channel-major (CHW), what pixels.npy holds.
struct PixelTensor {
  int channels = 3, height = 0, width = 0;
  std::vector<float> values;
  float at(int c, int y, int x) const { return values[(std::size_t(c) * height + y) * width + x]; }
};

}  // namespace attnviz::model
