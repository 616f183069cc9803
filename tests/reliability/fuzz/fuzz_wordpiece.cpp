// WordPiece: the input's first line is a vocabulary line list (vocab.txt) joined by '|', the rest
// the text. A vocabulary either loads or is refused with a one-line Error; a text either encodes
// to ids inside the vocabulary, [CLS] first and [SEP] last, with type ids 0, or is refused (bad
// UTF-8) with a one-line Error.
#include <string>

#include "fuzz_common.hpp"
#include "wordpiece.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using attnviz::model::WordPieceTokenizer;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = bytes.find('\n');
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (char c : bytes.substr(0, newline == std::string::npos ? 0 : newline)) vocab += c == '|' ? '\n' : c;
  const std::string text = newline == std::string::npos ? bytes : bytes.substr(newline + 1);
  attnviz::fuzz::parseOrError([&] {
    const WordPieceTokenizer t = WordPieceTokenizer::fromVocabTxt(vocab, "fuzz vocab.txt", nullptr, "");
    const WordPieceTokenizer::Encoding e = t.encodePair(text, text);
    if (e.ids.size() < 3 || e.ids.size() != e.typeIds.size()) attnviz::fuzz::violated("malformed pair encoding");
    for (const int id : e.ids)
      if (id < 0 || id >= t.size()) attnviz::fuzz::violated("id outside the vocabulary");
    if (e.ids.front() != *t.specialToken("[CLS]") || e.ids.back() != *t.specialToken("[SEP]"))
      attnviz::fuzz::violated("[CLS] A [SEP] B [SEP] not kept");
  });
  return 0;
}
