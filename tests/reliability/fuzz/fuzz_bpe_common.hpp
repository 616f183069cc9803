#pragma once
// What fuzz_bpe and fuzz_tokenizer_json check of a tokenizer that loaded: every id encode
// returns is in the vocabulary, and (when no special token, unknown character or space marker is
// involved, and the tokenizer says it round-trips) the ids decode to exactly the text.
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
  bool special = false, unknown = false;
  for (int id : ids) {
    if (!tok.hasToken(id)) violated("encode returned an id outside the vocabulary");
    (void)tok.displayText(id);
    special = special || tok.isSpecial(id);
    unknown = unknown || id == tok.unkId();
  }
  const std::string back = tok.decode(ids);
  if (special && specialsMayBeAmbiguous) return;
  if (unknown || !tok.roundTrips()) return;
  // A SentencePiece vocabulary reads its space marker as a space.
  if (!tok.byteLevel() && text.find("\u2581") != std::string_view::npos) return;
  if (back != text) violated("the ids do not spell the text");
}

inline void checkEncodeForModel(const model::BpeTokenizer& tok, std::string_view text) {
  std::vector<int> plain, forModel;
  try {
    plain = tok.encode(text);
    forModel = tok.encodeForModel(text);
  } catch (const Error& e) {
    checkError(e);
    return;
  }
  std::vector<int> expected = tok.prefixIds();
  expected.insert(expected.end(), plain.begin(), plain.end());
  expected.insert(expected.end(), tok.suffixIds().begin(), tok.suffixIds().end());
  if (forModel != expected) violated("encodeForModel is not prefix + encode + suffix");
  if (tok.addsBos() != bool(tok.bosId())) violated("addsBos and bosId disagree");
}

inline const char* kFixedText = "Hello world, the cat's 123 naïve  \n\t<|endoftext|> 日本語 🙂 it'll";

}  // namespace attnviz::fuzz
