#include "family.hpp"

#include "gpt2/gpt2.hpp"
#include "llama/llama.hpp"

namespace attnviz::model {

const std::vector<Family>& families() {
  // One line a family.
  static const std::vector<Family> all = {
      gpt2Family(),
      llamaFamily(),
  };
  return all;
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
