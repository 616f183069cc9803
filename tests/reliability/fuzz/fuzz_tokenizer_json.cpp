// A Hugging Face tokenizer.json (byte-level BPE, its own split regex, added tokens). A tokenizer
// that loads encodes a fixed text and the last 512 bytes of the input (see fuzz_bpe_common.hpp).
// Added tokens may share an id, so the round trip is only checked on texts without special tokens.
#include <string>

#include "fuzz_bpe_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  attnviz::fuzz::parseOrError([&] {
    const auto tok = attnviz::model::BpeTokenizer::fromTokenizerJson(input, "tokenizer.json");
    attnviz::fuzz::checkEncode(tok, attnviz::fuzz::kFixedText, true);
    attnviz::fuzz::checkEncode(tok, std::string_view(input).substr(size > 512 ? size - 512 : 0), true);
  });
  return 0;
}
