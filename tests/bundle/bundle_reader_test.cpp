// The bundle reader on files written by NumPy and save_bundle (make_bundles.py): every dtype
// and layout it accepts gives the same numbers, computed here independently, and each
// validation failure is its one-line message.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "bundle.hpp"
#include "bundle_session.hpp"
#include "session.hpp"

namespace attnviz {
namespace {

std::string fixture(const std::string& name) { return std::string(BUNDLE_FIXTURES) + "/" + name; }

// make_bundles.py's pattern: raw = 1 + (7l + 5h + 3i + j) mod 11, rows normalised.
double pattern(int l, int h, int i, int j, int m) {
  double sum = 0;
  for (int c = 0; c < m; ++c) sum += 1 + (7 * l + 5 * h + 3 * i + c) % 11;
  return (1 + (7 * l + 5 * h + 3 * i + j) % 11) / sum;
}

void expectPattern(const AttentionBundle& b, double tolerance) {
  for (int l = 0; l < b.layers; ++l)
    for (int h = 0; h < b.heads; ++h)
      for (int i = 0; i < b.n; ++i)
        for (int j = 0; j < b.m; ++j)
          ASSERT_NEAR(b.weights(l, h)(i, j), pattern(l, h, i, j, b.m), tolerance)
              << "layer " << l << " head " << h << " [" << i << ", " << j << "]";
}

std::string errorOf(const std::string& name, BundleReadOptions options = {}) {
  try {
    readBundle(fixture(name), options);
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(what.rfind(fixture(name) + ": ", 0), 0u) << "the message starts with the path: " << what;
    return what.substr(fixture(name).size() + 2);
  }
  ADD_FAILURE() << name << " was accepted";
  return "";
}

TEST(BundleReader, StoredAndDeflatedNpzGiveThePattern) {
  for (const char* name : {"stored.npz", "deflated.npz"}) {
    const AttentionBundle b = readBundle(fixture(name));
    EXPECT_EQ(b.layers, 2);
    EXPECT_EQ(b.heads, 3);
    EXPECT_EQ(b.n, 4);
    EXPECT_EQ(b.m, 4);
    EXPECT_FALSE(b.hasQK);
    expectPattern(b, 1e-7);  // float32 of the float64 pattern
    EXPECT_EQ(b.queryTokens, (std::vector<std::string>{"The", "café", "日本", "!"}));
    EXPECT_EQ(b.keyTokens, b.queryTokens);
    EXPECT_FALSE(b.cross);
  }
}

TEST(BundleReader, Float16Float64AndFortranOrder) {
  expectPattern(readBundle(fixture("f64.npz")), 1e-7);
  expectPattern(readBundle(fixture("fortran.npz")), 1e-7);
  // float16 keeps 11 significant bits: within 2^-11 relative of values below 1.
  expectPattern(readBundle(fixture("f16.npz")), 5e-4);
}

TEST(BundleReader, TwoAndThreeDimensionalAttention) {
  const AttentionBundle two = readBundle(fixture("two_d.npz"));
  EXPECT_EQ(two.layers, 1);
  EXPECT_EQ(two.heads, 1);
  EXPECT_EQ(two.n, 3);
  EXPECT_EQ(two.m, 5);
  EXPECT_TRUE(two.cross);
  EXPECT_EQ(two.keyTokens.back(), "k4");
  expectPattern(two, 1e-7);
  const AttentionBundle three = readBundle(fixture("three_d.npz"));
  EXPECT_EQ(three.layers, 1);
  EXPECT_EQ(three.heads, 2);
  EXPECT_FALSE(three.hasLabels);
  EXPECT_EQ(three.queryTokens[2], "q2");
  expectPattern(three, 1e-7);
}

TEST(BundleReader, SafetensorsBundles) {
  const AttentionBundle w = readBundle(fixture("weights.safetensors"));
  expectPattern(w, 1e-7);
  EXPECT_EQ(w.queryTokens[1], "café");
  const AttentionBundle npz = readBundle(fixture("qkv.npz"));
  const AttentionBundle st = readBundle(fixture("qkv.safetensors"));
  ASSERT_TRUE(st.hasQK);
  ASSERT_TRUE(st.hasV);
  EXPECT_EQ(st.dHead, 4);
  EXPECT_EQ(st.dValue, 3);
  EXPECT_EQ(st.metadata, npz.metadata);
  EXPECT_NE(st.metadata.find("toy"), std::string::npos);
  for (int l = 0; l < 2; ++l) {
    EXPECT_EQ(st.q[l], npz.q[l]);
    EXPECT_EQ(st.k[l], npz.k[l]);
    EXPECT_EQ(st.v[l], npz.v[l]);
  }
  EXPECT_EQ(st.attention, npz.attention);
}

TEST(BundleReader, RecomputedWeightsMatchTheGivenOnes) {
  // make_bundles.py computed the weights in float64 with a causal mask; the engine infers the
  // mask from the zeros above the diagonal and recomputes them in float32.
  for (const char* name : {"qkv.npz", "qkv_masked.npz"}) {
    const BundleRef ref{fixture(name), false};
    const Session s = bundleSession(ref);
    EXPECT_EQ(s.options.heads, 2);
    EXPECT_NE(s.options.mask, MaskKind::None) << name;
    for (int layer = 0; layer < 2; ++layer) {
      Session at = s;
      at.view.layer = layer;
      const PreparedSession p = prepare(at);
      EXPECT_EQ(p.modelLayers, 2);
      EXPECT_EQ(p.queryLabels[2], "a");
      const AttentionTrace t = computeSessionTrace(p, at.options);
      const WeightsDifference d = compareWithGiven(t, *p.bundle, layer);
      EXPECT_LT(d.maxAbs, 1e-6) << name << " layer " << layer << ": " << describeDifference(d);
    }
  }
}

TEST(BundleReader, WeightsAloneGiveAWeightsTrace) {
  const Session s = bundleSession({fixture("stored.npz"), false});
  Session at = s;
  at.view.layer = 1;
  const PreparedSession p = prepare(at);
  ASSERT_TRUE(p.givenTrace);
  const AttentionTrace t = computeSessionTrace(p, at.options);
  EXPECT_EQ(t.head[2].weights, p.bundle->weights(1, 2));
  // Row statistics of the given weights, computed here from the pattern.
  double entropy = 0;
  for (int j = 0; j < 4; ++j) entropy -= pattern(1, 2, 3, j, 4) * std::log(pattern(1, 2, 3, j, 4));
  EXPECT_NEAR(t.head[2].stats.entropy(3), entropy, 1e-6);
  EXPECT_THROW(prepare([&] { Session x = s; x.view.layer = 2; return x; }()), Error);
}

TEST(BundleReader, MissingAttention) {
  EXPECT_EQ(errorOf("no_attention.npz"),
            "no \"attention\" array (found: tokens); save_bundle(path, tokens, attention) writes one");
}

TEST(BundleReader, FiveDimensionalAttentionSaysHowToDropTheBatchAxis) {
  const std::string e = errorOf("five_d.npz");
  EXPECT_EQ(e.rfind("attention is 5-D [1, 2, 3, 4, 4]: drop the batch axis", 0), 0u) << e;
  EXPECT_NE(e.find("attention[0]"), std::string::npos) << e;
  EXPECT_EQ(errorOf("one_d.npz"), "attention is 1-D [4]: expected [layers, heads, n, m], [heads, n, m] or [n, m]");
}

TEST(BundleReader, ShapesThatDisagreeNameBoth) {
  EXPECT_EQ(errorOf("q_shape.npz"), "q [2, 2, 4, 4] and attention [2, 2, 5, 5] disagree: q must be "
                                    "[layers, heads, n, d_head] = [2, 2, 5, d_head]");
  EXPECT_EQ(errorOf("k_width.npz"), "q [2, 2, 5, 4] and k [2, 2, 5, 3] disagree: their last axis (d_head) must be the same");
  EXPECT_EQ(errorOf("q_without_k.npz"), "q is given without k: recomputing the weights needs both");
  EXPECT_EQ(errorOf("mask_shape.npz"), "mask [4, 3] and attention [2, 3, 4, 4] disagree: mask must be [n, m] = [4, 4]");
}

TEST(BundleReader, RowsThatDoNotSumToOneAreNamedAndCanBeShownAsGiven) {
  EXPECT_EQ(errorOf("row_sum.npz"), "attention layer 1, head 2, row 3 sums to 1.5, not 1 (within 1e-3); "
                                    "pass --allow-unnormalised to show the weights as given");
  EXPECT_EQ(errorOf("negative.npz"), "attention layer 0, head 1, row 2, column 0 is negative (-0.25); "
                                     "pass --allow-unnormalised to show the weights as given");
  BundleReadOptions asGiven;
  asGiven.allowUnnormalised = true;
  const AttentionBundle b = readBundle(fixture("row_sum.npz"), asGiven);
  EXPECT_NEAR(b.weights(1, 2).row(3).sum(), 1.5, 1e-6);
  ASSERT_EQ(b.rowsNotNormalised.size(), 1u);
}

TEST(BundleReader, NaNAndInfinityAreLocated) {
  EXPECT_EQ(errorOf("nan.npz"), "attention layer 1, head 0, row 2, column 3 is NaN");
  EXPECT_EQ(errorOf("inf.npz"), "attention layer 0, head 2, row 1, column 1 is infinite");
  EXPECT_EQ(errorOf("q_nan.npz"), "q layer 1, head 1, row 2, column 3 is NaN");
}

TEST(BundleReader, LabelsOfTheWrongCountOrKind) {
  EXPECT_EQ(errorOf("labels_count.npz"), "tokens has 3 labels but attention [2, 3, 4, 4] has n = 4");
  EXPECT_EQ(errorOf("labels_count.safetensors"), "tokens has 3 labels but attention [2, 2] has n = 2");
  EXPECT_EQ(errorOf("labels_self_not_square.npz"),
            "tokens has 3 labels but attention [1, 1, 3, 5] has n = 3 queries and m = 5 keys: give query_tokens "
            "and key_tokens instead");
  EXPECT_EQ(errorOf("labels_numbers.npz"), "tokens must be a string array (np.array(list_of_str)), not numbers");
  EXPECT_EQ(errorOf("labels_both.npz"), "give tokens (self-attention) or query_tokens and key_tokens, not both");
  EXPECT_EQ(errorOf("object_tokens.npz"),
            "tokens: an object array (dtype=object) cannot be read without pickle; save strings as "
            "np.array(list_of_str) and numbers as a float array");
}

TEST(BundleReader, VersionUnknownArraysAndNotAZip) {
  EXPECT_EQ(errorOf("newer.npz"), "bundle format_version 2 is newer than this attnviz (reads up to 1); update attnviz");
  EXPECT_EQ(errorOf("unknown_key.npz"), "unknown array \"attentions\" (a bundle holds attention, tokens, query_tokens, "
                                        "key_tokens, q, k, v, mask, metadata, format_version)");
  EXPECT_EQ(errorOf("not_a_zip.npz"), "not a readable .npz (zip) archive: Not a zip archive");
  EXPECT_EQ(errorOf("big_endian.npz"), "attention: big-endian dtype '>f4' is not supported (save with .astype('<f4'))");
}

TEST(BundleSession, SavedSessionsReferenceTheBundleByPath) {
  Session s = bundleSession({fixture("qkv.npz"), true});
  s.view.layer = 1;
  const Session back = parseSession(serializeSession(s), "s.json");
  EXPECT_EQ(back.bundle.path, fixture("qkv.npz"));
  EXPECT_TRUE(back.bundle.allowUnnormalised);
  EXPECT_EQ(back.view.layer, 1);
  EXPECT_EQ(back.options.heads, 2);
  EXPECT_EQ(prepare(back).queryLabels.size(), 5u);

  Session gone = s;
  gone.bundle.path = fixture("no_such_bundle.npz");
  try {
    prepare(gone);
    ADD_FAILURE() << "a missing bundle was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), fixture("no_such_bundle.npz") + ": the attention bundle does not exist (moved or deleted?)");
  }
}

}  // namespace
}  // namespace attnviz
