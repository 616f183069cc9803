#include "tokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#ifdef ATTNVIZ_HAVE_ICU
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#endif

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <queue>
#include <tuple>
#include <nlohmann/json.hpp>

#include "json_text.hpp"
#include "tokenizer_pipeline.hpp"
#include "matrix_io.hpp"
#include "types.hpp"
#include "utf8.hpp"

namespace attnviz::model {
namespace {

using nlohmann::json;

constexpr int kMaxVocabEntries = 1 << 21;

struct ByteAlphabet {
  char32_t forward[256];
  std::unordered_map<char32_t, unsigned char> backward;
  ByteAlphabet() {
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      forward[b] = printable ? char32_t(b) : char32_t(256 + extra++);
      backward[forward[b]] = static_cast<unsigned char>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

// vocab.json's token string -> the bytes it stands for. Characters outside GPT-2's byte
// alphabet (some added tokens) stand for their own UTF-8.
std::string tokenStringToBytes(const std::string& token) {
  std::u32string cps;
  try {
    for (char32_t c : decodeUtf8(token)) cps.push_back(c);
  } catch (const Error&) {
    return token;
  }
  std::string out;
  for (char32_t c : cps) {
    const auto it = alphabet().backward.find(c);
    if (it != alphabet().backward.end()) out.push_back(char(it->second));
    else appendUtf8(out, c);
  }
  return out;
}

std::uint64_t pairKey(int a, int b) { return (std::uint64_t(std::uint32_t(a)) << 32) | std::uint32_t(b); }

std::string inQuotes(std::string_view s) { return "\"" + printable(s) + "\""; }

}  // namespace

char32_t byteToUnicode(unsigned char b) { return alphabet().forward[b]; }

SplitPattern::SplitPattern(const std::string& pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C, &error, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw Error("the pre-tokenizer pattern " + inQuotes(pattern) + " does not compile at offset " +
                std::to_string(offset) + ": " + reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // an interpreter fallback when JIT is unavailable
  code_ = std::shared_ptr<void>(code, [](void* c) { pcre2_code_free(static_cast<pcre2_code*>(c)); });
}

std::vector<std::pair<size_t, size_t>> SplitPattern::matches(std::string_view text) const {
  auto* code = static_cast<pcre2_code*>(code_.get());
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> match(
      pcre2_match_data_create_from_pattern(code, nullptr), pcre2_match_data_free);
  std::vector<std::pair<size_t, size_t>> found;
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  while (offset < text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      throw Error(std::string("the pre-tokenizer pattern failed at byte ") + std::to_string(offset) + ": " +
                  reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.get());
    size_t begin = ov[0], end = ov[1];
    if (end <= begin) {  // an empty match (or a \K trick): step over one code point
      end = std::max(begin, offset) + 1;
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
      offset = end;
      continue;
    }
    found.emplace_back(begin, end);
    offset = end;
  }
  return found;
}

std::vector<std::string_view> SplitPattern::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  size_t unmatchedFrom = 0;
  for (const auto& [begin, end] : matches(text)) {
    if (begin > unmatchedFrom) pieces.push_back(text.substr(unmatchedFrom, begin - unmatchedFrom));
    pieces.push_back(text.substr(begin, end - begin));
    unmatchedFrom = end;
  }
  if (unmatchedFrom < text.size()) pieces.push_back(text.substr(unmatchedFrom));
  return pieces;
}

namespace {

using detail::AddedToken;
using detail::NormalizerStep;
using detail::PreTokenizerStep;
using detail::SplitBehavior;

bool isAsciiSpace(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Length of the white space (Unicode White_Space) that starts at `at`, 0 if none.
size_t whiteSpaceAt(std::string_view s, size_t at) {
  const unsigned char c = static_cast<unsigned char>(s[at]);
  if (isAsciiSpace(c)) return 1;
  static const char* const kWide[] = {"\u0085", "\u00A0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003",
                                      "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200A",
                                      "\u2028", "\u2029", "\u202F", "\u205F", "\u3000"};
  if (c < 0x80) return 0;
  for (const char* w : kWide)
    if (s.substr(at).starts_with(w)) return std::char_traits<char>::length(w);
  return 0;
}

// Length of the white space that ends at `end`, 0 if none.
size_t whiteSpaceBefore(std::string_view s, size_t end) {
  if (end == 0) return 0;
  size_t begin = end - 1;
  while (begin > 0 && (static_cast<unsigned char>(s[begin]) & 0xC0) == 0x80) --begin;
  return whiteSpaceAt(s, begin) == end - begin ? end - begin : 0;
}

// Where the white space that ends at `end` begins (not before `limit`).
size_t spaceRunStart(std::string_view s, size_t end, size_t limit) {
  for (size_t w = 0; end > limit && (w = whiteSpaceBefore(s, end)) > 0;) end -= w;
  return end;
}

// Where the white space that starts at `begin` ends (not after `limit`).
size_t spaceRunEnd(std::string_view s, size_t begin, size_t limit) {
  for (size_t w = 0; begin < limit && (w = whiteSpaceAt(s, begin)) > 0;) begin += w;
  return begin;
}

bool isWordByte(unsigned char c) { return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

struct Segment {
  size_t begin, end;
  int id;  // the added token, or -1 for text
};

// Splits `text` at the added tokens of one pass (leftmost, then longest, as the tokenizers
// library's matcher does), widening each match over the white space lstrip/rstrip take.
std::vector<Segment> splitAddedTokens(std::string_view text, const std::vector<AddedToken>& tokens, bool normalizedPass) {
  std::vector<const AddedToken*> pass;
  for (const AddedToken& t : tokens)
    if (t.normalized == normalizedPass && !t.match.empty()) pass.push_back(&t);
  std::vector<Segment> out;
  if (pass.empty()) {
    out.push_back({0, text.size(), -1});
    return out;
  }
  const auto occurrence = [&](const AddedToken& t, size_t from) {
    for (size_t at = text.find(t.match, from); at != std::string_view::npos; at = text.find(t.match, at + 1)) {
      const size_t end = at + t.match.size();
      if (!t.singleWord || ((at == 0 || !isWordByte(text[at - 1])) && (end == text.size() || !isWordByte(text[end]))))
        return at;
    }
    return std::string_view::npos;
  };
  std::vector<size_t> next(pass.size());
  for (size_t k = 0; k < pass.size(); ++k) next[k] = occurrence(*pass[k], 0);
  size_t pos = 0;  // everything before pos is in `out`
  while (true) {
    size_t best = std::string_view::npos, bestAt = std::string_view::npos;
    for (size_t k = 0; k < pass.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < pos) next[k] = occurrence(*pass[k], pos);
      if (next[k] < bestAt) {  // pass is longest first: a tie keeps the longer token
        bestAt = next[k];
        best = k;
      }
    }
    if (best == std::string_view::npos) break;
    const AddedToken& t = *pass[best];
    size_t begin = bestAt, end = bestAt + t.match.size();
    if (t.lstrip) begin = spaceRunStart(text, begin, pos);
    if (t.rstrip) end = spaceRunEnd(text, end, text.size());
    if (begin > pos) out.push_back({pos, begin, -1});
    out.push_back({begin, end, t.id});
    pos = end;
  }
  if (pos < text.size()) out.push_back({pos, text.size(), -1});
  return out;
}

std::string replaceAll(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t at = text.find(from); at != std::string_view::npos && !from.empty(); at = text.find(from, pos)) {
    out.append(text.substr(pos, at - pos)).append(to);
    pos = at + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

#ifdef ATTNVIZ_HAVE_ICU
std::string unicodeNormalize(const std::string& text, NormalizerStep::Kind kind) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = kind == NormalizerStep::Kind::Nfc    ? icu::Normalizer2::getNFCInstance(status)
                              : kind == NormalizerStep::Kind::Nfkc ? icu::Normalizer2::getNFKCInstance(status)
                              : kind == NormalizerStep::Kind::Nfd  ? icu::Normalizer2::getNFDInstance(status)
                                                                   : icu::Normalizer2::getNFKDInstance(status);
  if (U_FAILURE(status)) throw Error(std::string("Unicode normalization is unavailable: ") + u_errorName(status));
  const icu::UnicodeString normalized = n->normalize(icu::UnicodeString::fromUTF8(text), status);
  if (U_FAILURE(status)) throw Error(std::string("Unicode normalization failed: ") + u_errorName(status));
  std::string out;
  normalized.toUTF8String(out);
  return out;
}
#else
std::string unicodeNormalize(const std::string&, NormalizerStep::Kind) {
  throw Error("this tokenizer's Unicode normalizer (NFC, NFKC, NFD or NFKD) needs attnviz built with ICU");
}
#endif

struct Piece {
  std::string text;
  bool atStart;  // begins at the first byte of the whole input (Metaspace's prepend_scheme "first")
};

// The [begin, end) ranges a split keeps, from the matches of its pattern
// (tokenizers' NormalizedString::split).
std::vector<std::pair<size_t, size_t>> splitRanges(size_t size, const std::vector<std::pair<size_t, size_t>>& matched,
                                                   SplitBehavior behavior, bool invert) {
  std::vector<std::tuple<size_t, size_t, bool>> parts;  // (begin, end, is the delimiter)
  size_t pos = 0;
  for (const auto& [b, e] : matched) {
    if (b > pos) parts.emplace_back(pos, b, invert);
    parts.emplace_back(b, e, !invert);
    pos = e;
  }
  if (pos < size) parts.emplace_back(pos, size, invert);
  std::vector<std::pair<size_t, size_t>> out;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const auto& [b, e, delimiter] : parts)
        if (!delimiter) out.emplace_back(b, e);
      break;
    case SplitBehavior::Isolated:
      for (const auto& [b, e, delimiter] : parts) out.emplace_back(b, e);
      break;
    case SplitBehavior::MergedWithPrevious: {
      bool previousDelimiter = false;
      for (const auto& [b, e, delimiter] : parts) {
        if (delimiter && !previousDelimiter && !out.empty()) out.back().second = e;
        else out.emplace_back(b, e);
        previousDelimiter = delimiter;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previousDelimiter = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        const auto& [b, e, delimiter] = *it;
        if (delimiter && !previousDelimiter && !out.empty()) out.back().first = b;
        else out.emplace_back(b, e);
        previousDelimiter = delimiter;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
    case SplitBehavior::Contiguous: {
      bool previousDelimiter = false;
      for (const auto& [b, e, delimiter] : parts) {
        if (delimiter == previousDelimiter && !out.empty()) out.back().second = e;
        else out.emplace_back(b, e);
        previousDelimiter = delimiter;
      }
      break;
    }
  }
  return out;
}

std::vector<std::pair<size_t, size_t>> literalMatches(std::string_view text, std::string_view literal) {
  std::vector<std::pair<size_t, size_t>> found;
  if (literal.empty()) return found;
  for (size_t at = text.find(literal); at != std::string_view::npos; at = text.find(literal, at + literal.size()))
    found.emplace_back(at, at + literal.size());
  return found;
}

std::vector<Piece> applySplit(const std::vector<Piece>& pieces, const SplitPattern* regex, std::string_view literal,
                              SplitBehavior behavior, bool invert) {
  std::vector<Piece> out;
  for (const Piece& p : pieces) {
    const auto matched = regex ? regex->matches(p.text) : literalMatches(p.text, literal);
    bool first = true;
    for (const auto& [b, e] : splitRanges(p.text.size(), matched, behavior, invert)) {
      if (e > b) out.push_back({p.text.substr(b, e - b), p.atStart && first && b == 0});
      first = false;
    }
  }
  return out;
}

std::vector<Piece> preTokenize(const std::vector<PreTokenizerStep>& steps, std::string text, bool atStart) {
  std::vector<Piece> pieces{{std::move(text), atStart}};
  for (const PreTokenizerStep& step : steps) {
    switch (step.kind) {
      case PreTokenizerStep::Kind::Split:
        pieces = applySplit(pieces, step.regex.get(), step.literal, step.behavior, step.invert);
        break;
      case PreTokenizerStep::Kind::ByteLevel:
        if (step.addPrefixSpace)
          for (Piece& p : pieces)
            if (!p.text.starts_with(' ')) p.text = ' ' + p.text;
        if (step.regex) pieces = applySplit(pieces, step.regex.get(), {}, SplitBehavior::Isolated, false);
        break;
      case PreTokenizerStep::Kind::Metaspace:
        for (Piece& p : pieces) {
          p.text = replaceAll(p.text, " ", step.replacement);
          const bool prepend = step.prepend == PreTokenizerStep::Prepend::Always ||
                               (step.prepend == PreTokenizerStep::Prepend::First && p.atStart);
          if (prepend && !p.text.starts_with(step.replacement)) p.text.insert(0, step.replacement);
        }
        if (step.split) pieces = applySplit(pieces, nullptr, step.replacement, SplitBehavior::MergedWithNext, false);
        break;
    }
  }
  return pieces;
}

}  // namespace

std::string normalizeText(const std::vector<NormalizerStep>& steps, std::string text) {
  for (const NormalizerStep& step : steps) {
    switch (step.kind) {
      case NormalizerStep::Kind::Prepend:
        if (!text.empty()) text.insert(0, step.text);
        break;
      case NormalizerStep::Kind::Replace:
        if (step.regex) {
          std::string out;
          size_t pos = 0;
          for (const auto& [b, e] : step.regex->matches(text)) {
            out.append(text, pos, b - pos).append(step.content);
            pos = e;
          }
          text = out.append(text, pos);
        } else {
          text = replaceAll(text, step.text, step.content);
        }
        break;
      case NormalizerStep::Kind::Strip: {
        size_t b = 0, e = text.size();
        if (step.left) b = spaceRunEnd(text, b, e);
        if (step.right) e = spaceRunStart(text, e, b);
        text = text.substr(b, e - b);
        break;
      }
      default:
        text = unicodeNormalize(text, step.kind);
        break;
    }
  }
  return text;
}

std::vector<VocabEntry> parseVocabObject(const json& vocab, const std::string& name) {
  if (!vocab.is_object()) throw Error(name + ": the vocabulary is not a JSON object of token: id");
  if (vocab.size() > size_t(kMaxVocabEntries)) throw Error(name + ": more than 2^21 tokens");
  std::vector<VocabEntry> entries;
  entries.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<long>() < 0 || id.get<long>() >= kMaxVocabEntries)
      throw Error(name + ": token " + inQuotes(token) + " has id " + printable(id.dump()) +
                  " (ids are integers from 0 to 2^21 - 1)");
    entries.push_back({token, int(id.get<long>())});
  }
  if (entries.empty()) throw Error(name + ": the vocabulary is empty");
  return entries;
}

void BpeTokenizer::addSpecial(const std::string& content, int id) {
  if (content.empty()) return;
  for (auto& s : specials_)
    if (s.first == content) return;
  specials_.emplace_back(content, id);
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

BpeTokenizer BpeTokenizer::fromVocabAndMerges(const std::string& vocabJson, const std::string& mergesText,
                                              const std::string& vocabName, const std::string& mergesName) {
  const json vocab = parseJsonText(vocabJson, vocabName);
  const std::vector<VocabEntry> entries = parseVocabObject(vocab, vocabName);
  MergeList merges;
  size_t lineStart = 0;
  int lineNumber = 0;
  while (lineStart < mergesText.size()) {
    size_t lineEnd = mergesText.find('\n', lineStart);
    if (lineEnd == std::string::npos) lineEnd = mergesText.size();
    std::string_view line(mergesText.data() + lineStart, lineEnd - lineStart);
    lineStart = lineEnd + 1;
    ++lineNumber;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (lineNumber == 1 && line.starts_with("#version"))) continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw Error(mergesName + ": line " + std::to_string(lineNumber) + ": " + inQuotes(line) +
                  " is not a merge of two tokens \"A B\"");
    merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
  }
  auto pipeline = std::make_shared<detail::TokenizerPipeline>();
  // GPT-2's vocab.json carries its one special token as an ordinary entry.
  for (const VocabEntry& e : entries)
    if (e.token == "<|endoftext|>") pipeline->added.push_back({e.token, e.token, e.id, true});
  PreTokenizerStep byteLevel;
  byteLevel.kind = PreTokenizerStep::Kind::ByteLevel;
  byteLevel.regex = std::make_shared<SplitPattern>(kGpt2SplitPattern);
  pipeline->preTokenizer.push_back(byteLevel);
  return BpeTokenizerBuilder::make(entries, merges, vocabName, mergesName, BpeModelOptions{}, pipeline);
}

BpeTokenizer BpeTokenizerBuilder::make(const std::vector<VocabEntry>& vocab, const MergeList& merges,
                                       const std::string& vocabName, const std::string& mergesName,
                                       const BpeModelOptions& options, std::shared_ptr<detail::TokenizerPipeline> pipeline) {
  BpeTokenizer t;
  t.name_ = vocabName;
  t.byteLevel_ = options.byteLevel;
  t.byteFallback_ = options.byteFallback;
  t.ignoreMerges_ = options.ignoreMerges;
  t.fuseUnk_ = options.fuseUnk;
  t.roundTrips_ = options.roundTrips;
  t.stripsLeadingSpace_ = options.stripsLeadingSpace;
  int size = 0;
  for (const VocabEntry& e : vocab) size = std::max(size, e.id + 1);
  for (const AddedToken& a : pipeline->added) size = std::max(size, a.id + 1);
  t.bytes_.assign(size, std::string());
  t.present_.assign(size, 0);
  std::unordered_map<std::string, int> ids;
  ids.reserve(vocab.size());
  const auto byteToken = [](int b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    return std::string(hex);
  };
  std::unordered_map<std::string, int> byteTokens;
  if (!options.byteLevel && options.byteFallback)
    for (int b = 0; b < 256; ++b) byteTokens.emplace(byteToken(b), b);
  for (const VocabEntry& e : vocab) {
    if (t.present_[e.id]) throw Error(vocabName + ": id " + std::to_string(e.id) + " is given to two tokens");
    t.present_[e.id] = 1;
    if (options.byteLevel) {
      t.bytes_[e.id] = tokenStringToBytes(e.token);
      t.pieceIds_.emplace(t.bytes_[e.id], e.id);
    } else {
      const auto b = byteTokens.find(e.token);
      t.bytes_[e.id] = b != byteTokens.end() ? std::string(1, char(b->second))
                       : options.spaceMarker.empty() ? e.token
                                                     : replaceAll(e.token, options.spaceMarker, " ");
      t.pieceIds_.emplace(e.token, e.id);
    }
    ids.emplace(e.token, e.id);
  }
  for (int b = 0; b < 256 && (options.byteLevel || options.byteFallback); ++b) {
    std::string s;
    if (options.byteLevel) appendUtf8(s, byteToUnicode(static_cast<unsigned char>(b)));
    else s = byteToken(b);
    const auto it = ids.find(s);
    if (it == ids.end()) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      throw Error(vocabName + ": no token for byte " + hex + " (" + inQuotes(s) +
                  (options.byteLevel ? "; a byte-level vocabulary needs all 256)"
                                     : "; byte_fallback needs all 256 byte tokens <0x00>...<0xFF>)"));
    }
    t.byteIds_[b] = it->second;
  }
  t.merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const auto ia = ids.find(a), ib = ids.find(b), im = ids.find(a + b);
    const char* missing = ia == ids.end()   ? "the first token"
                          : ib == ids.end() ? "the second token"
                          : im == ids.end() ? "the merged token"
                                            : nullptr;
    if (missing)
      throw Error(mergesName + ": merge " + std::to_string(rank + 1) + " " + inQuotes(a + " " + b) + ": " + missing +
                  " is not in the vocabulary");
    // A pair listed twice keeps its first (lowest) rank, as the reference implementations do.
    t.merges_.emplace(pairKey(ia->second, ib->second), std::make_pair(int(rank), im->second));
  }
  if (options.unkToken) {
    const auto it = ids.find(*options.unkToken);
    if (it != ids.end()) t.unk_ = it->second;
    else if (!options.byteFallback)
      throw Error(vocabName + ": the unk_token " + inQuotes(*options.unkToken) + " is not in the vocabulary");
  }
  for (const AddedToken& a : pipeline->added) {
    if (!t.present_[a.id]) {
      t.present_[a.id] = 1;
      t.bytes_[a.id] = a.content;
    }
    t.addSpecial(a.content, a.id);
  }
  std::stable_sort(pipeline->added.begin(), pipeline->added.end(),
                   [](const AddedToken& x, const AddedToken& y) { return x.match.size() > y.match.size(); });
  for (int id : options.prefix)
    if (!t.hasToken(id)) throw Error(vocabName + ": the post-processor adds id " + std::to_string(id) + ", which is not a token");
  for (int id : options.suffix)
    if (!t.hasToken(id)) throw Error(vocabName + ": the post-processor adds id " + std::to_string(id) + ", which is not a token");
  t.prefix_ = options.prefix;
  t.suffix_ = options.suffix;
  t.pipeline_ = std::move(pipeline);
  return t;
}

BpeTokenizer BpeTokenizer::fromFolder(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path d(dir);
  if (fs::exists(d / "tokenizer.json", ec)) {
    const fs::path config = d / "tokenizer_config.json";
    if (fs::exists(config, ec))
      return fromTokenizerJson(readFile((d / "tokenizer.json").string()), (d / "tokenizer.json").string(),
                               readFile(config.string()), config.string());
    return fromTokenizerJson(readFile((d / "tokenizer.json").string()), (d / "tokenizer.json").string());
  }
  const fs::path vocab = d / "vocab.json", merges = d / "merges.txt";
  if (!fs::exists(vocab, ec) || !fs::exists(merges, ec))
    throw Error(dir + " has no tokenizer (tokenizer.json, or vocab.json and merges.txt)");
  return fromVocabAndMerges(readFile(vocab.string()), readFile(merges.string()), vocab.string(), merges.string());
}

// Merges the pair of neighbours with the lowest rank, the leftmost first among equal ranks,
// until no neighbours form a merge (a heap, so a long SentencePiece word stays n log n).
void BpeTokenizer::mergeSymbols(std::vector<int>& word) const {
  const int n = int(word.size());
  if (n < 2 || merges_.empty()) return;
  std::vector<int> next(n), prev(n);
  std::vector<char> alive(n, 1);
  for (int i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  struct Candidate {
    int rank, pos, left, right, merged;
  };
  const auto later = [](const Candidate& a, const Candidate& b) { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  const auto consider = [&](int pos) {
    if (pos < 0 || next[pos] < 0) return;
    const auto it = merges_.find(pairKey(word[pos], word[next[pos]]));
    if (it != merges_.end()) queue.push({it->second.first, pos, word[pos], word[next[pos]], it->second.second});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const int right = next[c.pos];
    if (!alive[c.pos] || word[c.pos] != c.left || right < 0 || word[right] != c.right) continue;  // stale
    word[c.pos] = c.merged;
    alive[right] = 0;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    consider(prev[c.pos]);
    consider(c.pos);
  }
  std::vector<int> merged;
  for (int i = 0; i >= 0; i = next[i]) merged.push_back(word[i]);
  word.swap(merged);
}

void BpeTokenizer::encodePiece(const std::string& piece, std::vector<int>& out,
                               std::unordered_map<std::string, std::vector<int>>& cache) const {
  if (piece.empty()) return;
  if (ignoreMerges_)
    if (const auto it = pieceIds_.find(piece); it != pieceIds_.end()) {
      out.push_back(it->second);
      return;
    }
  if (const auto it = cache.find(piece); it != cache.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  std::vector<int> word;
  word.reserve(piece.size());
  if (byteLevel_) {
    for (char c : piece) word.push_back(byteIds_[static_cast<unsigned char>(c)]);
  } else {
    bool previousUnknown = false;
    for (size_t i = 0; i < piece.size();) {
      const unsigned char c = static_cast<unsigned char>(piece[i]);
      const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      const std::string ch = piece.substr(i, len);
      i += len;
      if (const auto it = pieceIds_.find(ch); it != pieceIds_.end()) {
        word.push_back(it->second);
        previousUnknown = false;
      } else if (byteFallback_) {
        for (char b : ch) word.push_back(byteIds_[static_cast<unsigned char>(b)]);
        previousUnknown = false;
      } else if (unk_) {
        if (!(fuseUnk_ && previousUnknown)) word.push_back(*unk_);
        previousUnknown = true;
      } else {
        throw Error(name_ + ": the character " + inQuotes(ch) +
                    " is not in the vocabulary, and the tokenizer has neither byte_fallback nor an unk_token");
      }
    }
  }
  mergeSymbols(word);
  out.insert(out.end(), word.begin(), word.end());
  cache.emplace(piece, std::move(word));
}

// One stretch of text between added tokens (of the first pass): normalized, split at the
// normalized added tokens, pre-tokenized and merged.
void BpeTokenizer::encodeText(std::string_view text, bool atStart, std::vector<int>& out,
                              std::unordered_map<std::string, std::vector<int>>& cache) const {
  const std::string normalized = normalizeText(pipeline_->normalizer, std::string(text));
  for (const Segment& s : splitAddedTokens(normalized, pipeline_->added, true)) {
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    for (const Piece& p : preTokenize(pipeline_->preTokenizer, normalized.substr(s.begin, s.end - s.begin), atStart && s.begin == 0))
      encodePiece(p.text, out, cache);
  }
}

std::vector<int> BpeTokenizer::encode(std::string_view text) const {
  decodeUtf8(text);  // throws on invalid UTF-8, naming the byte
  std::vector<int> ids;
  std::unordered_map<std::string, std::vector<int>> cache;
  for (const Segment& s : splitAddedTokens(text, pipeline_->added, false)) {
    if (s.id >= 0) ids.push_back(s.id);
    else encodeText(text.substr(s.begin, s.end - s.begin), s.begin == 0, ids, cache);
  }
  return ids;
}

std::vector<int> BpeTokenizer::encodeForModel(std::string_view text) const {
  std::vector<int> ids = prefix_;
  const std::vector<int> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  return ids;
}

std::optional<int> BpeTokenizer::bosId() const {
  if (prefix_.empty()) return std::nullopt;
  return prefix_.front();
}

std::string BpeTokenizer::decode(const std::vector<int>& ids) const {
  std::string text;
  for (int id : ids) {
    if (!hasToken(id)) throw Error(name_ + ": id " + std::to_string(id) + " is not a token");
    text += bytes_[id];
  }
  if (stripsLeadingSpace_ && text.starts_with(' ')) text.erase(0, 1);
  return text;
}

std::string BpeTokenizer::displayText(int id) const {
  if (!hasToken(id)) return "<unused " + std::to_string(id) + ">";
  for (const auto& s : specials_)
    if (s.second == id) return s.first;
  return displayTokenText(bytes_[id]);
}

std::optional<int> BpeTokenizer::specialToken(std::string_view content) const {
  for (const auto& s : specials_)
    if (s.first == content) return s.second;
  return std::nullopt;
}

bool BpeTokenizer::isSpecial(int id) const {
  for (const auto& s : specials_)
    if (s.second == id) return true;
  return false;
}

std::string displayTokenText(std::string_view bytes) {
  std::string out;
  size_t i = 0;
  while (i < bytes.size()) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool whole = len > 0 && i + len <= bytes.size();
    if (whole && len > 1) {
      try {
        decodeUtf8(bytes.substr(i, len));
      } catch (const Error&) {
        whole = false;
      }
    }
    if (!whole) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
      ++i;
      continue;
    }
    if (c == ' ') out += "\u00B7";
    else if (c == '\n') out += "\u21B5";
    else if (c == '\t') out += "\u21E5";
    else if (c < 0x20 || c == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out.append(bytes.substr(i, len));
    }
    i += len;
  }
  return out;
}

}  // namespace attnviz::model
