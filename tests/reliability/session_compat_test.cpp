// Session format compatibility: every committed file of an older (or the current) version
// loads unchanged; newer and unknown versions are refused with a message.
#include <gtest/gtest.h>

#include "session.hpp"

namespace attnviz {
namespace {

const std::string kFixture = std::string(RELIABILITY_DIR) + "/data/session-v1.json";

TEST(SessionCompat, Version1FixtureLoads) {
  const Session s = loadSession(kFixture);
  EXPECT_EQ(s.name, "Version 1 compatibility fixture");
  EXPECT_EQ(s.mode, InputMode::Matrices);
  Matrix q(3, 2), k(3, 2), v(3, 2);
  q << 1, 0, 0, 1, 0.5f, 0.5f;
  k << 1, 0, 0, 1, -1, 2;
  v << 1, 2, 3, 4, 5, 6;
  EXPECT_EQ(s.matrices.q, q);
  EXPECT_EQ(s.matrices.k, k);
  EXPECT_EQ(s.matrices.v, v);
  EXPECT_EQ(s.options.score, ScoreFunction::Dot);
  ASSERT_TRUE(s.options.scaleOverride.has_value());
  EXPECT_EQ(*s.options.scaleOverride, 0.5f);
  EXPECT_EQ(s.options.temperature, 2.0f);
  EXPECT_EQ(s.options.heads, 2);
  ASSERT_EQ(s.options.mask, MaskKind::Custom);
  MaskMatrix mask(3, 3);
  mask << 1, 0, 0, 1, 1, 0, 1, 1, 1;
  EXPECT_EQ(s.options.customMask, mask);
  EXPECT_EQ(s.view, (ViewState{3, -1, 2, 1}));
  // It still computes.
  const PreparedSession p = prepare(s);
  const AttentionTrace t = computeAttention(p.inputs, s.options);
  EXPECT_EQ(t.heads, 2);
}

TEST(SessionCompat, SavedAgainItRoundTrips) {
  const Session s = loadSession(kFixture);
  const Session back = parseSession(serializeSession(s), "saved");
  EXPECT_EQ(serializeSession(back), serializeSession(s));
  EXPECT_NE(serializeSession(s).find("\"version\": " + std::to_string(kSessionVersion)), std::string::npos);
}

TEST(SessionCompat, NewerAndUnknownVersionsAreRefused) {
  const auto message = [](const std::string& version) {
    try {
      parseSession("{\"version\": " + version + ", \"mode\": \"tokens\", \"tokens\": {\"text\": \"a\"}}", "s.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(message("3"), "s.json: session version 3 is newer than this attnviz (reads up to 2); update attnviz");
  EXPECT_EQ(message("0"), "s.json: unknown session version 0");
  EXPECT_EQ(message("-3"), "s.json: unknown session version -3");
  EXPECT_EQ(message("\"1\""), "s.json: missing integer \"version\" (this attnviz reads version 2)");
  EXPECT_EQ(message("1.5"), "s.json: missing integer \"version\" (this attnviz reads version 2)");
}

}  // namespace
}  // namespace attnviz
