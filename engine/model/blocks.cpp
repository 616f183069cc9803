#include "blocks.hpp"

#include "weight_product.hpp"

#include <unsupported/Eigen/SpecialFunctions>

#include <algorithm>
#include <cmath>

namespace attnviz::model {

const char* toString(Activation a) {
  switch (a) {
    case Activation::GeluNew: return "gelu_new";
    case Activation::Gelu: return "gelu";
    case Activation::Relu: return "relu";
  }
  return "?";
}

const char* toString(NormKind k) { return k == NormKind::RmsNorm ? "rmsnorm" : "layernorm"; }

namespace {
// Row-wise steps (norms, activations) share the rows between threads above this many values;
// each row is computed the same way whatever the thread count.
constexpr double kParallelValues = 1 << 15;
}  // namespace

namespace {
struct RowMoments {
  double mean, inverse;  // the row's mean and 1/√(variance + ε)
};

RowMoments layerNormMoments(const float* row, long width, double epsilon) {
  const double mean = interleavedSumInDouble(row, width, [](double v) { return v; }) / double(width);
  const double variance = interleavedSumInDouble(row, width, [mean](double v) { return (v - mean) * (v - mean); }) / double(width);
  return {mean, 1.0 / std::sqrt(variance + epsilon)};
}
}  // namespace

Matrix layerNorm(const Matrix& x, const Vector& gamma, const Vector& beta, double epsilon) {
  Matrix out(x.rows(), x.cols());
  const long width = long(x.cols());
#pragma omp parallel for schedule(static) if (double(x.size()) >= kParallelValues)
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const float* row = x.row(r).data();
    const RowMoments m = layerNormMoments(row, width, epsilon);
    float* to = out.row(r).data();
    for (long j = 0; j < width; ++j) to[j] = float((double(row[j]) - m.mean) * m.inverse) * gamma(j) + beta(j);
  }
  return out;
}

void layerNormRowStatistics(const Matrix& x, double epsilon, Vector& mean, Vector& scale) {
  mean.resize(x.rows());
  scale.resize(x.rows());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const RowMoments m = layerNormMoments(x.row(i).data(), long(x.cols()), epsilon);
    mean(i) = float(m.mean);
    scale(i) = float(m.inverse);
  }
}

float rmsNormScale(const float* row, long width, double epsilon) {
  const double meanSquare = interleavedSumInDouble(row, width, [](double v) { return v * v; }) / double(width);
  return float(1.0 / std::sqrt(meanSquare + epsilon));
}

AttentionOptions plainAttentionOptions(int heads, int headWidth, MaskKind ownMask, const ForwardOptions& options) {
  AttentionOptions a;
  a.score = ScoreFunction::Scaled;
  a.scaleOverride = options.scale.value_or(1.0f / std::sqrt(float(headWidth)));
  a.temperature = options.temperature;
  a.mask = options.mask.value_or(ownMask);
  a.heads = heads;
  return a;
}

Matrix rmsNorm(const Matrix& x, const Vector& gamma, double epsilon) {
  Matrix out(x.rows(), x.cols());
#pragma omp parallel for schedule(static) if (double(x.size()) >= kParallelValues)
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const float inverse = rmsNormScale(x.row(r).data(), long(x.cols()), epsilon);
    out.row(r) = (x.row(r).array() * inverse * gamma.transpose().array()).matrix();
  }
  return out;
}

Matrix linear(const Matrix& x, const WeightMatrix& w, const Vector& bias) {
  Matrix y;
  weightProduct(x, w, WeightLayout::OutputsByInputs, bias, y);
  return y;
}

Matrix conv1d(const Matrix& x, const WeightMatrix& w, const Vector& bias) {
  Matrix y;
  weightProduct(x, w, WeightLayout::InputsByOutputs, bias, y);
  return y;
}

void conv1dInThirds(const Matrix& x, const WeightMatrix& w, const Vector& bias, Matrix& q, Matrix& k, Matrix& v) {
  weightProduct(x, w, WeightLayout::InputsByOutputs, bias, {&q, &k, &v});
}

namespace {
void activateRow(Eigen::Ref<Eigen::RowVectorXf> row, Activation a) {
  auto x = row.array();
  switch (a) {
    case Activation::GeluNew: {
      const float c = std::sqrt(2.0f / float(M_PI));
      x = 0.5f * x * (1.0f + (c * (x + 0.044715f * x.cube())).tanh());
      break;
    }
    case Activation::Gelu:
      // Eigen's vectorised erf (a rational approximation within a few ULP of std::erf).
      x = 0.5f * x * (1.0f + (x * float(M_SQRT1_2)).erf());
      break;
    case Activation::Relu: x = x.cwiseMax(0.0f); break;
  }
}
}  // namespace

void activate(Matrix& m, Activation a) {
#pragma omp parallel for schedule(static) if (double(m.size()) >= kParallelValues)
  for (Eigen::Index r = 0; r < m.rows(); ++r) activateRow(m.row(r), a);
}

void siluTimes(Matrix& gate, const Matrix& up) {
#pragma omp parallel for schedule(static) if (double(gate.size()) >= kParallelValues)
  for (Eigen::Index r = 0; r < gate.rows(); ++r)
    gate.row(r).array() = gate.row(r).array() / (1.0f + (-gate.row(r).array()).exp()) * up.row(r).array();
}



Matrix expandKvHeads(const Matrix& m, int kvHeads, int group, int dh) {
  if (group == 1) return m;
  Matrix out(m.rows(), Eigen::Index(kvHeads) * group * dh);
  for (int g = 0; g < kvHeads; ++g)
    for (int r = 0; r < group; ++r) out.middleCols(Eigen::Index(g * group + r) * dh, dh) = m.middleCols(Eigen::Index(g) * dh, dh);
  return out;
}

RopeTable::RopeTable(Eigen::Index n, const std::vector<double>& inv, Eigen::Index first)
    : cosines(n, Eigen::Index(inv.size())), sines(n, Eigen::Index(inv.size())) {
  for (Eigen::Index i = 0; i < n; ++i)
    for (size_t c = 0; c < inv.size(); ++c) {
      const double angle = double(first + i) * inv[c];
      cosines(i, Eigen::Index(c)) = float(std::cos(angle));
      sines(i, Eigen::Index(c)) = float(std::sin(angle));
    }
}

Matrix rotate(const Matrix& x, int heads, const RopeTable& table) {
  const int half = int(table.cosines.cols()), dh = 2 * half;
  Matrix out(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const float* in = x.row(i).data();
    const float* cosines = table.cosines.row(i).data();
    const float* sines = table.sines.row(i).data();
    float* o = out.row(i).data();
    for (int h = 0; h < heads; ++h)
      for (int c = 0; c < half; ++c) {
        const float a = in[h * dh + c], b = in[h * dh + c + half];
        o[h * dh + c] = a * cosines[c] - b * sines[c];
        o[h * dh + c + half] = b * cosines[c] + a * sines[c];
      }
  }
  return out;
}

Matrix applyRope(const Matrix& x, int heads, const std::vector<double>& inv) {
  return rotate(x, heads, RopeTable(x.rows(), inv));
}

void runAttention(LayerRecord& L, int layer, int headWidth, const ForwardOptions& options) {
  try {
    L.pattern = computeAttentionOnLent(L.qkv, L.attention, false, MaskedScores::Skipped);
  } catch (const Error& e) {
    throw Error("layer " + std::to_string(layer) + " attention: " + e.what());
  }
  // Only the weights and row statistics stay (layerTrace() recomputes the rest): GPT-2 small at
  // n = 1024 keeps 144 weight matrices of 4 MiB and must fit in 1.5 GiB.
  for (HeadTrace& head : L.pattern.head) {
    head.scores.resize(0, 0);
    head.output.resize(0, 0);
  }
  L.z = std::move(L.pattern.concatenated);
  L.pattern.concatenated.resize(0, 0);
  for (const auto& [ablatedLayer, head] : options.ablatedHeads)
    if (ablatedLayer == layer) L.z.middleCols(Eigen::Index(head) * headWidth, headWidth).setZero();
  for (const HeadPatch& p : options.patchedHeads) {
    if (p.layer != layer) continue;
    if (p.values.rows() != L.z.rows() || p.values.cols() != headWidth)
      throw Error("layer " + std::to_string(layer) + " head " + std::to_string(p.head) + " patch is " +
                  std::to_string(p.values.rows()) + " × " + std::to_string(p.values.cols()) + ", the head's output " +
                  std::to_string(L.z.rows()) + " × " + std::to_string(headWidth));
    L.z.middleCols(Eigen::Index(p.head) * headWidth, headWidth) = p.values;
  }
}

void applyResidualPatches(Matrix& x, int layer, const ForwardOptions& options) {
  for (const ResidualPatch& p : options.patchedResidual) {
    if (p.layer != layer) continue;
    if (p.position < 0 || p.position >= x.rows() || p.values.size() != x.cols())
      throw Error("residual patch at layer " + std::to_string(layer) + " position " + std::to_string(p.position) +
                  " (" + std::to_string(p.values.size()) + " values) does not fit the stream's " +
                  std::to_string(x.rows()) + " × " + std::to_string(x.cols()));
    x.row(p.position) = p.values.transpose();
  }
}

AttentionTrace layerTrace(const LayerRecord& layer, const Matrix& wO) {
  AttentionInputs inputs = layer.qkv;
  inputs.wO = wO;
  return computeAttention(inputs, layer.attention, true);
}

Matrix blockResidMid(const ForwardRecord& rec, int layer) { return rec.resid.at(layer) + rec.layers.at(layer).attnOut; }

Vector logSoftmax(const Eigen::Ref<const Eigen::RowVectorXf>& logits) {
  const double max = logits.maxCoeff();
  double sum = 0;
  for (Eigen::Index i = 0; i < logits.size(); ++i) sum += std::exp(double(logits(i)) - max);
  const double logSum = max + std::log(sum);
  Vector out(logits.size());
  for (Eigen::Index i = 0; i < logits.size(); ++i) out(i) = float(double(logits(i)) - logSum);
  return out;
}

}  // namespace attnviz::model
