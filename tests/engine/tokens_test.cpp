#include <gtest/gtest.h>

#include <cmath>

#include "tokens.hpp"

namespace attnviz {
namespace {

using Tokens = std::vector<std::string>;

TEST(Tokenizer, WordsKeepInnerApostrophesAndSplitPunctuation) {
  EXPECT_EQ(tokenize("The animal didn't cross the street because it was too tired", TokenizerKind::Words),
            (Tokens{"The", "animal", "didn't", "cross", "the", "street", "because", "it", "was", "too", "tired"}));
  EXPECT_EQ(tokenize("Hello, world!  (ok)", TokenizerKind::Words),
            (Tokens{"Hello", ",", "world", "!", "(", "ok", ")"}));
  EXPECT_EQ(tokenize("L'accord a été signé en août 1992.", TokenizerKind::Words),
            (Tokens{"L'accord", "a", "été", "signé", "en", "août", "1992", "."}));
  EXPECT_EQ(tokenize("'quoted'", TokenizerKind::Words), (Tokens{"'", "quoted", "'"}));
}

TEST(Tokenizer, CjkIsOneTokenPerCharacterInWordMode) {
  EXPECT_EQ(tokenize("注意力机制，好", TokenizerKind::Words), (Tokens{"注", "意", "力", "机", "制", "，", "好"}));
  EXPECT_EQ(tokenize("GPU加速", TokenizerKind::Words), (Tokens{"GPU", "加", "速"}));
}

TEST(Tokenizer, CharsModeSplitsEveryCodePointExceptSpaces) {
  EXPECT_EQ(tokenize("ab é", TokenizerKind::Chars), (Tokens{"a", "b", "é"}));
  EXPECT_EQ(tokenize("", TokenizerKind::Chars), Tokens{});
}

TEST(Tokenizer, InvalidUtf8NamesTheByteOffset) {
  try {
    tokenize(std::string("ok \xC3("), TokenizerKind::Words);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "invalid UTF-8 at byte 3");  // where the broken sequence starts
  }
  EXPECT_THROW(decodeUtf8("\xC0\xAF"), Error);          // overlong '/'
  EXPECT_THROW(decodeUtf8("\xED\xA0\x80"), Error);      // UTF-16 surrogate
  EXPECT_THROW(decodeUtf8("\xF0\x9F\x98"), Error);      // truncated 4-byte sequence
  EXPECT_EQ(decodeUtf8("\xF0\x9F\x98\x80").at(0), char32_t(0x1F600));
}

TEST(Embedding, SameTokenSameVectorAndSeedMatters) {
  const Vector a = tokenEmbedding("it", 16, 42), b = tokenEmbedding("it", 16, 42);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == tokenEmbedding("it", 16, 43));
  EXPECT_FALSE(a == tokenEmbedding("It", 16, 42));
  EXPECT_LE(a.cwiseAbs().maxCoeff(), 1.0f);
}

TEST(Embedding, PositionalEncodingFollowsTheSinusoidFormula) {
  const Matrix pe = positionalEncoding(50, 8);
  for (int p : {0, 1, 7, 49})
    for (int i = 0; i < 8; ++i) {
      const double angle = p / std::pow(10000.0, (2.0 * (i / 2)) / 8);
      EXPECT_NEAR(pe(p, i), i % 2 ? std::cos(angle) : std::sin(angle), 1e-6);
    }
}

TEST(Embedding, GlorotUniformStaysInBoundsAndIsSeeded) {
  const Matrix w = glorotUniform(32, 32, 5);
  const float bound = std::sqrt(6.0f / 64);
  EXPECT_LE(w.cwiseAbs().maxCoeff(), bound);
  EXPECT_GT(w.cwiseAbs().maxCoeff(), 0.8f * bound);
  EXPECT_NEAR(w.mean(), 0.0, 0.05);
  EXPECT_TRUE(w == glorotUniform(32, 32, 5));
  EXPECT_FALSE(w == glorotUniform(32, 32, 6));
}

TEST(TokenModel, SelfAndCrossAttentionShapes) {
  TokenConfig self;
  self.text = "a b a";
  self.dModel = 8;
  const TokenModel s = buildTokenModel(self);
  EXPECT_FALSE(s.cross);
  EXPECT_EQ(s.xQuery.rows(), 3);
  self.positional = false;
  const TokenModel noPos = buildTokenModel(self);
  EXPECT_TRUE(noPos.xQuery.row(0) == noPos.xQuery.row(2));  // same token, same embedding

  TokenConfig cross = self;
  cross.source = "x y z w";
  const TokenModel c = buildTokenModel(cross);
  EXPECT_TRUE(c.cross);
  const AttentionInputs in = projectInputs(c);
  EXPECT_EQ(in.q.rows(), 3);
  EXPECT_EQ(in.k.rows(), 4);
  EXPECT_EQ(in.v.rows(), 4);
  EXPECT_EQ(in.q.cols(), 8);
  AttentionOptions opt;
  opt.heads = 2;
  const AttentionTrace t = computeAttention(in, opt);
  const Matrix out = outputProjection(c, t);
  EXPECT_EQ(out.rows(), 3);
  EXPECT_EQ(out.cols(), 8);
  EXPECT_TRUE(out.isApprox(t.concatenated * c.wO));
}

TEST(TokenModel, EmptyTextAndBadWidthAreErrors) {
  TokenConfig cfg;
  cfg.text = "   ";
  EXPECT_THROW(buildTokenModel(cfg), Error);
  cfg.text = "ok";
  cfg.dModel = 0;
  EXPECT_THROW(buildTokenModel(cfg), Error);
}

}  // namespace
}  // namespace attnviz
