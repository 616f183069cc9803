#pragma once
// A text model's tokenizer, whichever kind its folder holds: byte-level or SentencePiece BPE
// (the decoders, RoBERTa) or WordPiece (BERT, DistilBERT). What the app, the sessions and the
// command line need of either: the ids (and token types) the model receives, and how a token
// reads.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer.hpp"

namespace attnviz::model {

class WordPieceTokenizer;  // wordpiece.hpp

// What a model receives for a text: ids, and each token's type (the model's token type ids).
// For a pair, `sentence` says which text each token belongs to (0: A, 1: B), also where the
// model's type ids do not (RoBERTa's are all 0); empty for one text.
struct TextEncoding {
  std::vector<int> ids, typeIds, sentence;
};

class TextTokenizer {
 public:
  TextTokenizer();
  // WordPiece when the folder's tokenizer.json says so or it has vocab.txt and no BPE files;
  // BPE otherwise (tokenizer.json, or vocab.json + merges.txt). Throws Error naming the file.
  static TextTokenizer fromFolder(const std::string& dir);

  // The ids the model receives: the special tokens the tokenizer's files put around the text
  // ([CLS] A [SEP] (B [SEP]); <s> A </s></s> B </s>; a decoder's BOS). A pair is refused by a
  // tokenizer that has no separator (a decoder's): one line.
  TextEncoding encodeForModel(std::string_view text, std::optional<std::string_view> pair = std::nullopt) const;
  // The text alone, nothing added around it.
  std::vector<int> encode(std::string_view text) const;
  std::string displayText(int id) const;
  int size() const;  // one past the largest id
  bool isSpecial(int id) const;
  std::optional<int> specialToken(std::string_view content) const;
  // The token a masked-LM fills in ([MASK], <mask>), when the vocabulary has one.
  std::optional<int> maskId() const;
  bool wordPiece() const { return wordPiece_ != nullptr; }
  // The BPE tokenizer itself (null for WordPiece): `tokenize`'s --no-bos and byte-level details.
  const BpeTokenizer* bpe() const { return bpe_.get(); }

 private:
  std::shared_ptr<const BpeTokenizer> bpe_;
  std::shared_ptr<const WordPieceTokenizer> wordPiece_;
};

}  // namespace attnviz::model
