#include "family.hpp"

#include "gpt2/gpt2.hpp"
#include "bert/bert.hpp"
#include "llama/llama.hpp"
#include "vit/vit.hpp"

namespace attnviz::model {

const std::vector<Family>& families() {
  // One line a family.
  static const std::vector<Family> all = {
      gpt2Family(),
      llamaFamily(),
      vitFamily(),
      bertFamily(),
  };
  return all;
}

ForwardRecord Architecture::forwardTyped(const std::vector<int>& ids, const std::vector<int>& typeIds,
                                         const ForwardOptions& options) const {
  for (std::size_t i = 0; i < typeIds.size(); ++i)
    if (typeIds[i] != 0)
      throw Error(shape().modelType + " has no token types: type id " + std::to_string(typeIds[i]) + " at position " +
                  std::to_string(i) + " (only encoders read sentence pairs)");
  return forward(ids, options);
}

ForwardRecord Architecture::forwardImage(const PixelTensor&, const ForwardOptions&) const {
  throw Error(shape().modelType + " is a text model: it reads text, not an image");
}

Matrix Architecture::readout(const Matrix&) const {
  throw Error(shape().modelType + " has no next-token readout (the logit lens is for decoders)");
}

ReadoutWeights Architecture::readoutWeights(const std::vector<int>&) const {
  throw Error(shape().modelType + " has no next-token readout (direct logit attribution is for decoders)");
}

Vector Architecture::attentionOutputBias(int) const {
  throw Error(shape().modelType + " has no next-token readout (direct logit attribution is for decoders)");
}

Matrix Architecture::forwardCached(const std::vector<int>&, KvCache&, bool) const {
  throw Error(shape().modelType + " cannot generate (decoders only)");
}

std::string supportedModelTypes() {
  std::string list;
  for (const Family& f : families())
    for (const std::string& type : f.modelTypes) list += (list.empty() ? "" : ", ") + type;
  return list;
}

const Family& familyOf(const std::string& modelType, const std::string& name) {
  for (const Family& f : families())
    for (const std::string& type : f.modelTypes)
      if (type == modelType) return f;
  throw Error(name + ": model_type \"" + printable(modelType) + "\" is not supported (attnviz supports " +
              supportedModelTypes() + ")");
}

}  // namespace attnviz::model
