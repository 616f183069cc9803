#pragma once
// Token mode: text → tokens → embeddings X → Q, K, V projections → multi-head attention →
// concatenation and output projection W_O.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attention.hpp"
#include "utf8.hpp"

namespace attnviz {

enum class TokenizerKind { Words, Chars };
const char* toString(TokenizerKind k);
TokenizerKind parseTokenizerKind(const std::string& s);  // throws Error

// Words: runs of letters/digits (plus inner apostrophes, as in "didn't") are one token, every
// punctuation mark is its own token, whitespace separates, and each CJK ideograph, kana or
// hangul syllable is its own token. Chars: every Unicode code point except whitespace.
// Throws Error on invalid UTF-8 (naming the byte offset).
std::vector<std::string> tokenize(std::string_view utf8, TokenizerKind kind);

// The embedding of a token: d values in [-1, 1) from a hash of (seed, token text), so the same
// token always gets the same vector (FNV-1a 64 of the UTF-8 bytes, mixed with the seed, driving
// a SplitMix64 stream).
Vector tokenEmbedding(std::string_view token, int dModel, std::uint64_t seed);

// Sinusoidal positional encoding (Vaswani et al. 2017): PE[p, 2i] = sin(p / 10000^(2i/d)),
// PE[p, 2i+1] = cos(p / 10000^(2i/d)).
Matrix positionalEncoding(int length, int dModel);

// Glorot/Xavier uniform rows×cols matrix: U(-a, a), a = sqrt(6 / (rows + cols)), from a
// SplitMix64 stream seeded with `seed`.
Matrix glorotUniform(int rows, int cols, std::uint64_t seed);

struct TokenConfig {
  std::string text;        // the target (query) sequence; self-attention when source is empty
  std::string source;      // the source (key/value) sequence for cross-attention
  TokenizerKind tokenizer = TokenizerKind::Words;
  int dModel = 16;
  std::uint64_t seed = 42;
  bool positional = true;
  // A trained model (built-in name or folder) whose attention is shown instead of random
  // embeddings and projections; empty: the random "toy" model above (d_model, seed, positional).
  std::string model;
  std::string image;  // a vision model's picture (a PNG or JPEG file); text models use `text`
  // The picture's SHA-256 as a saved session recorded it: a file changed since is refused, never
  // silently shown in its place. Empty: not checked (a picture opened in this run, a sample).
  std::string imageSha256;
  std::string textPair;  // an encoder's second sentence (B in [CLS] A [SEP] B [SEP]); "" for one text
  std::vector<std::pair<int, int>> ablatedHeads;  // (layer, head) whose output the model zeroes
  // Token ids a decoder generated after the text's own (kept as ids: decoding and encoding
  // again need not give the same tokens); cleared when the text changes.
  std::vector<int> generated;

  bool operator==(const TokenConfig&) const = default;
};

struct TokenModel {
  std::vector<std::string> queryTokens;
  std::vector<std::string> keyTokens;  // same as queryTokens in self-attention
  bool cross = false;
  Matrix xQuery;   // n×d_model (embeddings + positional encodings)
  Matrix xSource;  // m×d_model
  Matrix wQ, wK, wV, wO;  // d_model×d_model
};

// Tokenises and embeds; throws Error on empty text, invalid UTF-8, bad d_model or length limits.
TokenModel buildTokenModel(const TokenConfig& config);

// Q = X_q W_Q, K = X_s W_K, V = X_s W_V.
AttentionInputs projectInputs(const TokenModel& model);

// final = concatenated heads · W_O.
Matrix outputProjection(const TokenModel& model, const AttentionTrace& trace);

}  // namespace attnviz
