#pragma once
// Internal to the tokenizer (tokenizer.cpp runs these, tokenizer_json.cpp reads them from a
// tokenizer.json): the steps between the text and the BPE model, with Hugging Face tokenizers'
// semantics.
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer.hpp"

namespace attnviz::model::detail {

// What a split does with the text its pattern matches (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct NormalizerStep {
  enum class Kind { Prepend, Replace, Nfc, Nfkc, Nfd, Nfkd, Strip };
  Kind kind = Kind::Prepend;
  std::string text;                     // Prepend: what goes in front; Replace: the literal pattern
  std::shared_ptr<SplitPattern> regex;  // Replace with a Regex pattern
  std::string content;                  // Replace: what replaces each match
  bool left = false, right = false;     // Strip
};

struct PreTokenizerStep {
  enum class Kind { Split, ByteLevel, Metaspace };
  enum class Prepend { Always, First, Never };
  Kind kind = Kind::Split;
  std::shared_ptr<SplitPattern> regex;  // Split (Regex or Digits), ByteLevel with use_regex
  std::string literal;                  // Split with a String pattern
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  bool addPrefixSpace = false;  // ByteLevel
  std::string replacement;      // Metaspace
  Prepend prepend = Prepend::Always;
  bool split = true;  // Metaspace: split before each replacement character
};

struct AddedToken {
  std::string content;
  std::string match;  // what is looked for: content, or the normalized content when normalized
  int id = 0;
  bool special = false, lstrip = false, rstrip = false, normalized = false, singleWord = false;
};

struct TokenizerPipeline {
  std::vector<AddedToken> added;  // longest match first
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> preTokenizer;
};

}  // namespace attnviz::model::detail

namespace attnviz::model {

struct VocabEntry {
  std::string token;
  int id;
};
using MergeList = std::vector<std::pair<std::string, std::string>>;

// How the BPE model turns a piece into its first symbols, and what the tokenizer adds around
// the text (tokenizer.json's "model" and post-processor).
struct BpeModelOptions {
  bool byteLevel = true;
  bool byteFallback = false;
  bool ignoreMerges = false;
  bool fuseUnk = false;
  std::optional<std::string> unkToken;
  std::string spaceMarker;  // "▁": stands for a space in the vocabulary's strings
  bool stripsLeadingSpace = false;
  bool roundTrips = true;
  std::vector<int> prefix, suffix;
};

std::vector<VocabEntry> parseVocabObject(const nlohmann::json& vocab, const std::string& name);

// Fills a tokenizer from parsed files, checking that every merge names known tokens.
struct BpeTokenizerBuilder {
  static BpeTokenizer make(const std::vector<VocabEntry>& vocab, const MergeList& merges, const std::string& vocabName,
                           const std::string& mergesName, const BpeModelOptions& options,
                           std::shared_ptr<detail::TokenizerPipeline> pipeline);
};

// Normalizer and pre-tokenizer runs (tokenizer.cpp), also used when reading added tokens.
std::string normalizeText(const std::vector<detail::NormalizerStep>& steps, std::string text);

}  // namespace attnviz::model
