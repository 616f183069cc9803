#pragma once
// Attention bundles: a model's attention saved by the user (tools/attnviz_bundle.py, or
// np.savez directly), with its token labels and optionally the Q, K, V it came from.
//
//   attention     [L, H, n, m], [H, n, m] or [n, m]   float16/32/64; rows sum to 1
//   tokens        [n] strings (self-attention, n = m), or
//   query_tokens  [n] and key_tokens [m] strings
//   q, k          [L, H, n, d_head], [L, H, m, d_head] (the same leading axes as attention)
//   v             [L, H, m, d_v]
//   mask          [n, m] 0/1 or bool: 1 = the query may attend to the key
//   metadata      a string (JSON text: model name, prompt, ...)
//   format_version  an integer, 1 (absent: 1)
//
// In a .npz each is an array of that name (np.savez, stored or deflated). In a .safetensors
// the numbers are tensors of those names and the rest strings in __metadata__: tokens,
// query_tokens, key_tokens as JSON lists, metadata as its text, format_version as "1".
// Everything is checked before use; each failure is one line naming the file and the place.
#include <string>
#include <string_view>
#include <vector>

#include "types.hpp"

namespace attnviz {

inline constexpr int kBundleFormatVersion = 1;
inline constexpr double kBundleRowSumTolerance = 1e-3;
// The largest array a bundle may hold (values), checked before anything is allocated.
inline constexpr long kMaxBundleArrayElements = 1L << 28;

struct BundleReadOptions {
  // Weights whose rows do not sum to 1 (or are negative) are shown as given instead of refused.
  bool allowUnnormalised = false;
};

struct AttentionBundle {
  std::string path;
  int formatVersion = kBundleFormatVersion;
  int layers = 1, heads = 1, n = 0, m = 0;
  std::vector<Matrix> attention;  // layers·heads matrices n×m, [layer·heads + head]
  bool hasQK = false, hasV = false;
  int dHead = 0, dValue = 0;  // per head
  // Per layer, heads side by side as AttentionInputs holds them: q n×(H·d_head),
  // k m×(H·d_head), v m×(H·d_v).
  std::vector<Matrix> q, k, v;
  std::vector<std::string> queryTokens, keyTokens;  // q0…, k0… when the bundle has no labels
  bool cross = false;          // query_tokens and key_tokens were given
  bool hasLabels = false;
  MaskMatrix mask;             // n×m; empty when the bundle has none
  bool causalWeights = false;  // no mask given, and every weight above the diagonal is 0
  std::string metadata;        // as given ("" when none)
  std::vector<std::string> rowsNotNormalised;  // with allowUnnormalised: what was accepted

  const Matrix& weights(int layer, int head) const { return attention[size_t(layer * heads + head)]; }
};

// Reads a .npz or .safetensors bundle (by extension, else by its first bytes). Throws Error
// "PATH: what is wrong".
AttentionBundle readBundle(const std::string& path, const BundleReadOptions& options = {});
// The .npz reader on bytes in memory (`name` starts every message).
AttentionBundle parseNpzBundle(std::string_view bytes, const std::string& name,
                               const BundleReadOptions& options = {});

}  // namespace attnviz
