#include "wordpiece.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "matrix_io.hpp"
#include "types.hpp"
#include "utf8.hpp"

#ifdef ATTNVIZ_HAVE_ICU
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>
#endif

namespace attnviz::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

#ifdef ATTNVIZ_HAVE_ICU
// The Rust library's char tests: White_Space, general categories, per-character lowercase.
bool isWhitespace(char32_t c) { return c == '\t' || c == '\n' || c == '\r' || u_isUWhiteSpace(UChar32(c)); }
bool isControl(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  const int8_t t = u_charType(UChar32(c));  // "other": Cc, Cf, Cn, Co, Cs
  return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_UNASSIGNED || t == U_PRIVATE_USE_CHAR || t == U_SURROGATE;
}
bool isPunctuation(char32_t c) {
  if (c < 128) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  switch (u_charType(UChar32(c))) {
    case U_DASH_PUNCTUATION: case U_START_PUNCTUATION: case U_END_PUNCTUATION: case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION: case U_INITIAL_PUNCTUATION: case U_FINAL_PUNCTUATION: return true;
    default: return false;
  }
}
bool isNonspacingMark(char32_t c) { return u_charType(UChar32(c)) == U_NON_SPACING_MARK; }

std::u32string nfd(const std::u32string& text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(status);
  if (U_FAILURE(status)) throw Error(std::string("Unicode normalization is unavailable: ") + u_errorName(status));
  const icu::UnicodeString out = n->normalize(icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()), int32_t(text.size())), status);
  if (U_FAILURE(status)) throw Error(std::string("Unicode normalization failed: ") + u_errorName(status));
  std::u32string result(std::size_t(out.countChar32()), U'\0');
  UErrorCode s2 = U_ZERO_ERROR;
  out.toUTF32(reinterpret_cast<UChar32*>(result.data()), int32_t(result.size()), s2);
  return result;
}

// Each character on its own (as Rust's char::to_lowercase: the full mapping, no context, so no
// final sigma), which can give several characters (İ -> i̇).
void appendLowercase(char32_t c, std::u32string& out) {
  UChar in[2];
  int32_t length = 0;
  U16_APPEND_UNSAFE(in, length, UChar32(c));
  UChar lowered[8];
  UErrorCode status = U_ZERO_ERROR;
  const int32_t n = u_strToLower(lowered, 8, in, length, "", &status);
  if (U_FAILURE(status)) {
    out.push_back(c);
    return;
  }
  for (int32_t i = 0; i < n;) {
    UChar32 cp;
    U16_NEXT(lowered, i, n, cp);
    out.push_back(char32_t(cp));
  }
}
#else
[[noreturn]] void needIcu() { throw Error("WordPiece tokenizers need attnviz built with ICU (Unicode categories)"); }
bool isWhitespace(char32_t) { needIcu(); }
bool isControl(char32_t) { needIcu(); }
bool isPunctuation(char32_t) { needIcu(); }
bool isNonspacingMark(char32_t) { needIcu(); }
std::u32string nfd(const std::u32string&) { needIcu(); }
void appendLowercase(char32_t, std::u32string&) { needIcu(); }
#endif

// The CJK ideograph blocks the Rust library puts spaces around.
bool isChineseChar(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::u32string normalize(const std::u32string& text, const WordPieceTokenizer::Options& o) {
  std::u32string s;
  for (const char32_t c : text) {
    if (o.cleanText && (c == 0 || c == 0xFFFD || isControl(c))) continue;
    const char32_t kept = o.cleanText && isWhitespace(c) ? U' ' : c;
    if (o.chineseChars && isChineseChar(kept)) {
      s += U' ';
      s += kept;
      s += U' ';
    } else {
      s += kept;
    }
  }
  if (o.stripAccents.value_or(o.lowercase)) {
    std::u32string stripped;
    for (const char32_t c : nfd(s))
      if (!isNonspacingMark(c)) stripped += c;
    s = std::move(stripped);
  }
  if (o.lowercase) {
    std::u32string lowered;
    for (const char32_t c : s) appendLowercase(c, lowered);
    s = std::move(lowered);
  }
  return s;
}

// BertPreTokenizer: whitespace separates words and is dropped; each punctuation character is a
// word of its own.
std::vector<std::u32string> preTokenize(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::u32string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (const char32_t c : text) {
    if (isWhitespace(c)) {
      flush();
    } else if (isPunctuation(c)) {
      flush();
      words.push_back(std::u32string(1, c));
    } else {
      word += c;
    }
  }
  flush();
  return words;
}

// A special token's name in tokenizer_config.json: a string, or an AddedToken {"content": …}.
std::optional<std::string> tokenName(const json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return std::nullopt;
}

// A string member, `fallback` when absent or null; another type is an Error naming the key.
std::string stringOr(const json& j, const char* key, const std::string& fallback, const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_string()) throw Error(name + ": \"" + key + "\" must be a string");
  return it->get<std::string>();
}

bool flagOr(const json& j, const char* key, bool fallback, const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw Error(name + ": \"" + key + "\" must be true or false");
  return it->get<bool>();
}

json parseJsonFile(const std::string& text, const std::string& name) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(name + ": not a JSON object");
  return j;
}

// tokenizer_config.json's three normalizer options, with BertTokenizerFast's defaults for those
// it leaves out (transformers rebuilds the normalizer with them whenever the file exists).
WordPieceTokenizer::Options configOptions(const json& c, const std::string& name) {
  WordPieceTokenizer::Options o;
  auto flag = [&](const char* key, bool byDefault) {
    const auto it = c.find(key);
    if (it == c.end() || it->is_null()) return byDefault;
    if (!it->is_boolean()) throw Error(name + ": \"" + key + "\" must be true or false");
    return it->get<bool>();
  };
  o.lowercase = flag("do_lower_case", true);
  o.chineseChars = flag("tokenize_chinese_chars", true);
  if (const auto it = c.find("strip_accents"); it != c.end() && !it->is_null()) {
    if (!it->is_boolean()) throw Error(name + ": \"strip_accents\" must be true, false or null");
    o.stripAccents = it->get<bool>();
  }
  return o;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::fromVocabTxt(const std::string& vocabText, const std::string& name,
                                                    const std::string* configJson, const std::string& configName) {
  WordPieceTokenizer t;
  std::size_t start = 0;
  while (start < vocabText.size()) {
    std::size_t end = vocabText.find('\n', start);
    if (end == std::string::npos) end = vocabText.size();
    std::string token = vocabText.substr(start, end - start);
    if (!token.empty() && token.back() == '\r') token.pop_back();
    t.tokens_.push_back(token);
    start = end + 1;
  }
  if (t.tokens_.empty()) throw Error(name + " is empty: a WordPiece vocabulary needs a token per line");
  for (std::size_t i = 0; i < t.tokens_.size(); ++i) t.vocab_.emplace(t.tokens_[i], int(i));
  json config = json::object();
  if (configJson) {
    config = parseJsonFile(*configJson, configName);
    t.options_ = configOptions(config, configName);
  }
  // BertTokenizer's special tokens, renamed where tokenizer_config.json says.
  std::map<std::string, std::string> names = {{"unk_token", "[UNK]"}, {"cls_token", "[CLS]"}, {"sep_token", "[SEP]"},
                                              {"pad_token", "[PAD]"}, {"mask_token", "[MASK]"}};
  for (auto& [key, value] : names)
    if (const auto given = tokenName(config, key.c_str())) value = *given;
  for (const auto& [key, value] : names)
    if (const auto it = t.vocab_.find(value); it != t.vocab_.end()) t.specials_[value] = it->second;
  const auto unk = t.vocab_.find(names["unk_token"]);
  if (unk == t.vocab_.end()) throw Error(name + ": the vocabulary has no " + names["unk_token"] + " token");
  t.unkId_ = unk->second;
  const auto cls = t.vocab_.find(names["cls_token"]), sep = t.vocab_.find(names["sep_token"]);
  if (cls == t.vocab_.end() || sep == t.vocab_.end())
    throw Error(name + ": the vocabulary has no " + names["cls_token"] + " or " + names["sep_token"] + " token");
  t.single_ = {{{cls->second}, 0, 0}, {{}, 'A', 0}, {{sep->second}, 0, 0}};
  t.pair_ = {{{cls->second}, 0, 0}, {{}, 'A', 0}, {{sep->second}, 0, 0}, {{}, 'B', 1}, {{sep->second}, 0, 1}};
  t.finish(name);
  if (const auto mask = t.vocab_.find(names["mask_token"]); mask != t.vocab_.end()) t.maskId_ = mask->second;
  return t;
}

WordPieceTokenizer WordPieceTokenizer::fromTokenizerJson(const std::string& text, const std::string& name,
                                                         const std::string* configJson, const std::string& configName) {
  const json j = parseJsonFile(text, name);
  WordPieceTokenizer t;
  const json model = j.value("model", json());
  if (!model.is_object() || stringOr(model, "type", "", name) != "WordPiece")
    throw Error(name + ": the model is " + (model.is_object() ? "\"" + stringOr(model, "type", "?", name) + "\"" : std::string("missing")) +
                ", not WordPiece");
  const json vocab = model.value("vocab", json());
  if (!vocab.is_object() || vocab.empty()) throw Error(name + ": the WordPiece model has no vocabulary");
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<long>() < 0 || id.get<long>() >= (1L << 22))
      throw Error(name + ": vocabulary entry \"" + printable(token) + "\" has no valid id");
    const auto i = std::size_t(id.get<long>());
    if (t.tokens_.size() <= i) t.tokens_.resize(i + 1);
    t.tokens_[i] = token;
    t.vocab_[token] = int(i);
  }
  t.continuation = stringOr(model, "continuing_subword_prefix", "##", name);
  if (const auto m = model.find("max_input_chars_per_word"); m != model.end() && !m->is_null()) {
    if (!m->is_number_integer() || m->get<long>() < 1) throw Error(name + ": \"max_input_chars_per_word\" must be a positive integer");
    t.maxInputCharsPerWord = int(std::min(m->get<long>(), 1L << 20));
  }
  const std::string unk = stringOr(model, "unk_token", "[UNK]", name);
  const auto unkIt = t.vocab_.find(unk);
  if (unkIt == t.vocab_.end()) throw Error(name + ": the unknown token " + printable(unk) + " is not in the vocabulary");
  t.unkId_ = unkIt->second;

  const json normalizer = j.value("normalizer", json());
  if (normalizer.is_object()) {
    const std::string type = stringOr(normalizer, "type", "?", name);
    if (type != "BertNormalizer")
      throw Error(name + ": normalizer \"" + printable(type) + "\" is not supported with WordPiece (attnviz supports BertNormalizer)");
    t.options_.cleanText = flagOr(normalizer, "clean_text", true, name);
    t.options_.chineseChars = flagOr(normalizer, "handle_chinese_chars", true, name);
    t.options_.lowercase = flagOr(normalizer, "lowercase", true, name);
    if (normalizer.contains("strip_accents") && normalizer["strip_accents"].is_boolean())
      t.options_.stripAccents = normalizer["strip_accents"].get<bool>();
  } else {
    t.options_ = {false, false, false, false};
  }
  const json pre = j.value("pre_tokenizer", json());
  if (!pre.is_object() || stringOr(pre, "type", "", name) != "BertPreTokenizer")
    throw Error(name + ": pre-tokenizer \"" + printable(pre.is_object() ? stringOr(pre, "type", "?", name) : std::string("none")) +
                "\" is not supported with WordPiece (attnviz supports BertPreTokenizer)");
  if (configJson) {
    const json config = parseJsonFile(*configJson, configName);
    const Options o = configOptions(config, configName);
    t.options_.lowercase = o.lowercase;
    t.options_.stripAccents = o.stripAccents;
    t.options_.chineseChars = o.chineseChars;
  }
  const json added = j.value("added_tokens", json::array());
  for (const json& token : added.is_array() ? added : json::array()) {
    if (!token.is_object() || !token.contains("content") || !token["content"].is_string() || !token.contains("id") ||
        !token["id"].is_number_integer() || token["id"].get<long>() < 0 || token["id"].get<long>() >= long(t.tokens_.size()) + 4096)
      throw Error(name + ": an added token without a content string and an id");
    const auto id = std::size_t(token["id"].get<long>());
    if (t.tokens_.size() <= id) t.tokens_.resize(id + 1);
    t.tokens_[id] = token["content"].get<std::string>();
    t.specials_[token["content"].get<std::string>()] = int(id);
  }
  // The post-processor: BertProcessing's [CLS]/[SEP], or a TemplateProcessing's lists.
  const json post = j.value("post_processor", json());
  auto specialIds = [&](const std::string& content) -> std::vector<int> {
    if (post.contains("special_tokens") && post["special_tokens"].contains(content))
      return post["special_tokens"][content].value("ids", std::vector<int>());
    const auto it = t.vocab_.find(content);
    if (it == t.vocab_.end()) throw Error(name + ": the post-processor's token " + printable(content) + " is not in the vocabulary");
    return {it->second};
  };
  const std::string postType = post.is_object() ? stringOr(post, "type", "?", name) : std::string();
  auto pairId = [&](const char* key) {
    const auto it = post.find(key);
    if (it == post.end() || !it->is_array() || it->size() != 2 || !(*it)[1].is_number_integer())
      throw Error(name + ": BertProcessing's \"" + key + "\" must be [token, id]");
    return (*it)[1].get<int>();
  };
  if (postType == "BertProcessing") {
    const std::vector<int> cls = {pairId("cls")}, sep = {pairId("sep")};
    t.single_ = {{cls, 0, 0}, {{}, 'A', 0}, {sep, 0, 0}};
    t.pair_ = {{cls, 0, 0}, {{}, 'A', 0}, {sep, 0, 0}, {{}, 'B', 1}, {sep, 0, 1}};
  } else if (postType == "TemplateProcessing") {
    auto read = [&](const char* key) {
      std::vector<TemplateItem> items;
      for (const json& piece : post.value(key, json::array())) {
        if (piece.contains("SpecialToken")) {
          const json& s = piece["SpecialToken"];
          items.push_back({specialIds(s.value("id", "")), 0, s.value("type_id", 0)});
        } else if (piece.contains("Sequence")) {
          const json& s = piece["Sequence"];
          items.push_back({{}, s.value("id", "A") == "B" ? 'B' : 'A', s.value("type_id", 0)});
        }
      }
      return items;
    };
    t.single_ = read("single");
    t.pair_ = read("pair");
  } else if (post.is_null()) {
    t.single_ = {{{}, 'A', 0}};
    t.pair_ = {{{}, 'A', 0}, {{}, 'B', 1}};
  } else {
    throw Error(name + ": post-processor \"" + printable(postType) +
                "\" is not supported with WordPiece (attnviz supports BertProcessing and TemplateProcessing)");
  }
  t.finish(name);
  for (const char* mask : {"[MASK]", "<mask>"})
    if (const auto it = t.specials_.find(mask); it != t.specials_.end()) t.maskId_ = it->second;
  return t;
}

void WordPieceTokenizer::finish(const std::string& name) {
  if (tokens_.empty()) throw Error(name + ": an empty vocabulary");
  if (single_.empty()) throw Error(name + ": the post-processor puts nothing around a text");
}

WordPieceTokenizer WordPieceTokenizer::fromFolder(const std::string& dir) {
  const fs::path folder(dir), json = folder / "tokenizer.json", config = folder / "tokenizer_config.json";
  std::error_code ec;
  std::string configText;
  const bool hasConfig = fs::exists(config, ec);
  if (hasConfig) configText = readFile(config.string());
  if (fs::exists(json, ec)) {
    try {
      return fromTokenizerJson(readFile(json.string()), json.string(), hasConfig ? &configText : nullptr, config.string());
    } catch (const nlohmann::json::exception&) {
      // A member of the wrong type somewhere the checks above do not look.
      throw Error(json.string() + ": a WordPiece tokenizer.json with a member of the wrong type");
    }
  }
  const fs::path vocab = folder / "vocab.txt";
  if (!fs::exists(vocab, ec)) throw Error(dir + " has no tokenizer.json nor vocab.txt (a WordPiece vocabulary)");
  return fromVocabTxt(readFile(vocab.string()), vocab.string(), hasConfig ? &configText : nullptr, config.string());
}

void WordPieceTokenizer::encodeWord(const std::u32string& word, std::vector<int>& out) const {
  if (int(word.size()) > maxInputCharsPerWord) {
    out.push_back(unkId_);
    return;
  }
  std::vector<int> pieces;
  std::size_t start = 0;
  while (start < word.size()) {
    std::size_t end = word.size();
    int found = -1;
    while (start < end) {
      std::string piece = start > 0 ? continuation : std::string();
      piece += encodeUtf8(word.substr(start, end - start));
      if (const auto it = vocab_.find(piece); it != vocab_.end()) {
        found = it->second;
        break;
      }
      --end;
    }
    if (found < 0) {  // a word that cannot be split is one unknown token
      out.push_back(unkId_);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

void WordPieceTokenizer::encodeSegment(std::string_view text, std::vector<int>& out) const {
  const std::vector<char32_t> decoded = decodeUtf8(text);  // throws naming the byte offset
  const std::u32string normalized = normalize(std::u32string(decoded.begin(), decoded.end()), options_);
  for (const std::u32string& word : preTokenize(normalized)) encodeWord(word, out);
}

std::vector<int> WordPieceTokenizer::encodeText(std::string_view text) const {
  // Special tokens written in the text are matched first, leftmost and then longest, on the raw
  // text (as the added vocabulary does for tokens that are not normalized).
  std::vector<int> out;
  std::size_t from = 0, at = 0;
  while (at < text.size()) {
    std::size_t best = 0;
    int bestId = -1;
    for (const auto& [content, id] : specials_)
      if (!content.empty() && content.size() > best && text.compare(at, content.size(), content) == 0) {
        best = content.size();
        bestId = id;
      }
    if (bestId < 0) {
      ++at;
      continue;
    }
    encodeSegment(text.substr(from, at - from), out);
    out.push_back(bestId);
    at += best;
    from = at;
  }
  encodeSegment(text.substr(from), out);
  return out;
}

WordPieceTokenizer::Encoding WordPieceTokenizer::applyTemplate(const std::vector<TemplateItem>& items,
                                                               const std::vector<int>& a, const std::vector<int>& b) const {
  Encoding e;
  for (const TemplateItem& item : items) {
    const std::vector<int>& ids = item.sequence == 'A' ? a : item.sequence == 'B' ? b : item.specialIds;
    e.ids.insert(e.ids.end(), ids.begin(), ids.end());
    e.typeIds.insert(e.typeIds.end(), ids.size(), item.typeId);
  }
  return e;
}

WordPieceTokenizer::Encoding WordPieceTokenizer::encode(std::string_view text) const {
  return applyTemplate(single_, encodeText(text), {});
}

WordPieceTokenizer::Encoding WordPieceTokenizer::encodePair(std::string_view a, std::string_view b) const {
  return applyTemplate(pair_, encodeText(a), encodeText(b));
}

std::string WordPieceTokenizer::displayText(int id) const {
  if (id < 0 || id >= size()) return "<" + std::to_string(id) + ">";
  return printable(tokens_[std::size_t(id)]);
}

std::optional<int> WordPieceTokenizer::specialToken(std::string_view content) const {
  const auto it = specials_.find(std::string(content));
  if (it == specials_.end()) return std::nullopt;
  return it->second;
}

bool WordPieceTokenizer::isSpecial(int id) const {
  for (const auto& [content, special] : specials_)
    if (special == id) return true;
  return false;
}

}  // namespace attnviz::model
