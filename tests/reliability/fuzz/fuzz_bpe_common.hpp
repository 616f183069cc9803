#pragma once
// What fuzz_bpe and fuzz_tokenizer_json check of a tokenizer that loaded: every id encode
// returns is in the vocabulary, and (when no special token is involved) the ids' bytes put back
// together are exactly the text.
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "tokenizer.hpp"

namespace attnviz::fuzz {

inline void checkEncode(const model::BpeTokenizer& tok, std::string_view text, bool specialsMayBeAmbiguous) {
  std::vector<int> ids;
  try {
    ids = tok.encode(text);
  } catch (const Error& e) {
    checkError(e);  // invalid UTF-8
    return;
  }
  std::string back;
  bool special = false;
  for (int id : ids) {
    if (!tok.hasToken(id)) violated("encode returned an id outside the vocabulary");
    (void)tok.displayText(id);
    if (tok.isSpecial(id)) {
      special = true;
      back += tok.displayText(id);
    } else {
      back += tok.tokenBytes(id);
    }
  }
  if (special && specialsMayBeAmbiguous) return;
  if (back != text) violated("the ids do not spell the text");
}

inline const char* kFixedText = "Hello world, the cat's 123 naïve  \n\t<|endoftext|> 日本語 🙂 it'll";

}  // namespace attnviz::fuzz
