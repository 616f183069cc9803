#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "matrix_io.hpp"
#include "session.hpp"

namespace attnviz {
namespace {

std::string errorOf(const std::string& json) {
  try {
    parseSession(json, "s.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Session, RoundTripKeepsInputsOptionsAndView) {
  Session s;
  s.name = "t";
  s.description = "d";
  s.mode = InputMode::Matrices;
  s.matrices.q = Matrix::Constant(2, 2, 0.1f);
  s.matrices.k = Matrix::Constant(3, 2, -2.5f);
  s.matrices.v = Matrix::Constant(3, 1, 1e-3f);
  s.options.temperature = 0.7f;
  s.options.scaleOverride = 0.3f;
  s.options.mask = MaskKind::Custom;
  s.options.customMask = MaskMatrix::Ones(2, 3);
  s.options.customMask(1, 2) = 0;
  s.view.step = 3;
  s.view.selectedRow = 1;
  s.view.selectedCol = 2;
  const Session back = parseSession(serializeSession(s), "rt.json");
  EXPECT_TRUE(back.matrices.q == s.matrices.q);
  EXPECT_TRUE(back.matrices.k == s.matrices.k);
  EXPECT_TRUE(back.matrices.v == s.matrices.v);
  EXPECT_TRUE(back.options == s.options);
  EXPECT_EQ(back.view, s.view);
  EXPECT_NE(serializeSession(s).find("0.1,"), std::string::npos);  // shortest form, not 0.100000001

  Session t;
  t.mode = InputMode::Tokens;
  t.tokens.text = "注意力 is all";
  t.tokens.source = "x";
  t.tokens.dModel = 12;
  t.tokens.positional = false;
  t.options.heads = 3;
  const Session tb = parseSession(serializeSession(t), "t.json");
  EXPECT_EQ(tb.tokens, t.tokens);
  EXPECT_EQ(tb.options.heads, 3);
}

// A vision model's session (issue 23): the picture view's settings round-trip; the picture is
// named with its SHA-256, and a file changed since is refused in one line, never shown instead.
TEST(Session, PictureSettingsAndTheImageHashRoundTrip) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("attnviz-session-picture-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path picture = dir / "scene.png";
  fs::copy_file(fs::path(dataDirectory()) / "samples" / "scenes" / "red-square.png", picture,
                fs::copy_options::overwrite_existing);
  Session s = loadSample("scene-red-square");
  s.tokens.image = picture.string();
  s.view.picture.heads = PictureHeads::All;
  s.view.picture.rollout = true;
  s.view.picture.fusion = model::HeadFusion::Max;
  s.view.picture.opacity = 0.35f;
  s.view.picture.smooth = true;
  s.view.picture.keep = 0.6f;
  s.view.picture.rolloutFrom = 2;
  const std::string text = serializeSession(s);
  const Session back = parseSession(text, "s.json");
  EXPECT_EQ(back.view.picture, s.view.picture);
  EXPECT_EQ(back.tokens.imageSha256, pictureSha256(picture.string()));
  EXPECT_EQ(back.tokens.imageSha256.size(), 64u);
  EXPECT_NO_THROW(prepare(back));
  // The same name, other bytes: refused, naming the file.
  fs::copy_file(fs::path(dataDirectory()) / "samples" / "scenes" / "red-cross.png", picture,
                fs::copy_options::overwrite_existing);
  try {
    prepare(back);
    ADD_FAILURE() << "a changed picture was used";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scene.png changed since the session was saved"), std::string::npos) << e.what();
  }
  // Older sessions (no picture settings, no hash) open with the defaults and are not checked.
  const Session old = loadSample("scene-red-circle");
  EXPECT_EQ(old.view.picture, PictureView{});
  EXPECT_TRUE(old.tokens.imageSha256.empty());
  EXPECT_NE(errorOf(R"({"format": "attnviz-session", "version": 2, "mode": "model",
    "model": {"name": "attnviz-vit-mini", "image": "x.png", "image_sha256": "xyz"}})").find("image_sha256"),
            std::string::npos);
  EXPECT_NE(errorOf(R"({"format": "attnviz-session", "version": 2, "mode": "model",
    "model": {"name": "attnviz-vit-mini", "image": "x.png"}, "view": {"picture": {"opacity": 3}}})").find("opacity"),
            std::string::npos);
  fs::remove_all(dir);
}

// A decoder's generated tokens are kept as ids after the text's own (issue 26): saved, appended to
// the pass's input, and refused in one line for an encoder or an id outside the vocabulary.
TEST(Session, GeneratedTokensRoundTripAndFollowTheText) {
  Session s = loadSample("induction");
  const PreparedSession before = prepare(s);
  s.tokens.generated = {262, 64, 1515};
  const Session back = parseSession(serializeSession(s), "g.json");
  EXPECT_EQ(back.tokens.generated, s.tokens.generated);
  const PreparedSession after = prepare(back);
  ASSERT_EQ(after.tokenIds.size(), before.tokenIds.size() + 3);
  EXPECT_TRUE(std::equal(before.tokenIds.begin(), before.tokenIds.end(), after.tokenIds.begin()));
  EXPECT_EQ(after.tokenIds.back(), 1515);
  EXPECT_EQ(after.queryLabels.size(), after.tokenIds.size());
  Session bad = s;
  bad.tokens.generated = {1 << 29};
  try {
    prepare(bad);
    ADD_FAILURE() << "an id outside the vocabulary was used";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocabulary"), std::string::npos) << e.what();
  }
  Session encoder = loadSample("bert-pronoun");
  encoder.tokens.generated = {5};
  try {
    prepare(encoder);
    ADD_FAILURE() << "an encoder took generated tokens";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("decoders only"), std::string::npos) << e.what();
  }
  EXPECT_NE(errorOf(R"({"format": "attnviz-session", "version": 2, "mode": "model", "model": {"name": "attnviz-mini", "text": "a", "generated": [-1]}})"),
            "no error");
}

TEST(Session, RejectsUnknownKeysVersionsAndModes) {
  EXPECT_EQ(errorOf(R"({"version": 3, "mode": "tokens", "tokens": {"text": "a"}})"),
            "s.json: session version 3 is newer than this attnviz (reads up to 2); update attnviz");
  EXPECT_EQ(errorOf(R"({"version": 1, "mode": "tokens", "tokens": {"text": "a"}, "colour": 1})"),
            "s.json: unknown key \"colour\"");
  EXPECT_EQ(errorOf(R"({"version": 1, "mode": "tokens", "tokens": {"txt": "a"}})"),
            "s.json: tokens: unknown key \"txt\"");
  EXPECT_EQ(errorOf(R"({"mode": "tokens"})"), "s.json: missing integer \"version\" (this attnviz reads version 2)");
  EXPECT_EQ(errorOf(R"({"version": 1, "mode": "pictures"})"), "s.json: \"mode\" must be \"matrices\" or \"tokens\"");
  EXPECT_EQ(errorOf(R"({"version": 1, "mode": "matrices", "matrices": {"q": [[1]], "k": [[1]], "v": [[1], 2]}})"),
            "s.json: matrices.v: row 1 is not an array");
  EXPECT_EQ(errorOf("{\"version\": 1,"), "s.json: byte 14: invalid JSON, unexpected end of input");
  EXPECT_EQ(errorOf(R"({"version": 1, "mode": "tokens", "tokens": {"text": "a"}, "options": {"temperature": -1}})"),
            "s.json: options: \"temperature\" must be > 0");
}

TEST(Samples, EveryBuiltInSampleLoadsAndComputes) {
  const auto samples = listSamples();
  ASSERT_GE(samples.size(), 9u);
  bool sawDefault = false;
  for (const SampleInfo& info : samples) {
    SCOPED_TRACE(info.name);
    EXPECT_FALSE(info.description.empty());
    const Session s = loadSample(info.name);
    const PreparedSession p = prepare(s);
    const AttentionTrace t = computeAttention(p.inputs, s.options);
    EXPECT_TRUE(t.head[0].weights.allFinite());
    EXPECT_EQ(p.queryLabels.size(), size_t(t.n));
    EXPECT_EQ(p.keyLabels.size(), size_t(t.m));
    sawDefault |= info.name == kDefaultSample;
  }
  EXPECT_TRUE(sawDefault);
  EXPECT_EQ(prepare(loadSample("long-512")).queryLabels.size(), 512u);
  EXPECT_EQ(prepare(loadSample("chinese")).queryLabels.size(), 14u);
  try {
    loadSample("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown sample \"nope\" (known: "), std::string::npos);
  }
}

}  // namespace
}  // namespace attnviz
