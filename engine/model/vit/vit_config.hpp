#pragma once
// The config.json of Hugging Face's vision transformers: ViT, DeiT and DINOv2 (with or without
// registers), checked before any tensor is read.
#include <string>
#include <vector>

#include "blocks.hpp"
#include "config.hpp"

namespace attnviz::model {

struct VitConfig {
  std::string modelType;  // vit, deit, dinov2, dinov2_with_registers
  int dModel = 0, layers = 0, heads = 0, inner = 0;
  int imageSize = 0, patchSize = 0, channels = 3;
  double layerNormEpsilon = 1e-12;
  Activation activation = Activation::Gelu;
  bool qkvBias = true;
  // DINOv2: residual branches scaled by the layer_scale tensors; SwiGLU MLP; register tokens.
  bool layerScale = false, swiglu = false;
  int registers = 0;
  std::vector<std::string> labels;  // id2label, in id order; empty when the config has none

  int headWidth() const { return dModel / heads; }
  int trainedGrid() const { return imageSize / patchSize; }
  // DINOv2 takes any image size (its position embeddings are interpolated); ViT and DeiT only
  // the configured one.
  bool anyImageSize() const { return modelType == "dinov2" || modelType == "dinov2_with_registers"; }
  // dinov2_with_registers interpolates with torch's antialias=True, dinov2 without.
  bool antialiasedInterpolation() const { return modelType == "dinov2_with_registers"; }
};

// Throws Error "NAME: ..." for invalid JSON, a missing key that matters (for DINOv2, whose
// defaults changed between transformers versions), a value out of range, or a key that changes
// the computation in a way attnviz does not implement (naming it).
VitConfig parseVitConfig(const std::string& json, const std::string& name);
ModelShape shapeOf(const VitConfig& config);

}  // namespace attnviz::model
