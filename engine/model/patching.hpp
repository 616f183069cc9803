#pragma once
// Activation patching (Meng et al. 2022, "Locating and Editing Factual Associations in GPT";
// Wang et al. 2022, "Interpretability in the Wild", the indirect-object task): run a corrupted
// prompt with one activation taken from a clean prompt's run, and see how much of the clean
// behaviour comes back.
//
// The two prompts have the same number of tokens. The metric is the logit difference at the last
// position, LD = logit[target] − logit[contrast], read from the model's own (float32) readout.
// A patch's recovered fraction is (LD_patched − LD_corrupted) / (LD_clean − LD_corrupted): 0 when
// it changes nothing, 1 when it brings back the clean LD.
//   heads:    one (layer, head) at a time, its output (its n × d_head slice of z, before W_O) at
//             every position set to the clean run's; L × H corrupted passes.
//   residual: one (layer l, position i) at a time, row i of resid[l] (resid_pre of block l;
//             l = L: the final stream, before the final norm) set to the clean run's; (L+1) × n
//             passes.
// Each pass asks for the last position's logits only (ForwardOptions::allLogits = false).
#include <vector>

#include <Eigen/Core>

#include "family.hpp"
#include "record.hpp"

namespace attnviz::model {

struct PatchingResult {
  int target = 0, contrast = 0;
  double ldClean = 0, ldCorrupted = 0;
  Eigen::MatrixXd headsLd, residLd;  // L × H and (L+1) × n: LD of each patched corrupted pass
  Eigen::MatrixXd heads, resid;      // the same as recovered fractions
  // Sanity passes, each the largest |logit difference| over the whole vocabulary at the last
  // position: the corrupted run patched with its own z and stream (every head, every row of
  // resid[0]) against the corrupted run; the corrupted run with the clean resid[0] at every
  // position against the clean run; the same with every head's clean z patched as well. All three
  // are 0 when patching changes exactly what it names.
  double selfPatchVsCorrupted = 0, resid0VsClean = 0, headsAndResid0VsClean = 0;
};

// Throws Error (one line) unless the model is a causal text model (a decoder).
void checkPatchable(const Architecture& model);

// Head and residual-stream patching of `corrupted` with `clean` (same length; ids checked by the
// forward pass), metric logit[target] − logit[contrast] at the last position. `base` gives the
// other forward options (temperature, mask, …); its patches must be empty. Throws Error for a
// model that is not a decoder, prompts of different lengths, a token outside the vocabulary, or
// LD_clean == LD_corrupted (nothing to recover).
PatchingResult activationPatching(const Architecture& model, const std::vector<int>& clean,
                                  const std::vector<int>& corrupted, int target, int contrast,
                                  const ForwardOptions& base = {});

}  // namespace attnviz::model
