// Reading a Hugging Face tokenizer.json (and tokenizer_config.json) into the steps of
// tokenizer_pipeline.hpp. Every part attnviz does not run is refused by name, so a tokenizer
// either encodes as the tokenizers library would or does not load.
#include <nlohmann/json.hpp>

#include "json_text.hpp"
#include "tokenizer.hpp"
#include "tokenizer_pipeline.hpp"
#include "types.hpp"

namespace attnviz::model {
namespace {

using detail::AddedToken;
using detail::NormalizerStep;
using detail::PreTokenizerStep;
using detail::SplitBehavior;
using nlohmann::json;

constexpr int kMaxTokenId = (1 << 21) - 1;
constexpr const char* kSpace = " ";

std::string inQuotes(std::string_view s) { return "\"" + printable(s) + "\""; }

// Reads one tokenizer.json and remembers its name for the messages.
class TokenizerJsonReader {
 public:
  explicit TokenizerJsonReader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(name_ + ": " + what); }

  bool flag(const json& object, const char* key, bool fallback, const std::string& where) const {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(where + " \"" + key + "\" is not true or false");
    return it->get<bool>();
  }

  std::string string(const json& object, const char* key, const std::string& where) const {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) fail(where + " has no string \"" + key + "\"");
    return it->get<std::string>();
  }

  std::string typeOf(const json& step, const std::string& what) const {
    if (!step.is_object()) fail(what + " is not a JSON object");
    const auto t = step.find("type");
    if (t == step.end() || !t->is_string()) fail(what + " has no \"type\"");
    return t->get<std::string>();
  }

  std::shared_ptr<SplitPattern> compile(const std::string& pattern, const std::string& where) const {
    try {
      return std::make_shared<SplitPattern>(pattern);
    } catch (const Error& e) {
      fail(where + ": " + e.what());
    }
  }

  void normalizer(const json& n, std::vector<NormalizerStep>& out) const {
    const std::string type = typeOf(n, "the normalizer");
    NormalizerStep step;
    if (type == "Sequence") {
      const auto list = n.find("normalizers");
      if (list == n.end() || !list->is_array()) fail("the Sequence normalizer has no \"normalizers\" list");
      for (const json& m : *list) normalizer(m, out);
      return;
    } else if (type == "Prepend") {
      step.kind = NormalizerStep::Kind::Prepend;
      step.text = string(n, "prepend", "the Prepend normalizer");
    } else if (type == "Replace") {
      step.kind = NormalizerStep::Kind::Replace;
      const auto pattern = n.find("pattern");
      if (pattern == n.end() || !pattern->is_object()) fail("the Replace normalizer has no \"pattern\"");
      if (pattern->contains("String") && (*pattern)["String"].is_string())
        step.text = (*pattern)["String"].get<std::string>();
      else if (pattern->contains("Regex") && (*pattern)["Regex"].is_string())
        step.regex = compile((*pattern)["Regex"].get<std::string>(), "the Replace normalizer's pattern");
      else
        fail("the Replace normalizer's pattern is neither {\"String\": ...} nor {\"Regex\": ...}");
      if (step.text.empty() && !step.regex) fail("the Replace normalizer's pattern is empty");
      step.content = string(n, "content", "the Replace normalizer");
    } else if (type == "Strip") {
      step.kind = NormalizerStep::Kind::Strip;
      step.left = flag(n, "strip_left", true, "the Strip normalizer's");
      step.right = flag(n, "strip_right", true, "the Strip normalizer's");
    } else if (type == "NFC" || type == "NFKC" || type == "NFD" || type == "NFKD") {
      step.kind = type == "NFC"    ? NormalizerStep::Kind::Nfc
                  : type == "NFKC" ? NormalizerStep::Kind::Nfkc
                  : type == "NFD"  ? NormalizerStep::Kind::Nfd
                                   : NormalizerStep::Kind::Nfkd;
#ifndef ATTNVIZ_HAVE_ICU
      fail("normalizer \"" + type + "\" needs attnviz built with ICU (libicu-dev)");
#endif
    } else {
      fail("normalizer " + inQuotes(type) +
           " is not supported (attnviz reads Sequence, Prepend, Replace, Strip, NFC, NFKC, NFD and NFKD)");
    }
    out.push_back(std::move(step));
  }

  SplitBehavior behavior(const json& p) const {
    const auto b = p.find("behavior");
    if (b == p.end() || b->is_null()) return SplitBehavior::Isolated;
    if (!b->is_string()) fail("the Split pre-tokenizer's \"behavior\" is not a string");
    const std::string s = b->get<std::string>();
    if (s == "Removed") return SplitBehavior::Removed;
    if (s == "Isolated") return SplitBehavior::Isolated;
    if (s == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
    if (s == "MergedWithNext") return SplitBehavior::MergedWithNext;
    if (s == "Contiguous") return SplitBehavior::Contiguous;
    fail("Split behavior " + inQuotes(s) + " is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
  }

  void preTokenizer(const json& p, std::vector<PreTokenizerStep>& out) const {
    const std::string type = typeOf(p, "the pre-tokenizer");
    PreTokenizerStep step;
    if (type == "Sequence") {
      const auto list = p.find("pretokenizers");
      if (list == p.end() || !list->is_array()) fail("the Sequence pre-tokenizer has no \"pretokenizers\" list");
      for (const json& q : *list) preTokenizer(q, out);
      return;
    } else if (type == "Split") {
      step.kind = PreTokenizerStep::Kind::Split;
      const auto pattern = p.find("pattern");
      if (pattern == p.end() || !pattern->is_object()) fail("the Split pre-tokenizer has no \"pattern\"");
      if (pattern->contains("Regex") && (*pattern)["Regex"].is_string())
        step.regex = compile((*pattern)["Regex"].get<std::string>(), "the Split pre-tokenizer's pattern");
      else if (pattern->contains("String") && (*pattern)["String"].is_string())
        step.literal = (*pattern)["String"].get<std::string>();
      else
        fail("the Split pre-tokenizer's pattern is neither {\"Regex\": ...} nor {\"String\": ...}");
      step.behavior = behavior(p);
      step.invert = flag(p, "invert", false, "the Split pre-tokenizer's");
    } else if (type == "Digits") {
      // tokenizers splits at every numeric character (Unicode N), alone or in runs.
      step.kind = PreTokenizerStep::Kind::Split;
      step.regex = compile(R"(\p{N})", "the Digits pre-tokenizer");
      step.behavior = flag(p, "individual_digits", false, "the Digits pre-tokenizer's") ? SplitBehavior::Isolated
                                                                                       : SplitBehavior::Contiguous;
    } else if (type == "ByteLevel") {
      step.kind = PreTokenizerStep::Kind::ByteLevel;
      step.addPrefixSpace = flag(p, "add_prefix_space", false, "the ByteLevel pre-tokenizer's");
      if (flag(p, "use_regex", true, "the ByteLevel pre-tokenizer's")) step.regex = compile(kGpt2SplitPattern, "GPT-2's pattern");
    } else if (type == "Metaspace") {
      step.kind = PreTokenizerStep::Kind::Metaspace;
      step.replacement = p.contains("replacement") ? string(p, "replacement", "the Metaspace pre-tokenizer") : "\u2581";
      if (step.replacement.empty()) fail("the Metaspace pre-tokenizer's replacement is empty");
      if (const auto scheme = p.find("prepend_scheme"); scheme != p.end() && !scheme->is_null()) {
        const std::string s = scheme->is_string() ? scheme->get<std::string>() : scheme->dump();
        if (s == "always") step.prepend = PreTokenizerStep::Prepend::Always;
        else if (s == "first") step.prepend = PreTokenizerStep::Prepend::First;
        else if (s == "never") step.prepend = PreTokenizerStep::Prepend::Never;
        else fail("Metaspace prepend_scheme " + inQuotes(s) + " is not always, first or never");
      } else {
        step.prepend = flag(p, "add_prefix_space", true, "the Metaspace pre-tokenizer's") ? PreTokenizerStep::Prepend::Always
                                                                                          : PreTokenizerStep::Prepend::Never;
      }
      step.split = flag(p, "split", true, "the Metaspace pre-tokenizer's");
    } else {
      fail("pre-tokenizer " + inQuotes(type) + " is not supported (attnviz reads Sequence, Split, ByteLevel, Metaspace and Digits)");
    }
    out.push_back(std::move(step));
  }

  std::vector<std::pair<std::string, std::string>> merges(const json& list) const {
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      const json& m = list[i];
      if (m.is_string()) {
        const std::string& s = m.get_ref<const std::string&>();
        const size_t space = s.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos)
          fail("merge " + std::to_string(i + 1) + " " + inQuotes(s) + " is not \"A B\"");
        out.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        fail("merge " + std::to_string(i + 1) + " is neither \"A B\" nor [\"A\", \"B\"]");
      }
    }
    return out;
  }

  std::vector<AddedToken> addedTokens(const json& list, const std::vector<NormalizerStep>& normalizer) const {
    std::vector<AddedToken> out;
    if (!list.is_array()) fail("\"added_tokens\" is not a list");
    for (size_t i = 0; i < list.size(); ++i) {
      const json& t = list[i];
      const std::string where = "added token " + std::to_string(i + 1);
      if (!t.is_object()) fail(where + " is not a JSON object");
      AddedToken a;
      a.content = string(t, "content", where);
      if (a.content.empty()) fail(where + " has an empty \"content\"");
      const auto id = t.find("id");
      if (id == t.end() || !id->is_number_integer() || id->get<long>() < 0 || id->get<long>() > kMaxTokenId)
        fail(where + " " + inQuotes(a.content) + " has no id from 0 to 2^21 - 1");
      a.id = int(id->get<long>());
      a.special = flag(t, "special", false, where + "'s");
      a.lstrip = flag(t, "lstrip", false, where + "'s");
      a.rstrip = flag(t, "rstrip", false, where + "'s");
      a.singleWord = flag(t, "single_word", false, where + "'s");
      a.normalized = flag(t, "normalized", !a.special, where + "'s");
      a.match = a.normalized ? normalizeText(normalizer, a.content) : a.content;
      out.push_back(std::move(a));
    }
    return out;
  }

  // The id of a token named in the post-processor or tokenizer_config.json.
  std::optional<int> idOf(const std::string& token, const std::vector<AddedToken>& added,
                          const std::vector<VocabEntry>& vocab) const {
    for (const AddedToken& a : added)
      if (a.content == token) return a.id;
    for (const VocabEntry& e : vocab)
      if (e.token == token) return e.id;
    return std::nullopt;
  }

  void postProcessor(const json& p, std::vector<int>& prefix, std::vector<int>& suffix) const {
    const std::string type = typeOf(p, "the post-processor");
    if (type == "Sequence") {
      const auto list = p.find("processors");
      if (list == p.end() || !list->is_array()) fail("the Sequence post-processor has no \"processors\" list");
      for (const json& q : *list) postProcessor(q, prefix, suffix);
    } else if (type == "ByteLevel") {
      // offsets only
    } else if (type == "TemplateProcessing") {
      const auto single = p.find("single");
      if (single == p.end() || !single->is_array()) fail("the TemplateProcessing post-processor has no \"single\" list");
      const json specials = p.value("special_tokens", json::object());
      bool sawSequence = false;
      for (const json& item : *single) {
        if (item.is_object() && item.contains("Sequence")) {
          sawSequence = true;
          continue;
        }
        const auto special = item.is_object() ? item.find("SpecialToken") : item.end();
        if (!item.is_object() || special == item.end() || !special->is_object() || !special->contains("id") ||
            !(*special)["id"].is_string())
          fail("the TemplateProcessing \"single\" list has an item that is neither {\"SpecialToken\": ...} nor {\"Sequence\": ...}");
        const std::string name = (*special)["id"].get<std::string>();
        const auto entry = specials.is_object() ? specials.find(name) : specials.end();
        if (entry == specials.end() || !entry->is_object() || !entry->contains("ids") || !(*entry)["ids"].is_array())
          fail("the TemplateProcessing special token " + inQuotes(name) + " has no \"ids\" in \"special_tokens\"");
        for (const json& id : (*entry)["ids"]) {
          if (!id.is_number_integer() || id.get<long>() < 0 || id.get<long>() > kMaxTokenId)
            fail("the TemplateProcessing special token " + inQuotes(name) + " has an id that is not a token id");
          (sawSequence ? suffix : prefix).push_back(int(id.get<long>()));
        }
      }
      if (!sawSequence) fail("the TemplateProcessing \"single\" list has no $A");
    } else if (type == "RobertaProcessing" || type == "BertProcessing") {
      for (const char* key : {"cls", "sep"}) {
        const auto pair = p.find(key);
        if (pair == p.end() || !pair->is_array() || pair->size() != 2 || !(*pair)[1].is_number_integer() ||
            (*pair)[1].get<long>() < 0 || (*pair)[1].get<long>() > kMaxTokenId)
          fail("the " + type + " post-processor has no [\"token\", id] \"" + key + "\"");
        (std::string(key) == "cls" ? prefix : suffix).push_back(int((*pair)[1].get<long>()));
      }
    } else {
      fail("post-processor " + inQuotes(type) +
           " is not supported (attnviz reads TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing and Sequence)");
    }
  }

 private:
  std::string name_;
};

// tokenizer_config.json's token fields are a string or {"content": ...}.
std::optional<std::string> configToken(const json& config, const char* key, const std::string& configName) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  throw Error(configName + ": \"" + key + "\" is neither a string nor {\"content\": ...}");
}

BpeTokenizer readTokenizerJson(const std::string& text, const std::string& name, const std::string* configText,
                               const std::string& configName) {
  const TokenizerJsonReader r(name);
  const json j = parseJsonText(text, name);
  if (!j.is_object()) r.fail("not a JSON object");
  const auto model = j.find("model");
  if (model == j.end() || !model->is_object()) r.fail("no \"model\" object");
  const std::string type = model->value("type", std::string("BPE"));
  if (type != "BPE")
    r.fail("tokenizer model " + inQuotes(type) +
           " is not supported (attnviz reads BPE: byte-level, or SentencePiece-style with byte_fallback)");
  const auto vocab = model->find("vocab");
  if (vocab == model->end()) r.fail("model has no \"vocab\"");
  const std::vector<VocabEntry> entries = parseVocabObject(*vocab, name);
  const auto mergeList = model->find("merges");
  if (mergeList == model->end() || !mergeList->is_array()) r.fail("model has no \"merges\" list");
  const MergeList merges = r.merges(*mergeList);
  if (const auto dropout = model->find("dropout");
      dropout != model->end() && !dropout->is_null() && !(dropout->is_number() && dropout->get<double>() == 0))
    r.fail("BPE dropout " + printable(dropout->dump()) + " is not supported (it makes encoding random)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const auto it = model->find(key); it != model->end() && it->is_string() && !it->get<std::string>().empty())
      r.fail(std::string("BPE \"") + key + "\" is not supported");

  auto pipeline = std::make_shared<detail::TokenizerPipeline>();
  if (const auto n = j.find("normalizer"); n != j.end() && !n->is_null()) r.normalizer(*n, pipeline->normalizer);
  if (const auto p = j.find("pre_tokenizer"); p != j.end() && !p->is_null()) r.preTokenizer(*p, pipeline->preTokenizer);
  if (const auto a = j.find("added_tokens"); a != j.end() && !a->is_null())
    pipeline->added = r.addedTokens(*a, pipeline->normalizer);

  BpeModelOptions options;
  options.byteLevel = false;
  for (const PreTokenizerStep& s : pipeline->preTokenizer) {
    if (s.kind == PreTokenizerStep::Kind::ByteLevel) {
      options.byteLevel = true;
      if (s.addPrefixSpace) options.roundTrips = false;
    } else if (s.kind == PreTokenizerStep::Kind::Split && s.behavior == SplitBehavior::Removed) {
      options.roundTrips = false;
    } else if (s.kind == PreTokenizerStep::Kind::Metaspace) {
      options.spaceMarker = s.replacement;
      if (s.prepend != PreTokenizerStep::Prepend::Never) {
        options.stripsLeadingSpace = true;
        options.roundTrips = false;  // a text that starts with a space loses it, as in tokenizers
      }
    }
  }
  // SentencePiece's normalizer: Prepend("▁") then Replace(" ", "▁").
  for (const NormalizerStep& s : pipeline->normalizer) {
    if (s.kind == NormalizerStep::Kind::Replace && !s.regex && s.text == kSpace) options.spaceMarker = s.content;
    else if (s.kind != NormalizerStep::Kind::Prepend) options.roundTrips = false;
  }
  for (const NormalizerStep& s : pipeline->normalizer)
    if (s.kind == NormalizerStep::Kind::Prepend) {
      if (s.text == options.spaceMarker || s.text == kSpace) options.stripsLeadingSpace = true;
      else options.roundTrips = false;
    }
  options.byteFallback = r.flag(*model, "byte_fallback", false, "the model's");
  if (options.byteLevel && options.byteFallback) options.byteFallback = false;  // every byte has a token already
  options.ignoreMerges = r.flag(*model, "ignore_merges", false, "the model's");
  options.fuseUnk = r.flag(*model, "fuse_unk", false, "the model's");
  if (const auto unk = model->find("unk_token"); unk != model->end() && !unk->is_null()) {
    if (!unk->is_string()) r.fail("the model's \"unk_token\" is not a string");
    options.unkToken = unk->get<std::string>();
  }
  if (const auto p = j.find("post_processor"); p != j.end() && !p->is_null()) r.postProcessor(*p, options.prefix, options.suffix);

  if (configText) {
    // transformers rebuilds the template from these when the config names them.
    const json config = parseJsonText(*configText, configName);
    if (!config.is_object()) throw Error(configName + ": not a JSON object");
    const auto flagOf = [&](const char* key) -> std::optional<bool> {
      const auto it = config.find(key);
      if (it == config.end() || it->is_null()) return std::nullopt;
      if (!it->is_boolean()) throw Error(configName + ": \"" + key + "\" is not true or false");
      return it->get<bool>();
    };
    const std::optional<bool> addBos = flagOf("add_bos_token"), addEos = flagOf("add_eos_token");
    const auto tokenId = [&](const char* key) {
      const std::optional<std::string> token = configToken(config, key, configName);
      if (!token) throw Error(configName + ": \"add_" + std::string(key) + "\" is true but there is no \"" + key + "\"");
      const std::optional<int> id = r.idOf(*token, pipeline->added, entries);
      if (!id) throw Error(configName + ": the " + key + " " + inQuotes(*token) + " is not a token of " + name);
      return *id;
    };
    if (addBos || addEos) {
      options.prefix.clear();
      options.suffix.clear();
      if (addBos.value_or(false)) options.prefix.push_back(tokenId("bos_token"));
      if (addEos.value_or(false)) options.suffix.push_back(tokenId("eos_token"));
    }
  }
  return BpeTokenizerBuilder::make(entries, merges, name, name, options, pipeline);
}

}  // namespace

BpeTokenizer BpeTokenizer::fromTokenizerJson(const std::string& json, const std::string& name) {
  return readTokenizerJson(json, name, nullptr, {});
}

BpeTokenizer BpeTokenizer::fromTokenizerJson(const std::string& json, const std::string& name,
                                             const std::string& configJson, const std::string& configName) {
  return readTokenizerJson(json, name, &configJson, configName);
}

}  // namespace attnviz::model
