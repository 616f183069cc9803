#pragma once
// Direct logit attribution (Elhage et al. 2021, "A Mathematical Framework for Transformer
// Circuits"; TransformerLens' logit_attrs): how much each head and each MLP writes, directly,
// into one logit at one position of a decoder.
//
// The final residual stream at position i is a sum of what each part of the model wrote into it:
//   resid_final = embeddings (+ position embeddings)
//               + Σ_layers (Σ_heads z_h · W_O[h] + b_O) + Σ_layers mlp_out
// The final norm is frozen at its value on this input (its σ, or rms, taken from resid_final), so
// the readout becomes linear and each part's share of logit_t (or of logit_t − logit_c) is
//   LayerNorm: ((v − mean(v)) / σ ⊙ γ) · (W_U[t] − W_U[c])   (centring is linear: per part)
//   RMSNorm:   (v / rms ⊙ γ) · (W_U[t] − W_U[c])
// and the shares add up to the logit: "biases" holds what belongs to no head and no MLP (every
// layer's attention output bias b_O, the final norm's β · (W_U[t] − W_U[c]), any unembedding
// bias). An MLP's share is its whole output as the block adds it (TransformerLens' mlp_out),
// its output bias included: one MLP a layer, so its bias is no one else's.
#include <optional>

#include <Eigen/Core>

#include "family.hpp"
#include "record.hpp"

namespace attnviz::model {

struct LogitAttribution {
  int position = 0;
  int target = 0;
  std::optional<int> contrast;  // then every number is target − contrast
  NormKind norm = NormKind::LayerNorm;
  double scale = 0;  // the frozen norm's σ = √(var + ε) (LayerNorm) or rms = √(mean(x²) + ε) (RMSNorm)
  Eigen::MatrixXd heads;  // L × H
  Eigen::VectorXd mlps;   // L
  double embeddings = 0;  // the token embedding (+ the position embedding)
  double attentionBiases = 0;  // Σ over layers of b_O's share
  double normBias = 0;         // β · (W_U[t] − W_U[c]); 0 for RMSNorm
  double unembeddingBias = 0;  // b_U[t] − b_U[c]; 0 for models without one
  // The model's own logit (difference) at the position: its readout (float32) of resid_final.
  double logitTarget = 0, logitContrast = 0;
  double logit() const { return contrast ? logitTarget - logitContrast : logitTarget; }
  double biases() const { return attentionBiases + normBias + unembeddingBias; }
  // Every share added up (double): equals logit() up to float32 rounding of the forward pass.
  double sum() const { return heads.sum() + mlps.sum() + embeddings + biases(); }
};

// Throws Error (one line) unless the model has what attribution needs: a decoder's readout.
void checkAttributable(const Architecture& model);

// The model's most probable next token at `position` (ties: the smaller id). Throws Error as
// directLogitAttribution does.
int topPrediction(const Architecture& model, const ForwardRecord& record, int position);

// Each head's, each MLP's, the embeddings' and the biases' direct share of the logit of `target`
// (minus that of `contrast`) at `position`, from a finished forward pass. Throws Error for a model
// without a next-token readout (encoders, vision models), a record that is not a text model's
// full pass, or a position or token out of range.
LogitAttribution directLogitAttribution(const Architecture& model, const ForwardRecord& record, int position,
                                        int target, std::optional<int> contrast = std::nullopt);

}  // namespace attnviz::model
