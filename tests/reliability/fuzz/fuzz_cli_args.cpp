// Command-line INPUT/OPTIONS flags (cli::InputArgs), fed NUL-separated argument vectors.
// Flags that read user files (--session, --q/--k/--v, --mask FILE) are not built, so the target
// never touches the filesystem beyond the read-only built-in samples. A session that builds is
// prepared and computed when small, and the trace must then be finite.
#include <algorithm>

#include "attention.hpp"
#include "cli_common.hpp"
#include "fuzz_common.hpp"

using namespace attnviz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"compute"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(std::move(current));
      current.clear();
    } else {
      current += char(data[i]);
    }
  }
  if (!current.empty()) args.push_back(std::move(current));

  cli::InputArgs input;
  try {
    for (size_t i = 1; i < args.size(); ++i) {
      const size_t before = i;
      if (!input.consume(args, i) && i != before) fuzz::violated("consume moved without consuming");
      if (i >= args.size()) fuzz::violated("consume stepped past the end");
    }
  } catch (const cli::UsageError&) {
    return 0;
  }
  if (input.sessionFile || input.qFile || input.kFile || input.vFile) return 0;
  if (input.mask && *input.mask != "none" && *input.mask != "causal") return 0;

  Session s;
  try {
    s = input.build();
  } catch (const cli::UsageError&) {
    return 0;
  } catch (const Error& e) {
    fuzz::checkError(e);
    return 0;
  }
  if (s.mode == InputMode::Tokens && (s.tokens.dModel > 128 || s.tokens.text.size() + s.tokens.source.size() > 1024))
    return 0;
  try {
    const PreparedSession p = prepare(s);
    const long cells = long(s.options.heads) * p.inputs.q.rows() * p.inputs.k.rows();
    if (cells > (1L << 16)) return 0;
    const AttentionTrace t = computeAttention(p.inputs, s.options);
    for (const HeadTrace& h : t.head) {
      if (!h.weights.allFinite()) fuzz::violated("non-finite attention weights");
      if (!h.output.allFinite()) fuzz::violated("non-finite attention output");
    }
  } catch (const Error& e) {
    fuzz::checkError(e);
  }
  return 0;
}
