// vocab.json + merges.txt. The input is split in two at the first NUL (or halfway): vocab.json,
// then merges.txt. A tokenizer that loads encodes a fixed text and the merges half of the input
// (see fuzz_bpe_common.hpp for what is checked).
#include <string>

#include "fuzz_bpe_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const size_t cut = nul == std::string::npos ? size / 2 : nul;
  const std::string vocab = input.substr(0, cut);
  const std::string merges = input.substr(nul == std::string::npos ? cut : cut + 1);
  attnviz::fuzz::parseOrError([&] {
    const auto tok = attnviz::model::BpeTokenizer::fromVocabAndMerges(vocab, merges, "vocab.json", "merges.txt");
    attnviz::fuzz::checkEncode(tok, attnviz::fuzz::kFixedText, false);
    attnviz::fuzz::checkEncode(tok, std::string_view(merges).substr(0, 512), false);
  });
  return 0;
}
