#pragma once
// Byte-level BPE as GPT-2 defines it: split the text with a pre-tokenizer regex, map each piece's
// bytes to GPT-2's printable byte alphabet, then apply the merges, lowest rank first.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
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

 private:
  std::shared_ptr<void> code_;
};

class BpeTokenizer {
 public:
  // GPT-2's files. The names start messages ("vocab.json: ...").
  static BpeTokenizer fromVocabAndMerges(const std::string& vocabJson, const std::string& mergesText,
                                         const std::string& vocabName, const std::string& mergesName);
  // A Hugging Face tokenizer.json whose model is byte-level BPE; its pre-tokenizer's split
  // pattern is used when it has one.
  static BpeTokenizer fromTokenizerJson(const std::string& json, const std::string& name);
  // tokenizer.json when the folder has one, else vocab.json + merges.txt.
  static BpeTokenizer fromFolder(const std::string& dir);

  // Token ids of `text` (UTF-8; throws Error naming the byte offset otherwise). Special tokens
  // written in the text (e.g. <|endoftext|>) become their ids, as Hugging Face's tokenizers do.
  std::vector<int> encode(std::string_view text) const;
  int size() const { return int(bytes_.size()); }  // one past the largest id
  bool hasToken(int id) const { return id >= 0 && id < size() && present_[id]; }
  const std::string& tokenBytes(int id) const { return bytes_.at(id); }
  std::string displayText(int id) const;
  std::optional<int> specialToken(std::string_view content) const;
  bool isSpecial(int id) const;

 private:
  friend struct BpeTokenizerBuilder;
  void addSpecial(const std::string& content, int id);
  void encodePiece(std::string_view piece, std::vector<int>& out,
                   std::unordered_map<std::string_view, std::vector<int>>& cache) const;

  std::vector<std::string> bytes_;  // id -> the token's bytes
  std::vector<char> present_;
  int byteIds_[256] = {};
  std::unordered_map<std::uint64_t, std::pair<int, int>> merges_;  // (a, b) -> (rank, merged id)
  std::vector<std::pair<std::string, int>> specials_;              // longest first
  std::shared_ptr<SplitPattern> pattern_;
};

// A token's bytes as text people can read: spaces as ·, newlines ↵, tabs ⇥, other control bytes
// and bytes that are not whole UTF-8 as \xNN.
std::string displayTokenText(std::string_view bytes);

// GPT-2's byte alphabet: byte b -> the code point that stands for it in vocab.json.
char32_t byteToUnicode(unsigned char b);

}  // namespace attnviz::model
