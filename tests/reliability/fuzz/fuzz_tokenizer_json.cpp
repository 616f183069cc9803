// A Hugging Face tokenizer.json (byte-level or SentencePiece-style BPE, normalizers,
// pre-tokenizers, added tokens, post-processor), optionally followed by a NUL and a
// tokenizer_config.json. A tokenizer that loads encodes a fixed text and the last 512 bytes of the
// input (see fuzz_bpe_common.hpp), and encodeForModel must be its prefix, encode and suffix.
// Added tokens may share an id, so the round trip is only checked on texts without added tokens.
#include <string>

#include "fuzz_bpe_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  attnviz::fuzz::parseOrError([&] {
    using attnviz::model::BpeTokenizer;
    const auto tok = nul == std::string::npos
                         ? BpeTokenizer::fromTokenizerJson(input, "tokenizer.json")
                         : BpeTokenizer::fromTokenizerJson(input.substr(0, nul), "tokenizer.json", input.substr(nul + 1),
                                                           "tokenizer_config.json");
    for (std::string_view text : {std::string_view(attnviz::fuzz::kFixedText),
                                  std::string_view(input).substr(size > 512 ? size - 512 : 0)}) {
      attnviz::fuzz::checkEncode(tok, text, true);
      attnviz::fuzz::checkEncodeForModel(tok, text);
    }
  });
  return 0;
}
