#include "cli_token.hpp"

#include "cli_common.hpp"

namespace attnviz::cli {

int tokenOf(const model::Model& model, const std::string& flag, const std::string& value) {
  try {
    return model::singleTokenId(model, value);
  } catch (const Error& e) {
    throw UsageError(flag + " " + e.what());  // a usage mistake: exit 2, naming the flag
  }
}

}  // namespace attnviz::cli
