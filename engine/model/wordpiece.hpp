#pragma once
// WordPiece, BERT's tokenizer, run as Hugging Face's tokenizers library (Rust) runs it: special
// tokens written in the text are split out first; the rest is normalized (BertNormalizer: clean
// text, spaces around CJK ideographs, accents stripped, lowercase), pre-tokenized
// (BertPreTokenizer: whitespace removed, every punctuation character its own piece) and each
// word split greedily, longest piece first, continuations marked "##"; the post-processor puts
// [CLS] A [SEP] (B [SEP]) around it with token types 0 and 1.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace attnviz::model {

class WordPieceTokenizer {
 public:
  // tokenizer.json whose model is WordPiece (normalizer BertNormalizer, pre-tokenizer
  // BertPreTokenizer, post-processor BertProcessing or TemplateProcessing); `configJson`
  // (tokenizer_config.json, may be null) overrides do_lower_case, strip_accents and
  // tokenize_chinese_chars as transformers' fast tokenizer does. Throws Error naming the file
  // and the part attnviz does not implement.
  static WordPieceTokenizer fromTokenizerJson(const std::string& json, const std::string& name,
                                              const std::string* configJson, const std::string& configName);
  // vocab.txt (a token per line, its id the line number) with tokenizer_config.json's options,
  // BertTokenizer's defaults otherwise (lowercase, accents stripped with it, CJK split).
  static WordPieceTokenizer fromVocabTxt(const std::string& vocabText, const std::string& name,
                                         const std::string* configJson, const std::string& configName);
  // tokenizer.json when the folder has one, else vocab.txt (missing or empty: Error naming it).
  static WordPieceTokenizer fromFolder(const std::string& dir);

  struct Encoding {
    std::vector<int> ids, typeIds;
  };
  Encoding encode(std::string_view text) const;                       // [CLS] text [SEP], types 0
  Encoding encodePair(std::string_view a, std::string_view b) const;  // [CLS] A [SEP] B [SEP], types 0 then 1
  std::vector<int> encodeText(std::string_view text) const;           // nothing around it
  std::string displayText(int id) const;  // as the vocabulary writes it ("##ing")
  int size() const { return int(tokens_.size()); }
  std::optional<int> specialToken(std::string_view content) const;
  bool isSpecial(int id) const;
  std::optional<int> maskId() const { return maskId_; }

  struct Options {
    bool cleanText = true, chineseChars = true, lowercase = true;
    std::optional<bool> stripAccents;  // unset: follows lowercase
  };

 private:
  // One item of a post-processor template: a special token's ids, or sentence A or B.
  struct TemplateItem {
    std::vector<int> specialIds;
    char sequence = 0;  // 'A', 'B' or 0 for a special token
    int typeId = 0;
  };
  void encodeSegment(std::string_view text, std::vector<int>& out) const;
  void encodeWord(const std::u32string& word, std::vector<int>& out) const;
  Encoding applyTemplate(const std::vector<TemplateItem>& items, const std::vector<int>& a, const std::vector<int>& b) const;
  void finish(const std::string& name);

  Options options_;
  std::vector<std::string> tokens_;             // id -> token
  std::unordered_map<std::string, int> vocab_;  // token -> id
  std::map<std::string, int> specials_;         // content -> id: matched in the raw text
  int unkId_ = 0;
  std::optional<int> maskId_;
  std::string continuation = "##";
  int maxInputCharsPerWord = 100;
  std::vector<TemplateItem> single_, pair_;
};

}  // namespace attnviz::model
