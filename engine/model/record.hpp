#pragma once
// What a forward pass keeps, per layer, for the views and `compute --model`: one record for
// every family (GPT-2, Llama), named after TransformerLens' hook points.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attention.hpp"

namespace attnviz::model {

// Activation patching (patching.hpp): head `head` of layer `layer` outputs `values` (n × d_head,
// its slice of LayerRecord::z) instead of its own, after any ablation.
struct HeadPatch {
  int layer = 0, head = 0;
  Matrix values;
  bool operator==(const HeadPatch& o) const {
    return layer == o.layer && head == o.head && values.rows() == o.values.rows() &&
           values.cols() == o.values.cols() && (values.array() == o.values.array()).all();
  }
};
// Row `position` of the residual stream entering block `layer` (ForwardRecord::resid[layer],
// resid_pre; layer = L: the final stream, before the final norm) replaced by `values` (d).
struct ResidualPatch {
  int layer = 0, position = 0;
  Vector values;
  bool operator==(const ResidualPatch& o) const {
    return layer == o.layer && position == o.position && values.size() == o.values.size() &&
           (values.array() == o.values.array()).all();
  }
};

// "What if" changes applied to every layer's attention, and heads whose output is zeroed.
struct ForwardOptions {
  std::optional<float> scale;  // replaces the model's own 1/√d_head (· 1/(layer+1))
  float temperature = 1.0f;
  // Causal (with the model's sliding window, if any) or None; unset: the model's own (causal for
  // decoders, none for encoders and vision models).
  std::optional<MaskKind> mask;
  std::vector<std::pair<int, int>> ablatedHeads;  // (layer, head)
  std::vector<HeadPatch> patchedHeads;            // applied after ablation
  std::vector<ResidualPatch> patchedResidual;
  // Logits of every position, or of the last one only (saves the vocabulary product).
  bool allLogits = true;
  bool operator==(const ForwardOptions&) const = default;
};

enum class NormKind { LayerNorm, RmsNorm };
const char* toString(NormKind k);  // "layernorm", "rmsnorm"

// What one block keeps. What is cheap to recompute from these (ln_1, resid_mid, ln_2, mlp_out)
// is not kept: GPT-2 small at n = 1024 has to fit in 1.5 GiB with every layer's attention weights.
struct LayerRecord {
  // q, k, v: n × H·d_head, head h in columns h·d_head …: exactly what the engine ran on, so
  // after the rotary embedding, and with grouped-query attention K and V expanded to the H
  // query heads (head h holds K/V head ForwardRecord::kvHeadOf(h), as Hugging Face's repeat_kv).
  AttentionInputs qkv;
  AttentionOptions attention;  // what the engine ran with (scale, mask, heads)
  AttentionTrace pattern;      // weights and row statistics of every head (scores, outputs dropped)
  Matrix z;                    // n × H·d_head: heads side by side (after ablation)
  Matrix attnOut;              // n × d: z · W_O (+ b)
  // Rotary models only (empty for GPT-2): Q and K before the rotation, laid out as qkv.q and
  // qkv.k (K expanded to the H query heads). Position i of head h, pair (c, c + d_head/2) turns
  // by the angle i · ForwardRecord::ropeFrequencies(c).
  Matrix qUnrotated, kUnrotated;
  std::optional<int> slidingWindow;  // this layer's window (part of attention.customMask)
};

// A vision model's tokens: the prefix ([CLS], [DIST], registers) then the patches row by row.
struct PatchGrid {
  int rows = 0, cols = 0, patch = 0;
  std::vector<std::string> prefix;  // "[CLS]", "[DIST]", "[REG0]" …
  int tokens() const { return int(prefix.size()) + rows * cols; }
  // "[CLS]" … then "r0c0", "r0c1", …
  std::string tokenName(int index) const {
    if (index < int(prefix.size())) return prefix[std::size_t(index)];
    const int p = index - int(prefix.size());
    return "r" + std::to_string(p / cols) + "c" + std::to_string(p % cols);
  }
};

struct ForwardRecord {
  std::vector<int> ids;       // text models' input; empty for a vision model
  std::vector<int> typeIds;   // encoders: each token's type (0 sentence A, 1 sentence B); else empty
  std::optional<PatchGrid> grid;  // vision models' tokens
  // Vision models: patch (r, c)'s preprocessed pixels as the patch embedding reads them, row
  // r·cols + c, (channel, y, x) flattened; kept so a hover can show the projection's terms.
  Matrix patchPixels;
  int tokens() const { return resid.empty() ? int(ids.size()) : int(resid.front().rows()); }
  std::vector<Matrix> resid;  // L + 1 entries, n × d: resid[0] = the embeddings (+ wpe), resid[l+1] = after block l
  std::vector<LayerRecord> layers;
  Matrix logits;              // n × vocab, or 1 × vocab (the last position) when !allLogits
  double milliseconds = 0;
  NormKind norm = NormKind::LayerNorm;  // before attention, before the MLP and at the end
  int heads = 0, kvHeads = 0;           // kvHeads < heads: grouped-query attention
  Vector ropeFrequencies;               // rotary models: d_head/2 inverse frequencies (after scaling); empty: none
  int kvHeadOf(int head) const { return head / (heads / kvHeads); }
  bool rotary() const { return ropeFrequencies.size() > 0; }
};

}  // namespace attnviz::model
