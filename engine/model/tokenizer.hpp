#pragma once
// The BPE tokenizers of the GPT-2 and Llama families, run the way Hugging Face's tokenizers
// library runs a tokenizer.json: added tokens are split out first, each stretch of text between
// them is normalized (Prepend, Replace, NFC...) and pre-tokenized (a split regex, ByteLevel,
// Metaspace, Digits), then each piece is merged, lowest merge rank first. Two alphabets:
//  * byte-level (GPT-2, Llama 3, Qwen2, SmolLM): a piece's bytes, each a token of GPT-2's
//    printable byte alphabet;
//  * characters (SentencePiece-style: Llama 2, TinyLlama, Mistral v0.1): a piece's code
//    points, with "▁" for spaces and <0x00>…<0xFF> byte tokens for characters not in the
//    vocabulary (byte_fallback).
// The post-processor (or tokenizer_config.json) says which tokens go around the text for the
// model: encode() is the text alone, encodeForModel() adds them (e.g. the BOS <s>).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace attnviz::model {

// GPT-2's pre-tokenizer pattern (PCRE2, Unicode properties).
inline constexpr const char* kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// A compiled pre-tokenizer regex; splits text into the pieces BPE runs on, keeping any text the
// pattern does not match as pieces of its own so that nothing is dropped.
class SplitPattern {
 public:
  explicit SplitPattern(const std::string& pattern);  // throws Error with PCRE2's message
  std::vector<std::string_view> split(std::string_view utf8) const;  // utf8 already validated
  // The non-empty matches, as [begin, end) byte ranges, left to right.
  std::vector<std::pair<size_t, size_t>> matches(std::string_view utf8) const;

 private:
  std::shared_ptr<void> code_;
};

namespace detail {
struct TokenizerPipeline;  // tokenizer_pipeline.hpp
}

class BpeTokenizer {
 public:
  // GPT-2's files. The names start messages ("vocab.json: ...").
  static BpeTokenizer fromVocabAndMerges(const std::string& vocabJson, const std::string& mergesText,
                                         const std::string& vocabName, const std::string& mergesName);
  // A Hugging Face tokenizer.json whose model is BPE (byte-level or SentencePiece-style).
  static BpeTokenizer fromTokenizerJson(const std::string& json, const std::string& name);
  // The same with the folder's tokenizer_config.json, whose add_bos_token / add_eos_token (with
  // bos_token / eos_token), when given, decide the tokens added around the text.
  static BpeTokenizer fromTokenizerJson(const std::string& json, const std::string& name,
                                        const std::string& configJson, const std::string& configName);
  // tokenizer.json (with tokenizer_config.json when there is one) when the folder has one, else
  // vocab.json + merges.txt.
  static BpeTokenizer fromFolder(const std::string& dir);

  // Token ids of `text` (UTF-8; throws Error naming the byte offset otherwise). Added tokens
  // written in the text (e.g. <|endoftext|>, <s>) become their ids, as Hugging Face's
  // tokenizers do. Nothing is added around the text.
  std::vector<int> encode(std::string_view text) const;
  // What the model receives: encode(text) between prefixIds() and suffixIds() (the BOS).
  std::vector<int> encodeForModel(std::string_view text) const;
  const std::vector<int>& prefixIds() const { return prefix_; }
  const std::vector<int>& suffixIds() const { return suffix_; }
  bool addsBos() const { return !prefix_.empty(); }
  std::optional<int> bosId() const;  // the first token encodeForModel puts before the text
  // The text that ids stand for: added tokens as their content, ▁ as a space, byte tokens as
  // their bytes, without the space a SentencePiece normalizer put in front.
  std::string decode(const std::vector<int>& ids) const;

  int size() const { return int(bytes_.size()); }  // one past the largest id
  bool hasToken(int id) const { return id >= 0 && id < size() && present_[id]; }
  // The bytes token `id` stands for (▁ read as a space, <0xNN> as byte NN).
  const std::string& tokenBytes(int id) const { return bytes_.at(id); }
  std::string displayText(int id) const;
  std::optional<int> specialToken(std::string_view content) const;
  bool isSpecial(int id) const;  // an added token (it is matched in the text as a whole)
  bool byteLevel() const { return byteLevel_; }
  std::optional<int> unkId() const { return unk_; }
  // Whether decode(encode(text)) == text for every text without added tokens, unknown
  // characters or the space marker (no lossy normalizer or pre-tokenizer step).
  bool roundTrips() const { return roundTrips_; }

 private:
  friend struct BpeTokenizerBuilder;
  void addSpecial(const std::string& content, int id);
  void encodeText(std::string_view text, bool atStart, std::vector<int>& out,
                  std::unordered_map<std::string, std::vector<int>>& cache) const;
  void encodePiece(const std::string& piece, std::vector<int>& out,
                   std::unordered_map<std::string, std::vector<int>>& cache) const;
  void mergeSymbols(std::vector<int>& word) const;

  std::vector<std::string> bytes_;  // id -> the token's bytes
  std::vector<char> present_;
  int byteIds_[256] = {};  // byte -> its token (GPT-2's alphabet, or <0xNN> with byte fallback)
  std::unordered_map<std::uint64_t, std::pair<int, int>> merges_;  // (a, b) -> (rank, merged id)
  std::vector<std::pair<std::string, int>> specials_;              // longest first
  std::shared_ptr<const detail::TokenizerPipeline> pipeline_;  // added tokens, normalizer, pre-tokenizer
  // A piece as BPE sees it (bytes when byte-level, else the vocabulary's own string) -> its id:
  // single characters, and whole pieces for ignore_merges.
  std::unordered_map<std::string, int> pieceIds_;
  bool byteLevel_ = true;
  bool byteFallback_ = false;
  bool ignoreMerges_ = false;
  bool fuseUnk_ = false;
  bool roundTrips_ = true;
  bool stripsLeadingSpace_ = false;  // decode drops the space the normalizer put in front
  std::optional<int> unk_;
  std::vector<int> prefix_, suffix_;
  std::string name_;  // the file, for messages at encode time
};

// A token's bytes as text people can read: spaces as ·, newlines ↵, tabs ⇥, other control bytes
// and bytes that are not whole UTF-8 as \xNN.
std::string displayTokenText(std::string_view bytes);

// GPT-2's byte alphabet: byte b -> the code point that stands for it in vocab.json.
char32_t byteToUnicode(unsigned char b);

}  // namespace attnviz::model
