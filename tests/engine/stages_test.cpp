// The stage registry: every stage named once, the trace holding every stage (heads · W_O
// included), the one numbers layout, the scale stated once and sessions storing the step by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "blocks.hpp"
#include "matrix_io.hpp"
#include "model_block.hpp"
#include "numbers.hpp"
#include "reference.hpp"
#include "session.hpp"
#include "session_stages.hpp"
#include "stages.hpp"
#include "tokens.hpp"

namespace attnviz {
namespace {

namespace fs = std::filesystem;

TEST(Stages, EveryStageHasOneUniqueNameThatParses) {
  std::set<std::string> names;
  for (int k = 0; k < kStageCount; ++k) {
    const StageInfo& s = stageList()[std::size_t(k)];
    EXPECT_EQ(int(s.id), k) << s.name;  // the registry is indexed by StageId
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_EQ(parseStage(s.name), s.id);
  }
  // The strip shows every stage once: the model's steps before and after the attention ones,
  // which keep their order.
  std::set<StageId> shown(stripOrder().begin(), stripOrder().end());
  EXPECT_EQ(int(shown.size()), kStageCount);
  std::vector<StageId> attention;
  for (StageId id : stripOrder())
    if (!stageInfo(id).needsModel) attention.push_back(id);
  ASSERT_EQ(int(attention.size()), kAttentionStageCount);
  for (int k = 0; k < kAttentionStageCount; ++k) EXPECT_EQ(int(attention[std::size_t(k)]), k);
  EXPECT_EQ(stripOrder().front(), StageId::Embedding);
  EXPECT_EQ(stripOrder().back(), StageId::PostNorm);
  try {
    parseStage("softmax");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown stage \"softmax\" (expected one of scores, scaled, masked, minus_row_max, exp, row_sum, "
              "weights, output, projected, embedding, resid_pre, ln_1, q, k, v, resid_mid, rope, post_ln)");
  }
}

TEST(Stages, TheTraceHoldsHeadsTimesWOInTokenMode) {
  const Session s = loadSample("pronoun-toy");
  const PreparedSession p = prepare(s);
  const AttentionTrace t = computeAttention(p.inputs, s.options);
  ASSERT_TRUE(stageExists(t, StageId::Projected));
  EXPECT_TRUE(t.projected.isApprox(outputProjection(*p.model, t)));
  EXPECT_EQ(t.projected.cols(), 32);

  // V edits recompute it from the new output; matrices mode has no projection at all.
  AttentionPipeline pipeline;
  pipeline.setInputs(p.inputs);
  pipeline.setOptions(s.options);
  pipeline.run();
  Matrix v = p.inputs.v * 2.0f;
  pipeline.setValues(v);
  EXPECT_TRUE(pipeline.run().projected.isApprox(t.projected * 2.0f, 1e-5f));

  Session m = loadSample("temperature");
  const AttentionTrace tm = computeAttention(prepare(m).inputs, m.options);
  EXPECT_FALSE(stageExists(tm, StageId::Projected));
  EXPECT_EQ(tm.projected.size(), 0);
}

TEST(Stages, WOOfTheWrongWidthIsRefused) {
  AttentionInputs in{test::randomMatrix(3, 4, 1), test::randomMatrix(3, 4, 2), test::randomMatrix(3, 4, 3),
                     test::randomMatrix(6, 5, 4)};
  try {
    computeAttention(in, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "W_O is 6×5 but V is 3×4: W_O needs as many rows as V has columns (d_v)");
  }
}

TEST(Stages, ValuesAndDisplayFollowTheMask) {
  AttentionOptions o;
  o.mask = MaskKind::Causal;
  o.heads = 2;
  const AttentionInputs in{test::randomMatrix(4, 4, 1), test::randomMatrix(5, 4, 2), test::randomMatrix(5, 2, 3)};
  const AttentionTrace t = computeAttention(in, o);
  Matrix a, b;
  const Matrix& shifted = stageValues(t, StageId::MinusRowMax, 1, a);
  for (int i = 0; i < t.n; ++i)
    for (int j = 0; j < t.m; ++j) {
      const bool allowed = isAllowed(o, t.n, t.m, i, j);
      EXPECT_EQ(std::isfinite(shifted(i, j)), allowed);
      if (allowed) EXPECT_FLOAT_EQ(shifted(i, j), t.head[1].masked(i, j) - t.head[1].rowMax(i));
      // The numbers keep a weight of 0; the heatmap shows the cell masked.
      EXPECT_EQ(stageValues(t, StageId::Weights, 1, a)(i, j) == 0, !allowed || t.head[1].weights(i, j) == 0);
      EXPECT_EQ(std::isfinite(stageDisplay(t, StageId::Weights, 1, b)(i, j)), allowed);
    }
  EXPECT_TRUE(stageValues(t, StageId::RowSum, 0, a) == Matrix(t.head[0].rowSum));
  EXPECT_EQ(stageDisplay(t, StageId::RowSum, 0, b).rows(), t.n);  // the exp values, sums beside them
  EXPECT_EQ(stageDisplay(t, StageId::RowSum, 0, b).cols(), t.m);
}

TEST(Stages, DerivedStagesAreRebuiltWhenNotKept) {
  const AttentionInputs in{test::randomMatrix(6, 4, 1), test::randomMatrix(6, 4, 2), test::randomMatrix(6, 4, 3)};
  AttentionOptions o;
  o.mask = MaskKind::Causal;
  const AttentionTrace kept = computeAttention(in, o), lean = computeAttention(in, o, false);
  for (const StageInfo& s : stageList()) {
    if (!stageExists(kept, s.id)) continue;
    Matrix a, b;
    EXPECT_TRUE(stageValues(kept, s.id, 0, a) == stageValues(lean, s.id, 0, b)) << s.name;
  }
}

TEST(Stages, TheScaleIsStatedOnce) {
  const Session s = loadSample("temperature");
  AttentionOptions o = s.options;
  o.temperature = 0.1f;
  EXPECT_EQ(describeScale(o, 4), "scale 1/\u221A4 = 0.5, \u00F7 temperature 0.1 \u2192 5");
  o.temperature = 1;
  EXPECT_EQ(describeScale(o, 2), "scale 1/\u221A2 = 0.707");
  o.scaleOverride = 0.25f;
  EXPECT_EQ(describeScale(o, 2), "scale 0.25 (set)");
  o.scaleOverride.reset();
  o.score = ScoreFunction::Dot;
  o.temperature = 2;
  EXPECT_EQ(describeScale(o, 2), "no scaling, \u00F7 temperature 2 \u2192 0.5");
}

fs::path tempDir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("attnviz_stages_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  return d;
}

TEST(Numbers, OneFilePerStageNamedByTheRegistryPlusQKV) {
  const Session s = loadSample("pronoun-toy");
  const PreparedSession p = prepare(s);
  const AttentionTrace t = computeAttention(p.inputs, s.options);
  const fs::path dir = tempDir("npy");
  const int files = writeNumbers(dir.string(), t, p.inputs, {s.name, s.mode, "CPU", &*p.model}, NumbersFormat::Npy);
  std::set<std::string> want{"q.npy", "k.npy", "v.npy", "trace.json", "tokens.json"};
  for (const StageInfo& st : stageList())
    if (!st.needsModel) want.insert(std::string(st.name) + ".npy");  // a trace has no model stages
  std::set<std::string> got;
  for (const auto& e : fs::directory_iterator(dir)) got.insert(e.path().filename().string());
  EXPECT_EQ(got, want);
  EXPECT_EQ(files, int(want.size()));
  // A 3-D [H, n, d_head] file reads back as n × (H · d_head) with its head count, as the
  // command line and the app read Q, K, V files.
  const LoadedMatrix q = readMatrixFile((dir / "q.npy").string());
  EXPECT_EQ(q.heads, 4);
  EXPECT_TRUE(q.values == p.inputs.q);
  const LoadedMatrix w = readMatrixFile((dir / "weights.npy").string());
  EXPECT_EQ(w.heads, 4);
  EXPECT_TRUE(w.values.middleCols(11, 11) == t.head[1].weights);
  const LoadedMatrix sums = readMatrixFile((dir / "row_sum.npy").string());  // [H, n]
  EXPECT_EQ(sums.values.rows(), 4);
  EXPECT_TRUE(Vector(sums.values.row(2).transpose()) == t.head[2].rowSum);
  EXPECT_TRUE(readMatrixFile((dir / "projected.npy").string()).values == t.projected);
  const std::string trace = readFile((dir / "trace.json").string());
  EXPECT_NE(trace.find("\"base_scale\""), std::string::npos);
  EXPECT_NE(trace.find("\"effective_scale\""), std::string::npos);
  fs::remove_all(dir);

  const fs::path csv = tempDir("csv");
  writeNumbers(csv.string(), t, p.inputs, {s.name, s.mode, "CPU", &*p.model}, NumbersFormat::Csv);
  const LoadedMatrix wc = readMatrixFile((csv / "weights.csv").string());  // heads stacked: H·n rows
  EXPECT_EQ(wc.values.rows(), 44);
  EXPECT_TRUE(wc.values.middleRows(11, 11).isApprox(t.head[1].weights, 1e-6f));
  fs::remove_all(csv);
}

// The RoPE step (issue 16) exists for a rotary model's block only; it shows the head's columns
// of Q or K after or before the rotation, K of the K/V head the query head reads, and the
// rotation is the pair formula of Hugging Face's rotate_half, checked here in double.
TEST(Stages, RopeStageShowsEachPairTurnedByPositionTimesFrequency) {
  const int n = 6, heads = 2, dh = 4, half = dh / 2;
  auto block = std::make_shared<ModelBlock>();
  block->heads = heads;
  block->kvHeads = 1;  // grouped-query attention: both query heads read K/V head 0
  block->headDim = dh;
  block->qUnrotated = test::randomMatrix(n, heads * dh, 7);
  const Matrix kvHead = test::randomMatrix(n, dh, 8);
  block->kUnrotated.resize(n, heads * dh);
  block->kUnrotated << kvHead, kvHead;
  const std::vector<double> inv{1.0, 0.05};
  block->ropeInverseFrequencies.resize(2);
  block->ropeInverseFrequencies << 1.0f, 0.05f;
  for (int i = 0; i < n; ++i) block->positions.push_back(i);
  block->qRotated = model::applyRope(block->qUnrotated, heads, inv);
  block->kRotated = model::applyRope(block->kUnrotated, heads, inv);
  PreparedSession p;
  p.block = block;
  p.model = TokenModel{};
  p.modelHeads = heads;
  p.inputs.q = block->qRotated;
  p.inputs.k = block->kRotated;
  const AttentionTrace none;
  ASSERT_TRUE(stageExists(none, p, StageId::Rope));
  EXPECT_EQ(block->kvHeadOf(1), 0);

  Matrix a, b;
  const Matrix& q1 = modelStageValues(p, StageId::Rope, 1, a);  // the rotated Q by default
  ASSERT_EQ(q1.rows(), n);
  ASSERT_EQ(q1.cols(), dh);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < half; ++c) {
      const double theta = i * inv[std::size_t(c)], x = block->qUnrotated(i, dh + c), y = block->qUnrotated(i, dh + c + half);
      EXPECT_NEAR(q1(i, c), x * std::cos(theta) - y * std::sin(theta), 1e-6) << i << "," << c;
      EXPECT_NEAR(q1(i, c + half), y * std::cos(theta) + x * std::sin(theta), 1e-6) << i << "," << c;
    }
  // Position 0 does not turn; the rotation keeps each pair's length.
  EXPECT_TRUE(q1.row(0).isApprox(block->qUnrotated.row(0).segment(dh, dh), 1e-6f));
  for (int i = 0; i < n; ++i)
    EXPECT_NEAR(q1.row(i).norm(), block->qUnrotated.row(i).segment(dh, dh).norm(), 1e-5);
  // K of query head 1 is K/V head 0's, before and after the rotation.
  EXPECT_TRUE(ropeStageValues(p, RopeShown::KeyUnrotated, 1, a) == kvHead);
  EXPECT_TRUE(ropeStageValues(p, RopeShown::KeyRotated, 1, a) == ropeStageValues(p, RopeShown::KeyRotated, 0, b));
  EXPECT_TRUE(ropeStageValues(p, RopeShown::QueryUnrotated, 1, a) == Matrix(block->qUnrotated.middleCols(dh, dh)));
  // The projections' steps show Q and K before the rotation in a rotary model.
  EXPECT_TRUE(modelStageValues(p, StageId::Query, 1, a) == Matrix(block->qUnrotated.middleCols(dh, dh)));
  EXPECT_TRUE(modelStageValues(p, StageId::Key, 0, a) == kvHead);
  EXPECT_EQ(findRopeShown("k_unrotated"), RopeShown::KeyUnrotated);
  EXPECT_FALSE(findRopeShown("v").has_value());

  // Without frequencies (GPT-2's block) there is no RoPE step.
  auto plain = std::make_shared<ModelBlock>(*block);
  plain->ropeInverseFrequencies.resize(0);
  p.block = plain;
  EXPECT_FALSE(stageExists(none, p, StageId::Rope));
  EXPECT_THROW(ropeStageValues(p, RopeShown::QueryRotated, 0, a), Error);
}

TEST(SessionStep, IsStoredByNameAndOldIndicesStillLoad) {
  Session s = loadSample("causal-lm-toy");
  s.view.step = int(StageId::Exp);
  const std::string json = serializeSession(s);
  EXPECT_NE(json.find("\"step\": \"exp\""), std::string::npos) << json;
  EXPECT_EQ(parseSession(json, "s.json").view.step, int(StageId::Exp));
  std::string old = json;
  old.replace(old.find("\"exp\""), 5, "6");
  EXPECT_EQ(parseSession(old, "s.json").view.step, int(StageId::Weights));
  std::string bad = json;
  bad.replace(bad.find("\"exp\""), 5, "\"softmax\"");
  try {
    parseSession(bad, "s.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"step\" must be one of scores, scaled"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace attnviz
