#include "tokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "json_text.hpp"
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

std::vector<std::string_view> SplitPattern::split(std::string_view text) const {
  auto* code = static_cast<pcre2_code*>(code_.get());
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> match(
      pcre2_match_data_create_from_pattern(code, nullptr), pcre2_match_data_free);
  std::vector<std::string_view> pieces;
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0, unmatchedFrom = 0;
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
    if (end == begin) {  // an empty match: step over one code point
      end = begin + 1;
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
      offset = end;
      continue;
    }
    if (begin > unmatchedFrom) pieces.push_back(text.substr(unmatchedFrom, begin - unmatchedFrom));
    pieces.push_back(text.substr(begin, end - begin));
    offset = unmatchedFrom = end;
  }
  if (unmatchedFrom < text.size()) pieces.push_back(text.substr(unmatchedFrom));
  return pieces;
}

namespace {

struct VocabEntry {
  std::string token;
  int id;
};

std::vector<VocabEntry> parseVocabObject(const json& vocab, const std::string& name) {
  if (!vocab.is_object()) throw Error(name + ": the vocabulary is not a JSON object of token: id");
  if (vocab.size() > size_t(kMaxVocabEntries)) throw Error(name + ": more than 2^21 tokens");
  std::vector<VocabEntry> entries;
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<long>() < 0 || id.get<long>() >= kMaxVocabEntries)
      throw Error(name + ": token " + inQuotes(token) + " has id " + printable(id.dump()) +
                  " (ids are integers from 0 to 2^21 - 1)");
    entries.push_back({token, int(id.get<long>())});
  }
  if (entries.empty()) throw Error(name + ": the vocabulary is empty");
  return entries;
}

}  // namespace

void BpeTokenizer::addSpecial(const std::string& content, int id) {
  if (content.empty()) return;
  for (auto& s : specials_)
    if (s.first == content) return;
  specials_.emplace_back(content, id);
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

using MergeList = std::vector<std::pair<std::string, std::string>>;

// Fills a tokenizer from parsed files, checking that every merge names known tokens.
struct BpeTokenizerBuilder {
  static BpeTokenizer make(const std::vector<VocabEntry>& vocab, const MergeList& merges, const std::string& vocabName,
                           const std::string& mergesName, const std::string& pattern,
                           const std::vector<std::pair<std::string, int>>& added);
};

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
  // GPT-2's vocab.json carries its one special token as an ordinary entry.
  std::vector<std::pair<std::string, int>> added;
  for (const VocabEntry& e : entries)
    if (e.token == "<|endoftext|>") added.emplace_back(e.token, e.id);
  return BpeTokenizerBuilder::make(entries, merges, vocabName, mergesName, kGpt2SplitPattern, added);
}

BpeTokenizer BpeTokenizer::fromTokenizerJson(const std::string& text, const std::string& name) {
  const json j = parseJsonText(text, name);
  if (!j.is_object()) throw Error(name + ": not a JSON object");
  const auto model = j.find("model");
  if (model == j.end() || !model->is_object()) throw Error(name + ": no \"model\" object");
  const std::string type = model->value("type", std::string("BPE"));
  if (type != "BPE")
    throw Error(name + ": tokenizer model \"" + printable(type) + "\" is not supported (attnviz reads byte-level BPE)");
  const auto vocab = model->find("vocab");
  if (vocab == model->end()) throw Error(name + ": model has no \"vocab\"");
  const std::vector<VocabEntry> entries = parseVocabObject(*vocab, name);
  MergeList merges;
  const auto mergeList = model->find("merges");
  if (mergeList == model->end() || !mergeList->is_array()) throw Error(name + ": model has no \"merges\" list");
  for (size_t i = 0; i < mergeList->size(); ++i) {
    const json& m = (*mergeList)[i];
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos)
        throw Error(name + ": merge " + std::to_string(i) + " " + inQuotes(s) + " is not \"A B\"");
      merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      throw Error(name + ": merge " + std::to_string(i) + " is neither \"A B\" nor [\"A\", \"B\"]");
    }
  }
  // The pre-tokenizer: ByteLevel (GPT-2's pattern), or a Split with its own regex followed by a
  // ByteLevel that does not split again (Llama 3, Qwen2, SmolLM).
  std::string pattern;
  const std::function<void(const json&)> visit = [&](const json& p) {
    if (!p.is_object()) return;
    const std::string t = p.value("type", std::string());
    if (t == "Sequence" && p.contains("pretokenizers") && p["pretokenizers"].is_array()) {
      for (const json& q : p["pretokenizers"]) visit(q);
    } else if (t == "Split") {
      const auto pat = p.find("pattern");
      if (pat != p.end() && pat->is_object() && pat->contains("Regex") && (*pat)["Regex"].is_string())
        pattern = (*pat)["Regex"].get<std::string>();
      else
        throw Error(name + ": a Split pre-tokenizer without a \"Regex\" pattern is not supported");
    } else if (t == "ByteLevel") {
      if (pattern.empty() && p.value("use_regex", true)) pattern = kGpt2SplitPattern;
    } else {
      throw Error(name + ": pre-tokenizer \"" + printable(t) + "\" is not supported (attnviz reads ByteLevel and Split)");
    }
  };
  const auto pre = j.find("pre_tokenizer");
  if (pre != j.end() && !pre->is_null()) visit(*pre);
  if (pattern.empty()) pattern = kGpt2SplitPattern;
  std::vector<std::pair<std::string, int>> added;
  if (const auto a = j.find("added_tokens"); a != j.end() && a->is_array())
    for (const json& t : *a)
      if (t.is_object() && t.contains("content") && t["content"].is_string() && t.contains("id") &&
          t["id"].is_number_integer() && t["id"].get<long>() >= 0 && t["id"].get<long>() < kMaxVocabEntries)
        added.emplace_back(t["content"].get<std::string>(), int(t["id"].get<long>()));
  return BpeTokenizerBuilder::make(entries, merges, name, name, pattern, added);
}

BpeTokenizer BpeTokenizerBuilder::make(const std::vector<VocabEntry>& vocab, const MergeList& merges,
                                       const std::string& vocabName, const std::string& mergesName,
                                       const std::string& pattern, const std::vector<std::pair<std::string, int>>& added) {
  BpeTokenizer t;
  int size = 0;
  for (const VocabEntry& e : vocab) size = std::max(size, e.id + 1);
  for (const auto& [content, id] : added) size = std::max(size, id + 1);
  t.bytes_.assign(size, std::string());
  t.present_.assign(size, 0);
  std::unordered_map<std::string, int> ids;
  for (const VocabEntry& e : vocab) {
    if (t.present_[e.id])
      throw Error(vocabName + ": id " + std::to_string(e.id) + " is given to two tokens");
    t.present_[e.id] = 1;
    t.bytes_[e.id] = tokenStringToBytes(e.token);
    ids.emplace(e.token, e.id);
  }
  for (int b = 0; b < 256; ++b) {
    std::string s;
    appendUtf8(s, byteToUnicode(static_cast<unsigned char>(b)));
    const auto it = ids.find(s);
    if (it == ids.end()) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      throw Error(vocabName + ": no token for byte " + hex + " (" + inQuotes(s) +
                  "; a byte-level vocabulary needs all 256)");
    }
    t.byteIds_[b] = it->second;
  }
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const auto ia = ids.find(a), ib = ids.find(b), im = ids.find(a + b);
    const char* missing = ia == ids.end() ? "the first token" : ib == ids.end() ? "the second token" : im == ids.end() ? "the merged token" : nullptr;
    if (missing)
      throw Error(mergesName + ": merge " + std::to_string(rank + 1) + " " + inQuotes(a + " " + b) + ": " + missing +
                  " is not in the vocabulary");
    t.merges_.emplace(pairKey(ia->second, ib->second), std::make_pair(int(rank), im->second));
  }
  for (const auto& [content, id] : added) {
    if (!t.present_[id]) {
      t.present_[id] = 1;
      t.bytes_[id] = content;
    }
    t.addSpecial(content, id);
  }
  t.pattern_ = std::make_shared<SplitPattern>(pattern);
  return t;
}

BpeTokenizer BpeTokenizer::fromFolder(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path d(dir);
  if (fs::exists(d / "tokenizer.json", ec))
    return fromTokenizerJson(readFile((d / "tokenizer.json").string()), (d / "tokenizer.json").string());
  const fs::path vocab = d / "vocab.json", merges = d / "merges.txt";
  if (!fs::exists(vocab, ec) || !fs::exists(merges, ec))
    throw Error(dir + " has no tokenizer (tokenizer.json, or vocab.json and merges.txt)");
  return fromVocabAndMerges(readFile(vocab.string()), readFile(merges.string()), vocab.string(), merges.string());
}

void BpeTokenizer::encodePiece(std::string_view piece, std::vector<int>& out,
                               std::unordered_map<std::string_view, std::vector<int>>& cache) const {
  if (const auto it = cache.find(piece); it != cache.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  std::vector<int> word;
  word.reserve(piece.size());
  for (char c : piece) word.push_back(byteIds_[static_cast<unsigned char>(c)]);
  while (word.size() > 1) {
    int bestRank = std::numeric_limits<int>::max(), first = -1, second = -1, merged = -1;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      const auto it = merges_.find(pairKey(word[i], word[i + 1]));
      if (it != merges_.end() && it->second.first < bestRank) {
        bestRank = it->second.first;
        first = word[i];
        second = word[i + 1];
        merged = it->second.second;
      }
    }
    if (merged < 0) break;
    std::vector<int> next;
    next.reserve(word.size());
    for (size_t i = 0; i < word.size(); ++i) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        next.push_back(merged);
        ++i;
      } else {
        next.push_back(word[i]);
      }
    }
    word.swap(next);
  }
  out.insert(out.end(), word.begin(), word.end());
  cache.emplace(piece, std::move(word));
}

std::vector<int> BpeTokenizer::encode(std::string_view text) const {
  decodeUtf8(text);  // throws on invalid UTF-8, naming the byte
  std::vector<int> ids;
  std::unordered_map<std::string_view, std::vector<int>> cache;
  size_t pos = 0;
  while (pos < text.size()) {
    // The next special token, if any, ends this stretch of ordinary text.
    size_t next = text.size();
    const std::pair<std::string, int>* special = nullptr;
    for (const auto& s : specials_) {
      const size_t at = text.find(s.first, pos);
      if (at < next) {
        next = at;
        special = &s;
      }
    }
    for (std::string_view piece : pattern_->split(text.substr(pos, next - pos))) encodePiece(piece, ids, cache);
    if (!special) break;
    ids.push_back(special->second);
    pos = next + special->first.size();
  }
  return ids;
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
