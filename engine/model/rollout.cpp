#include "rollout.hpp"

#include <Eigen/Dense>

namespace attnviz::model {

const char* toString(HeadFusion f) {
  switch (f) {
    case HeadFusion::Mean: return "mean";
    case HeadFusion::Max: return "max";
    case HeadFusion::Min: return "min";
  }
  return "?";
}

HeadFusion parseHeadFusion(const std::string& name) {
  if (name == "mean") return HeadFusion::Mean;
  if (name == "max") return HeadFusion::Max;
  if (name == "min") return HeadFusion::Min;
  throw Error("head fusion must be mean, max or min (got \"" + printable(name) + "\")");
}

Matrix attentionRollout(const ForwardRecord& record, int first, int last, HeadFusion fusion) {
  const int layers = int(record.layers.size());
  if (first < 0 || last >= layers || first > last)
    throw Error("rollout over layers " + std::to_string(first) + " to " + std::to_string(last) + ": the model has layers 0 to " +
                std::to_string(layers - 1));
  using Square = Eigen::MatrixXd;
  const Eigen::Index n = record.tokens();
  Square rollout = Square::Identity(n, n);
  for (int l = first; l <= last; ++l) {
    const auto& heads = record.layers[std::size_t(l)].pattern.head;
    Square fused = heads.at(0).weights.cast<double>();
    for (std::size_t h = 1; h < heads.size(); ++h) {
      const Square w = heads[h].weights.cast<double>();
      if (fusion == HeadFusion::Mean) fused += w;
      else if (fusion == HeadFusion::Max) fused = fused.cwiseMax(w);
      else fused = fused.cwiseMin(w);
    }
    if (fusion == HeadFusion::Mean) fused /= double(heads.size());
    Square a = 0.5 * fused + 0.5 * Square::Identity(n, n);
    a.array().colwise() /= a.rowwise().sum().array();
    rollout = a * rollout;
  }
  return rollout.cast<float>();
}

}  // namespace attnviz::model
