// The one model interface (engine/model/family.hpp): the registry refuses what it does not hold
// with the list it holds; every family's steps are stages of the one registry, the attention
// stages in pipeline order among them; and every family's shape agrees with what its forward
// pass writes.
#include <gtest/gtest.h>

#include "attribution.hpp"
#include "blocks.hpp"
#include "config.hpp"
#include "family.hpp"
#include "generation.hpp"
#include "model.hpp"
#include "stages.hpp"

namespace attnviz::model {
namespace {

// A tiny config.json of each family's first model_type.
std::string tinyConfig(const std::string& modelType) {
  if (modelType == "vit")
    return R"({"model_type": "vit", "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
               "intermediate_size": 12, "image_size": 8, "patch_size": 4, "num_channels": 3,
               "id2label": {"0": "a", "1": "b", "2": "c"}})";
  if (modelType == "gpt2")
    return R"({"model_type": "gpt2", "vocab_size": 50, "n_positions": 16, "n_embd": 8, "n_layer": 2, "n_head": 2})";
  return R"({"model_type": ")" + modelType +
         R"(", "vocab_size": 50, "max_position_embeddings": 16, "hidden_size": 8, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 12})";
}

// Five tokens for a text model; for a vision model an 8 × 8 picture (four patches and [CLS]).
ForwardRecord runOnFive(const Model& m) {
  if (m.shape.input == InputKind::Text) return forward(m, {1, 2, 3, 4, 5});
  PixelTensor pixels;
  pixels.height = pixels.width = 8;
  for (int i = 0; i < 3 * 64; ++i) pixels.values.push_back(float(i % 7) / 7.0f - 0.5f);
  return forward(m, pixels);
}

TEST(Families, UnsupportedModelTypeIsRefusedWithTheRegistrysList) {
  try {
    familyOf("t5", "config.json");
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "config.json: model_type \"t5\" is not supported (attnviz supports " +
                                         supportedModelTypes() + ")");
  }
  for (const Family& f : families())
    for (const std::string& type : f.modelTypes) {
      EXPECT_NE(supportedModelTypes().find(type), std::string::npos);
      EXPECT_EQ(familyOf(type, "c").name, f.name);
    }
}

TEST(Families, StepsAreRegistryStagesWithTheAttentionInOrder) {
  for (const Family& f : families()) {
    const Model m = randomModel(tinyConfig(f.modelTypes.front()), "tiny", 3);
    std::vector<StageId> attention;
    for (const std::string& name : m.architecture->steps()) {
      const auto id = findStage(name);
      ASSERT_TRUE(id) << f.name << ": step " << name << " is not a stage";
      if (int(*id) < kAttentionStageCount) attention.push_back(*id);
    }
    ASSERT_EQ(attention.size(), std::size_t(kAttentionStageCount)) << f.name;
    for (int i = 0; i < kAttentionStageCount; ++i) EXPECT_EQ(int(attention[std::size_t(i)]), i) << f.name;
  }
}

TEST(Families, ShapeMatchesTheForwardPass) {
  for (const Family& f : families()) {
    const Model m = randomModel(tinyConfig(f.modelTypes.front()), "tiny", 3);
    const ModelShape& s = m.shape;
    const ForwardRecord rec = runOnFive(m);
    EXPECT_EQ(rec.tokens(), 5) << f.name;
    EXPECT_EQ(int(rec.layers.size()), s.layers) << f.name;
    EXPECT_EQ(rec.heads, s.heads) << f.name;
    EXPECT_EQ(rec.kvHeads, s.kvHeads) << f.name;
    EXPECT_EQ(rec.logits.cols(), s.vocabSize) << f.name;
    EXPECT_EQ(rec.layers[0].qkv.q.cols(), long(s.heads) * s.headWidth) << f.name;
    EXPECT_EQ(attentionOutputWeight(m, 1).rows(), long(s.heads) * s.headWidth) << f.name;
    EXPECT_EQ(attentionOutputWeight(m, 1).cols(), s.dModel) << f.name;
    const ProjectionWeights p = attentionProjections(m, 0);
    EXPECT_EQ(p.wK.cols(), long(s.heads) * s.headWidth) << f.name;  // K expanded to the query heads
    // The projections reproduce the recorded V (V is not rotated in any family).
    const Matrix x = attentionInput(m, rec, 0);
    const ModelBlock b = m.architecture->block(rec, 0);
    Matrix v = x * p.wV;
    v.rowwise() += b.biasV.transpose();
    EXPECT_LT((v - rec.layers[0].qkv.v).cwiseAbs().maxCoeff(), 1e-5f) << f.name;
    EXPECT_LT((b.residMid - (rec.resid[0] + rec.layers[0].attnOut)).cwiseAbs().maxCoeff(), 1e-6f) << f.name;
    EXPECT_TRUE(rec.logits.allFinite());
    if (s.input == InputKind::Image) {
      EXPECT_THROW(forward(m, std::vector<int>{1, 2}), Error) << f.name << ": a vision model reads no text";
      PixelTensor wrongSize;
      wrongSize.height = wrongSize.width = 12;
      wrongSize.values.assign(3 * 144, 0.0f);
      EXPECT_THROW(forward(m, wrongSize), Error) << f.name << ": not " << s.positionsKey;
      continue;
    }
    EXPECT_THROW(forward(m, PixelTensor{}), Error) << f.name << ": a text model reads no image";
    EXPECT_THROW(forward(m, std::vector<int>(17, 1)), Error) << f.name << ": beyond " << s.positionsKey;
  }
}

// Direct logit attribution's two pieces of a family: the readout taken apart gives the readout,
// and z · W_O + the output bias gives attn_out. A decoder that reads out must give them; every
// other family refuses both with an Error. The shares then add up to the model's logit.
TEST(Families, ReadoutTakenApartIsTheReadout) {
  for (const Family& f : families()) {
    const Model m = randomModel(tinyConfig(f.modelTypes.front()), "tiny", 3);
    const ForwardRecord rec = runOnFive(m);
    const Architecture& a = *m.architecture;
    const bool decoder = m.shape.input == InputKind::Text && m.shape.causal;
    if (!decoder) {
      EXPECT_THROW(a.readoutWeights({1}), Error) << f.name;
      EXPECT_THROW(a.attentionOutputBias(0), Error) << f.name;
      EXPECT_THROW(checkAttributable(a), Error) << f.name;
      continue;
    }
    const Matrix logits = a.readout(rec.resid.back());
    const ReadoutWeights w = a.readoutWeights({7, 0});
    const Matrix normed = w.norm == NormKind::LayerNorm ? layerNorm(rec.resid.back(), w.gamma, w.beta, w.epsilon)
                                                        : rmsNorm(rec.resid.back(), w.gamma, w.epsilon);
    for (int k = 0; k < 2; ++k) {
      const Vector mine = normed * w.rows.row(k).transpose() + Vector::Constant(5, w.bias(k));
      EXPECT_LT((mine - logits.col(k == 0 ? 7 : 0)).cwiseAbs().maxCoeff(), 1e-5f) << f.name;
    }
    for (int l = 0; l < m.shape.layers; ++l) {
      Matrix attn = rec.layers[l].z * attentionOutputWeight(m, l);
      attn.rowwise() += a.attentionOutputBias(l).transpose();
      EXPECT_LT((attn - rec.layers[l].attnOut).cwiseAbs().maxCoeff(), 1e-5f) << f.name << " layer " << l;
    }
    const LogitAttribution d = directLogitAttribution(a, rec, 3, 7, 0);
    EXPECT_NEAR(d.sum(), d.logit(), 1e-4 * std::max(1.0, std::abs(d.logit()))) << f.name;
    EXPECT_NEAR(d.logit(), double(logits(3, 7)) - double(logits(3, 0)), 1e-6) << f.name;
    EXPECT_THROW(directLogitAttribution(a, rec, 5, 7), Error) << f.name << ": position past the text";
    EXPECT_THROW(directLogitAttribution(a, rec, 0, m.shape.vocabSize), Error) << f.name << ": id past the vocabulary";
  }
}

// Generation's cached step (Architecture::forwardCached): for every decoder, the prompt then one
// token at a time through the key/value cache gives the last logits of a full forward pass over
// the same text (Mistral with a sliding window shorter than the text too); without `append`
// the cache stays as it was; other families refuse with "cannot generate (decoders only)".
TEST(Families, CachedStepsGiveTheForwardPassLogits) {
  std::vector<std::string> configs;
  for (const Family& f : families()) configs.push_back(tinyConfig(f.modelTypes.front()));
  configs.push_back(R"({"model_type": "mistral", "vocab_size": 50, "max_position_embeddings": 16, "hidden_size": 8,
                        "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                        "intermediate_size": 12, "sliding_window": 3})");
  for (const std::string& config : configs) {
    const Model m = randomModel(config, "tiny", 5);
    const Architecture& a = *m.architecture;
    const std::string type = m.shape.modelType;
    KvCache cache;
    if (m.shape.input != InputKind::Text || !m.shape.causal) {
      try {
        a.forwardCached({1, 2}, cache, true);
        ADD_FAILURE() << type << ": no Error";
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), type + " cannot generate (decoders only)");
      }
      continue;
    }
    std::vector<int> ids = {1, 2, 3};
    Matrix step = a.forwardCached(ids, cache, true);
    for (int next = 4; next <= 16; ++next) {
      const Matrix full = forward(m, ids).logits.bottomRows(1);
      ASSERT_EQ(step.rows(), 1) << type;
      const float scale = std::max(1.0f, full.cwiseAbs().maxCoeff());
      EXPECT_LT((step - full).cwiseAbs().maxCoeff(), 1e-5f * scale) << type << " at " << ids.size() << " tokens";
      if (next == 16) break;
      const int token = (next * 7) % 50;
      const Matrix peek = a.forwardCached({token}, cache, false);  // the cache stays as it was
      EXPECT_EQ(cache.length, int(ids.size())) << type;
      ids.push_back(token);
      step = a.forwardCached({token}, cache, true);
      EXPECT_EQ(cache.length, int(ids.size())) << type;
      EXPECT_LT((peek - step).cwiseAbs().maxCoeff(), 1e-6f) << type;
    }
    EXPECT_THROW(a.forwardCached({1, 2}, cache, true), Error) << type << ": beyond " << m.shape.positionsKey;
    EXPECT_THROW(a.forwardCached({50}, cache, false), Error) << type << ": not in the vocabulary";
  }
}

// The draws are splitmix64's (the published first output of seed 0), and a seed advanced by n
// draws continues the same stream.
TEST(Generation, SplitMix64IsTheReferenceStream) {
  SplitMix64 zero(0);
  EXPECT_EQ(zero.next(), 0xe220a8397b1dcdafULL);
  SplitMix64 a(42);
  for (int i = 0; i < 3; ++i) a.next();
  SplitMix64 b(SplitMix64::advanced(42, 3));
  EXPECT_EQ(a.next(), b.next());
  EXPECT_LT(SplitMix64(7).uniform(), 1.0);
}

}  // namespace
}  // namespace attnviz::model
