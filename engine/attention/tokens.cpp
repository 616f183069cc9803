#include "tokens.hpp"

#include <cmath>

namespace attnviz {
namespace {

std::uint64_t splitMix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1) from the top 24 bits, exactly representable as float.
float uniformSigned(std::uint64_t& state) {
  return float(splitMix64(state) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

bool isSpace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Scripts written without spaces between words: one token per character in word mode.
bool isCjk(char32_t c) {
  return (c >= 0x3040 && c <= 0x30FF) ||    // hiragana, katakana
         (c >= 0x3400 && c <= 0x4DBF) ||    // CJK extension A
         (c >= 0x4E00 && c <= 0x9FFF) ||    // CJK unified ideographs
         (c >= 0xAC00 && c <= 0xD7AF) ||    // hangul syllables
         (c >= 0xF900 && c <= 0xFAFF) ||    // compatibility ideographs
         (c >= 0x20000 && c <= 0x2FA1F);    // supplementary ideographs
}

// ASCII and Latin-1 punctuation and symbols, general punctuation, CJK punctuation, fullwidth forms.
bool isPunctuation(char32_t c) {
  if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
                       (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
  return (c >= 0xA1 && c <= 0xBF && c != 0xAA && c != 0xB5 && c != 0xBA) || c == 0xD7 ||
         c == 0xF7 || (c >= 0x2010 && c <= 0x205E) || (c >= 0x3000 && c <= 0x303F) ||
         (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
         (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65);
}

bool isApostrophe(char32_t c) { return c == '\'' || c == 0x2019; }

}  // namespace

const char* toString(TokenizerKind k) { return k == TokenizerKind::Words ? "words" : "chars"; }

TokenizerKind parseTokenizerKind(const std::string& s) {
  if (s == "words") return TokenizerKind::Words;
  if (s == "chars") return TokenizerKind::Chars;
  throw Error("unknown tokenizer \"" + printable(s) + "\" (expected words or chars)");
}

std::vector<std::string> tokenize(std::string_view utf8, TokenizerKind kind) {
  const std::vector<char32_t> cps = decodeUtf8(utf8);
  std::vector<std::string> tokens;
  std::string word;
  const auto flush = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    if (isSpace(c)) { flush(); continue; }
    if (kind == TokenizerKind::Chars || isCjk(c)) {
      flush();
      appendUtf8(word, c);
      flush();
      continue;
    }
    // An apostrophe between two word characters stays inside the word: "didn't", "L'accord".
    const bool innerApostrophe = isApostrophe(c) && !word.empty() && i + 1 < cps.size() &&
                                 !isSpace(cps[i + 1]) && !isPunctuation(cps[i + 1]) && !isCjk(cps[i + 1]);
    if (isPunctuation(c) && !innerApostrophe) {
      flush();
      appendUtf8(word, c);
      flush();
      continue;
    }
    appendUtf8(word, c);
  }
  flush();
  return tokens;
}

Vector tokenEmbedding(std::string_view token, int dModel, std::uint64_t seed) {
  std::uint64_t state = fnv1a(token) ^ (seed * 0x9E3779B97F4A7C15ull);
  Vector v(dModel);
  for (int i = 0; i < dModel; ++i) v(i) = uniformSigned(state);
  return v;
}

Matrix positionalEncoding(int length, int dModel) {
  Matrix pe(length, dModel);
  for (int p = 0; p < length; ++p)
    for (int i = 0; i < dModel; ++i) {
      const double angle = p / std::pow(10000.0, double(2 * (i / 2)) / dModel);
      pe(p, i) = float(i % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  return pe;
}

Matrix glorotUniform(int rows, int cols, std::uint64_t seed) {
  std::uint64_t state = seed;
  const float a = std::sqrt(6.0f / float(rows + cols));
  Matrix w(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) w(r, c) = a * uniformSigned(state);
  return w;
}

namespace {

Matrix embedSequence(const std::vector<std::string>& tokens, const TokenConfig& config) {
  Matrix x(tokens.size(), config.dModel);
  for (size_t i = 0; i < tokens.size(); ++i)
    x.row(i) = tokenEmbedding(tokens[i], config.dModel, config.seed).transpose();
  if (config.positional) x += positionalEncoding(int(tokens.size()), config.dModel);
  return x;
}

std::vector<std::string> tokenizeChecked(const std::string& text, TokenizerKind kind, const char* what) {
  std::vector<std::string> tokens;
  try {
    tokens = tokenize(text, kind);
  } catch (const Error& e) {
    throw Error(std::string(what) + " text: " + e.what());
  }
  if (tokens.empty()) throw Error(std::string(what) + " text has no tokens");
  if (long(tokens.size()) > kMaxSequenceLength)
    throw Error(std::string(what) + " text has " + std::to_string(tokens.size()) +
                " tokens (the limit is " + std::to_string(kMaxSequenceLength) + ")");
  return tokens;
}

}  // namespace

TokenModel buildTokenModel(const TokenConfig& config) {
  if (config.dModel < 1 || config.dModel > 4096)
    throw Error("d_model must be between 1 and 4096 (got " + std::to_string(config.dModel) + ")");
  TokenModel model;
  model.queryTokens = tokenizeChecked(config.text, config.tokenizer, "the target");
  model.cross = !config.source.empty();
  model.keyTokens = model.cross ? tokenizeChecked(config.source, config.tokenizer, "the source")
                                : model.queryTokens;
  model.xQuery = embedSequence(model.queryTokens, config);
  model.xSource = model.cross ? embedSequence(model.keyTokens, config) : model.xQuery;
  // Distinct, documented seeds per projection so that changing one never changes another.
  model.wQ = glorotUniform(config.dModel, config.dModel, config.seed * 4 + 1);
  model.wK = glorotUniform(config.dModel, config.dModel, config.seed * 4 + 2);
  model.wV = glorotUniform(config.dModel, config.dModel, config.seed * 4 + 3);
  model.wO = glorotUniform(config.dModel, config.dModel, config.seed * 4 + 4);
  return model;
}

AttentionInputs projectInputs(const TokenModel& model) {
  AttentionInputs in;
  in.q.noalias() = model.xQuery * model.wQ;
  in.k.noalias() = model.xSource * model.wK;
  in.v.noalias() = model.xSource * model.wV;
  return in;
}

Matrix outputProjection(const TokenModel& model, const AttentionTrace& trace) {
  Matrix out;
  out.noalias() = trace.concatenated * model.wO;
  return out;
}

}  // namespace attnviz
