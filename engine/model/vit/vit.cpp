#include "vit.hpp"

#include <chrono>
#include <cmath>

#include "blocks.hpp"
#include "checkpoint.hpp"
#include "position_interpolation.hpp"
#include "tokens.hpp"

namespace attnviz::model {
namespace {

bool isDinov2(const VitConfig& c) { return c.anyImageSize(); }

// The prefix the checkpoint's class gives its backbone: ViTForImageClassification "vit.",
// DeiT…WithTeacher "deit.", Dinov2ForImageClassification "dinov2.", …; the bare model none.
std::string backbonePrefix(const TensorStore& store, const VitConfig& c, const std::string& weightsName) {
  for (const std::string p : {"", "vit.", "deit.", "dinov2.", "dinov2_with_registers."})
    if (store.find(p + "embeddings.cls_token").info) return p;
  throw Error(weightsName + ": the checkpoint has no tensor \"embeddings.cls_token\" (with or without a \"" +
              c.modelType + ".\" prefix): not a " + c.modelType + " checkpoint?");
}

// The block's tensor names: ViT and DeiT's, or DINOv2's.
struct BlockNames {
  const char *norm1, *norm2, *mlpIn, *mlpOut;
};
BlockNames blockNames(const VitConfig& c) {
  if (!isDinov2(c)) return {"layernorm_before", "layernorm_after", "intermediate.dense", "output.dense"};
  if (c.swiglu) return {"norm1", "norm2", "mlp.weights_in", "mlp.weights_out"};
  return {"norm1", "norm2", "mlp.fc1", "mlp.fc2"};
}

int prefixTokens(const VitConfig& c) { return 1 + (c.modelType == "deit" ? 1 : 0); }

}  // namespace

VitWeights readVitWeights(const TensorStore& store, const VitConfig& c, const std::string& weightsName) {
  VitWeights w;
  w.prefix = backbonePrefix(store, c, weightsName);
  const TensorReader read{store, w.prefix};
  const long d = c.dModel, P = c.patchSize, C = c.channels, grid = c.trainedGrid();
  w.clsToken = read.vector("embeddings.cls_token", {1, 1, d});
  if (c.modelType == "deit") w.distillationToken = read.vector("embeddings.distillation_token", {1, 1, d});
  if (c.registers > 0) {
    const Vector r = read.vector("embeddings.register_tokens", {1, c.registers, d});
    w.registerTokens = Eigen::Map<const Matrix>(r.data(), c.registers, d);
  }
  const long positions = prefixTokens(c) + grid * grid;
  const Vector pos = read.vector("embeddings.position_embeddings", {1, positions, d});
  w.positionEmbeddings = Eigen::Map<const Matrix>(pos.data(), positions, d);
  w.patchProjection = read.weight("embeddings.patch_embeddings.projection.weight", {d, C, P, P}, d, C * P * P);
  w.patchBias = read.vector("embeddings.patch_embeddings.projection.bias", d);
  const BlockNames names = blockNames(c);
  const long inner = c.inner, mlpIn = c.swiglu ? 2 * inner : inner;
  w.blocks.resize(std::size_t(c.layers));
  for (int l = 0; l < c.layers; ++l) {
    const std::string h = "encoder.layer." + std::to_string(l) + ".";
    VitBlock& b = w.blocks[std::size_t(l)];
    b.norm1Weight = read.vector(h + names.norm1 + ".weight", d);
    b.norm1Bias = read.vector(h + names.norm1 + ".bias", d);
    const std::string a = h + "attention.attention.";
    b.query = read.weight(a + "query.weight", d, d);
    b.key = read.weight(a + "key.weight", d, d);
    b.value = read.weight(a + "value.weight", d, d);
    if (c.qkvBias) {
      b.queryBias = read.vector(a + "query.bias", d);
      b.keyBias = read.vector(a + "key.bias", d);
      b.valueBias = read.vector(a + "value.bias", d);
    } else {
      b.queryBias = b.keyBias = b.valueBias = Vector::Zero(d);
    }
    b.output = read.weight(h + "attention.output.dense.weight", d, d);
    b.outputBias = read.vector(h + "attention.output.dense.bias", d);
    if (c.layerScale) {
      b.layerScale1 = read.vector(h + "layer_scale1.lambda1", d);
      b.layerScale2 = read.vector(h + "layer_scale2.lambda1", d);
    }
    b.norm2Weight = read.vector(h + names.norm2 + ".weight", d);
    b.norm2Bias = read.vector(h + names.norm2 + ".bias", d);
    b.mlpIn = read.weight(h + names.mlpIn + ".weight", mlpIn, d);
    b.mlpInBias = read.vector(h + names.mlpIn + ".bias", mlpIn);
    b.mlpOut = read.weight(h + names.mlpOut + ".weight", d, inner);
    b.mlpOutBias = read.vector(h + names.mlpOut + ".bias", d);
  }
  w.normWeight = read.vector("layernorm.weight", d);
  w.normBias = read.vector("layernorm.bias", d);
  // The classification heads sit beside the backbone, without its prefix.
  const TensorReader top{store, ""};
  auto rowsOf = [&](const std::string& name) {
    const auto found = store.find(name);
    if (found.info->shape.size() != 2 || found.info->shape[0] < 1 || found.info->shape[0] > (1 << 21))
      throw Error(found.file->path() + ": tensor \"" + name + "\" has shape " + shapeString(found.info->shape) +
                  ", not [labels, " + std::to_string(isDinov2(c) ? 2 * d : d) + "]");
    return long(found.info->shape[0]);
  };
  const long classifierWidth = isDinov2(c) ? 2 * d : d;
  if (store.find("cls_classifier.weight").info) {
    const long labels = rowsOf("cls_classifier.weight");
    w.head = VitHead::ClsDistillationMean;
    w.classifier = top.weight("cls_classifier.weight", labels, d);
    w.classifierBias = top.vector("cls_classifier.bias", labels);
    w.distillationClassifier = top.weight("distillation_classifier.weight", labels, d);
    w.distillationClassifierBias = top.vector("distillation_classifier.bias", labels);
  } else if (store.find("classifier.weight").info) {
    const long labels = rowsOf("classifier.weight");
    w.head = isDinov2(c) ? VitHead::ClsAndPatchMean : VitHead::Cls;
    w.classifier = top.weight("classifier.weight", labels, classifierWidth);
    w.classifierBias = top.vector("classifier.bias", labels);
  }
  if (w.head != VitHead::None && !c.labels.empty() && long(c.labels.size()) != w.classifier.rows())
    throw Error(weightsName + ": the classifier scores " + std::to_string(w.classifier.rows()) +
                " labels but config.json's id2label names " + std::to_string(c.labels.size()));
  return w;
}

std::vector<std::pair<std::string, const WeightMatrix*>> VitWeights::named() const {
  std::vector<std::pair<std::string, const WeightMatrix*>> out = {
      {prefix + "embeddings.patch_embeddings.projection.weight", &patchProjection}};
  for (std::size_t l = 0; l < blocks.size(); ++l) {
    const std::string h = prefix + "encoder.layer." + std::to_string(l) + ".";
    const VitBlock& b = blocks[l];
    out.insert(out.end(), {{h + "attention.attention.query.weight", &b.query},
                           {h + "attention.attention.key.weight", &b.key},
                           {h + "attention.attention.value.weight", &b.value},
                           {h + "attention.output.dense.weight", &b.output},
                           {h + "mlp (in).weight", &b.mlpIn},
                           {h + "mlp (out).weight", &b.mlpOut}});
  }
  if (head == VitHead::ClsDistillationMean)
    out.insert(out.end(), {{"cls_classifier.weight", &classifier}, {"distillation_classifier.weight", &distillationClassifier}});
  else if (head != VitHead::None)
    out.push_back({"classifier.weight", &classifier});
  return out;
}

VitWeights randomVitWeights(const VitConfig& c, std::uint64_t seed, DType dtype) {
  const long d = c.dModel, P = c.patchSize, C = c.channels, grid = c.trainedGrid(), inner = c.inner;
  auto small = [&seed](long n) { return Vector(glorotUniform(1, int(n), ++seed).row(0).transpose() * 0.1f); };
  auto weight = [&](long rows, long cols) {
    return WeightMatrix(glorotUniform(int(rows), int(cols), ++seed)).storedAs(dtype);
  };
  VitWeights w;
  w.clsToken = small(d);
  if (c.modelType == "deit") w.distillationToken = small(d);
  if (c.registers > 0) w.registerTokens = glorotUniform(c.registers, int(d), ++seed);
  w.positionEmbeddings = glorotUniform(int(prefixTokens(c) + grid * grid), int(d), ++seed);
  w.patchProjection = weight(d, C * P * P);
  w.patchBias = small(d);
  w.blocks.resize(std::size_t(c.layers));
  for (VitBlock& b : w.blocks) {
    b.norm1Weight = b.norm2Weight = Vector::Ones(d);
    b.norm1Bias = small(d);
    b.norm2Bias = small(d);
    b.query = weight(d, d);
    b.key = weight(d, d);
    b.value = weight(d, d);
    b.queryBias = small(d);
    b.keyBias = small(d);
    b.valueBias = small(d);
    b.output = weight(d, d);
    b.outputBias = small(d);
    if (c.layerScale) b.layerScale1 = b.layerScale2 = Vector::Constant(d, 0.5f);
    b.mlpIn = weight(c.swiglu ? 2 * inner : inner, d);
    b.mlpInBias = small(c.swiglu ? 2 * inner : inner);
    b.mlpOut = weight(d, inner);
    b.mlpOutBias = small(d);
  }
  w.normWeight = Vector::Ones(d);
  w.normBias = small(d);
  const long labels = c.labels.empty() ? 1000 : long(c.labels.size());
  w.head = isDinov2(c) ? VitHead::ClsAndPatchMean : VitHead::Cls;
  w.classifier = weight(labels, isDinov2(c) ? 2 * d : d);
  w.classifierBias = small(labels);
  return w;
}

std::vector<std::string> vitLabels(const VitConfig& c, const VitWeights& w) {
  if (w.head == VitHead::None) return {};
  std::vector<std::string> labels = c.labels;
  for (long i = long(labels.size()); i < w.classifier.rows(); ++i) labels.push_back("LABEL_" + std::to_string(i));
  return labels;
}

Matrix patchPixels(const PixelTensor& pixels, int patch, int rows, int cols) {
  const int C = pixels.channels, P = patch;
  Matrix out(Eigen::Index(rows) * cols, Eigen::Index(C) * P * P);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      float* row = out.row(r * cols + c).data();
      for (int ch = 0; ch < C; ++ch)
        for (int y = 0; y < P; ++y)
          for (int x = 0; x < P; ++x) *row++ = pixels.at(ch, r * P + y, c * P + x);
    }
  return out;
}

Matrix vitPositionEmbeddings(const VitConfig& c, const VitWeights& w, int rows, int cols) {
  const int grid = c.trainedGrid(), prefix = prefixTokens(c);
  if (rows == grid && cols == grid) return w.positionEmbeddings;
  // transformers' interpolate_pos_encoding: the patch part as a grid, bicubic to the new one;
  // the [CLS] (and [DIST]) rows as they are.
  Matrix out(prefix + Eigen::Index(rows) * cols, w.positionEmbeddings.cols());
  out.topRows(prefix) = w.positionEmbeddings.topRows(prefix);
  out.bottomRows(Eigen::Index(rows) * cols) =
      interpolateBicubic(w.positionEmbeddings.bottomRows(Eigen::Index(grid) * grid), grid, grid, rows, cols,
                         c.antialiasedInterpolation());
  return out;
}

ForwardRecord forwardVit(const VitConfig& c, const VitWeights& w, const PixelTensor& px, const ForwardOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  checkForwardOptions(options, c.layers, c.heads);
  const std::string size = std::to_string(px.height) + "×" + std::to_string(px.width);
  if (px.channels != c.channels)
    throw Error("the image has " + std::to_string(px.channels) + " channels but the model takes " +
                std::to_string(c.channels) + " (num_channels)");
  if (px.values.size() != std::size_t(px.channels) * std::size_t(px.height) * std::size_t(px.width))
    throw Error("the pixel array holds " + std::to_string(px.values.size()) + " values, not channels × height × width");
  if (!c.anyImageSize() && (px.height != c.imageSize || px.width != c.imageSize))
    throw Error("the image is " + size + " but " + c.modelType + " takes " + std::to_string(c.imageSize) + "×" +
                std::to_string(c.imageSize) + " only (image_size; its image processor resizes to that)");
  // DINOv2's convolution drops what the patch size does not divide, as the reference does.
  const int P = c.patchSize, rows = px.height / P, cols = px.width / P;
  if (rows < 1 || cols < 1)
    throw Error("the image is " + size + ", smaller than one " + std::to_string(P) + "×" + std::to_string(P) + " patch");
  if (long(rows) * cols > (1L << 16)) throw Error("the image is " + size + ": more than 65536 patches");
  for (std::size_t i = 0; i < px.values.size(); ++i)
    if (!std::isfinite(px.values[i])) throw Error("the pixel array holds a NaN or an infinity at element " + std::to_string(i));

  ForwardRecord rec;
  rec.norm = NormKind::LayerNorm;
  rec.heads = rec.kvHeads = c.heads;
  PatchGrid grid;
  grid.rows = rows;
  grid.cols = cols;
  grid.patch = P;
  grid.prefix = {"[CLS]"};
  if (c.modelType == "deit") grid.prefix.push_back("[DIST]");
  for (int r = 0; r < c.registers; ++r) grid.prefix.push_back("[REG" + std::to_string(r) + "]");
  const int prefix = prefixTokens(c), patches = rows * cols, n = grid.tokens(), d = c.dModel;

  // [CLS] ([DIST]) and the patches, position embeddings added; registers after [CLS], unplaced.
  Matrix placed(prefix + patches, d);
  placed.row(0) = w.clsToken.transpose();
  if (prefix == 2) placed.row(1) = w.distillationToken.transpose();
  rec.patchPixels = patchPixels(px, P, rows, cols);
  placed.bottomRows(patches) = linear(rec.patchPixels, w.patchProjection, w.patchBias);
  placed += vitPositionEmbeddings(c, w, rows, cols);
  Matrix x(n, d);
  x.topRows(prefix) = placed.topRows(prefix);
  if (c.registers > 0) x.middleRows(1, c.registers) = w.registerTokens;
  x.bottomRows(patches) = placed.bottomRows(patches);
  rec.grid = std::move(grid);
  applyResidualPatches(x, 0, options);
  rec.resid.push_back(x);

  rec.layers.resize(std::size_t(c.layers));
  for (int l = 0; l < c.layers; ++l) {
    const VitBlock& b = w.blocks[std::size_t(l)];
    LayerRecord& L = rec.layers[std::size_t(l)];
    const Matrix h = layerNorm(x, b.norm1Weight, b.norm1Bias, c.layerNormEpsilon);
    L.qkv.q = linear(h, b.query, b.queryBias);
    L.qkv.k = linear(h, b.key, b.keyBias);
    L.qkv.v = linear(h, b.value, b.valueBias);
    L.attention = plainAttentionOptions(c.heads, c.headWidth(), MaskKind::None, options);
    runAttention(L, l, c.headWidth(), options);
    L.attnOut = linear(L.z, b.output, b.outputBias);
    if (c.layerScale) L.attnOut.array().rowwise() *= b.layerScale1.transpose().array();
    x += L.attnOut;
    Matrix mlp = linear(layerNorm(x, b.norm2Weight, b.norm2Bias, c.layerNormEpsilon), b.mlpIn, b.mlpInBias);
    if (c.swiglu) {
      // Dinov2SwiGLUFFN: the first half gated by SiLU times the second half.
      Matrix gate = mlp.leftCols(c.inner);
      siluTimes(gate, mlp.rightCols(c.inner));
      mlp = std::move(gate);
    } else {
      activate(mlp, c.activation);
    }
    Matrix out = linear(mlp, b.mlpOut, b.mlpOutBias);
    if (c.layerScale) out.array().rowwise() *= b.layerScale2.transpose().array();
    x += out;
    applyResidualPatches(x, l + 1, options);
    rec.resid.push_back(x);
  }
  const Matrix final = layerNorm(x, w.normWeight, w.normBias, c.layerNormEpsilon);
  switch (w.head) {
    case VitHead::None: break;
    case VitHead::Cls: rec.logits = linear(final.topRows(1), w.classifier, w.classifierBias); break;
    case VitHead::ClsDistillationMean:
      rec.logits = 0.5f * (linear(final.topRows(1), w.classifier, w.classifierBias) +
                           linear(final.middleRows(1, 1), w.distillationClassifier, w.distillationClassifierBias));
      break;
    case VitHead::ClsAndPatchMean: {
      // Dinov2ForImageClassification: [CLS] beside the mean of the patch tokens (registers left out).
      Matrix joined(1, 2 * d);
      joined.leftCols(d) = final.topRows(1);
      joined.rightCols(d) = final.bottomRows(patches).colwise().mean();
      rec.logits = linear(joined, w.classifier, w.classifierBias);
      break;
    }
  }
  if (!allFinite(x) || !allFinite(rec.logits)) checkFiniteWeights(w.named());
  rec.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return rec;
}

Matrix vitNorm1(const VitConfig& c, const VitWeights& w, const ForwardRecord& rec, int layer) {
  const VitBlock& b = w.blocks.at(std::size_t(layer));
  return layerNorm(rec.resid.at(std::size_t(layer)), b.norm1Weight, b.norm1Bias, c.layerNormEpsilon);
}

}  // namespace attnviz::model
