#pragma once
// Vision transformers as Hugging Face computes them: ViT (Dosovitskiy et al. 2021), DeiT with its
// distillation token (Touvron et al. 2021) and DINOv2 with layer scale, SwiGLU and registers
// (Oquab et al. 2023; Darcet et al. 2024). The image is cut into patches by a strided
// convolution, [CLS] (and [DIST], registers) put in front, position embeddings added, then
// pre-norm blocks x += attn(norm1(x)); x += mlp(norm2(x)) with attnviz's own attention engine
// (no mask), a final LayerNorm and the classifier.
#include <cstdint>
#include <string>
#include <vector>

#include "image/pixel_tensor.hpp"
#include "record.hpp"
#include "safetensors.hpp"
#include "vit_config.hpp"
#include "weights.hpp"

namespace attnviz::model {

struct Family;

// Tensors named after the checkpoint's (encoder.layer.N.attention.attention.query, …; DINOv2's
// norm1/norm2, mlp.fc1/fc2 or mlp.weights_in/weights_out, layer_scale1/2.lambda1). Linear
// weights stay [out, in] in their stored dtype; norms, biases, tokens and layer scales float32.
struct VitBlock {
  Vector norm1Weight, norm1Bias;
  WeightMatrix query, key, value;
  Vector queryBias, keyBias, valueBias;  // zeros without qkv_bias
  WeightMatrix output;                   // attention.output.dense
  Vector outputBias;
  Vector layerScale1, layerScale2;  // DINOv2's lambda1 tensors; empty otherwise
  Vector norm2Weight, norm2Bias;
  WeightMatrix mlpIn;  // intermediate.dense / mlp.fc1: inner × d; mlp.weights_in (SwiGLU): 2·inner × d
  Vector mlpInBias;
  WeightMatrix mlpOut;  // output.dense / mlp.fc2 / mlp.weights_out: d × inner
  Vector mlpOutBias;
};

// How the logits are made from the final-normalised tokens.
enum class VitHead {
  None,                  // ViTModel, Dinov2Model: no classifier
  Cls,                   // ViT, DeiT without teacher: classifier([CLS])
  ClsDistillationMean,   // DeiT with teacher: (cls_classifier([CLS]) + distillation_classifier([DIST])) / 2
  ClsAndPatchMean,       // DINOv2: classifier(concat([CLS], mean of the patch tokens))
};

struct VitWeights {
  std::string prefix;  // "vit.", "deit.", "dinov2.", … or "" (as the checkpoint names them)
  Vector clsToken, distillationToken;  // distillationToken: DeiT only
  Matrix registerTokens;               // registers × d (DINOv2 with registers)
  Matrix positionEmbeddings;           // (1 [+ 1] + grid²) × d, float32
  WeightMatrix patchProjection;        // d × C·P·P: the convolution [d, C, P, P] row by row
  Vector patchBias;
  std::vector<VitBlock> blocks;
  Vector normWeight, normBias;  // the final layernorm
  VitHead head = VitHead::None;
  WeightMatrix classifier;  // labels × d (labels × 2d for DINOv2)
  Vector classifierBias;
  WeightMatrix distillationClassifier;
  Vector distillationClassifierBias;

  std::vector<std::pair<std::string, const WeightMatrix*>> named() const;
};

VitWeights readVitWeights(const TensorStore& store, const VitConfig& config, const std::string& weightsName);
// `config.labels` is extended to the classifier's size when id2label is shorter.
VitWeights randomVitWeights(const VitConfig& config, std::uint64_t seed, DType dtype = DType::F32);

// The labels a checkpoint's classifier scores (id2label, named LABEL_i where it has none).
std::vector<std::string> vitLabels(const VitConfig& config, const VitWeights& weights);

// Checks the pixels (channels; the configured size for ViT and DeiT; at least one patch) and the
// options, and runs every layer. The record's grid names the tokens; its logits are 1 × labels
// (0 × 0 without a classifier).
ForwardRecord forwardVit(const VitConfig& config, const VitWeights& weights, const PixelTensor& pixels,
                         const ForwardOptions& options = {});
// The patch embedding: row r·cols + c is patch (r, c)'s pixels (channel, y, x) flattened.
Matrix patchPixels(const PixelTensor& pixels, int patch, int rows, int cols);
// The position embeddings the pass adds to the [CLS]/[DIST] and patch tokens for a grid of
// rows × cols (interpolated for DINOv2 when it is not the trained grid).
Matrix vitPositionEmbeddings(const VitConfig& config, const VitWeights& weights, int rows, int cols);
Matrix vitNorm1(const VitConfig& config, const VitWeights& weights, const ForwardRecord& record, int layer);

const Family& vitFamily();

}  // namespace attnviz::model
