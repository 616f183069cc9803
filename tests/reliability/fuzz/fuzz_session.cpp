// Session / sample JSON. A session that parses must also serialise and parse back to the same
// session (the save → load round trip the app relies on), and its inputs must prepare or be
// refused with Error.
#include "fuzz_common.hpp"
#include "session.hpp"

namespace {

bool sameSession(const attnviz::Session& a, const attnviz::Session& b) {
  if (a.name != b.name || a.description != b.description || a.mode != b.mode || !(a.view == b.view))
    return false;
  const auto& oa = a.options;
  const auto& ob = b.options;
  if (oa.score != ob.score || oa.temperature != ob.temperature || oa.heads != ob.heads || oa.mask != ob.mask ||
      oa.scaleOverride != ob.scaleOverride || oa.customMask != ob.customMask)
    return false;
  if (a.mode == attnviz::InputMode::Tokens) return a.tokens == b.tokens;
  return a.matrices.q == b.matrices.q && a.matrices.k == b.matrices.k && a.matrices.v == b.matrices.v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  attnviz::fuzz::parseOrError([&] {
    const attnviz::Session s = attnviz::parseSession(text, "fuzz-session.json");
    if (s.mode == attnviz::InputMode::Matrices) {
      attnviz::fuzz::checkMatrix(s.matrices.q);
      attnviz::fuzz::checkMatrix(s.matrices.k);
      attnviz::fuzz::checkMatrix(s.matrices.v);
    }
    const attnviz::Session back = attnviz::parseSession(attnviz::serializeSession(s), "round-trip");
    if (!sameSession(s, back)) attnviz::fuzz::violated("session changed in a save/load round trip");
    // Token models of a few hundred tokens stay fast; larger ones only cost fuzzing time.
    if (s.mode == attnviz::InputMode::Tokens && (s.tokens.dModel > 256 || s.tokens.text.size() > 2048)) return;
    const attnviz::PreparedSession p = attnviz::prepare(s);
    attnviz::fuzz::checkMatrix(p.inputs.q);
    attnviz::fuzz::checkMatrix(p.inputs.k);
    attnviz::fuzz::checkMatrix(p.inputs.v);
  });
  return 0;
}
