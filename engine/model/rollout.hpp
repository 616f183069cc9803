#pragma once
// Attention rollout (Abnar and Zuidema, "Quantifying Attention Flow in Transformers", 2020): how
// much each token's input reaches each token's output through the attention of several layers,
// assuming the residual stream carries as much as the attention.
#include "record.hpp"

namespace attnviz::model {

// How a layer's heads become one matrix.
enum class HeadFusion { Mean, Max, Min };
const char* toString(HeadFusion f);                   // "mean", "max", "min"
HeadFusion parseHeadFusion(const std::string& name);  // throws Error naming the choices

// For each layer l of first … last: W_l = the heads fused, A_l = 0.5·W_l + 0.5·I with every row
// renormalised to sum to 1 (a no-op for the mean; max and min rows need it), and
// R = A_last ⋯ A_first. Row i of R says how much of each input token reaches token i. In double,
// returned as float. Throws Error for a layer range outside the record.
Matrix attentionRollout(const ForwardRecord& record, int first, int last, HeadFusion fusion = HeadFusion::Mean);

}  // namespace attnviz::model
