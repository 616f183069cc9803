#include "cli_token.hpp"

#include <sstream>

#include "cli_common.hpp"

namespace attnviz::cli {

int tokenOf(const model::Model& model, const std::string& flag, const std::string& value) {
  try {
    return model::singleTokenId(model, value);
  } catch (const Error& e) {
    throw UsageError(flag + " " + e.what());  // a usage mistake: exit 2, naming the flag
  }
}

std::vector<int> textOrIds(const model::Model& model, const std::string& command, const std::optional<std::string>& text,
                           const std::optional<std::string>& ids) {
  if (text && ids) throw UsageError("give --text or --ids, not both");
  if (!text && !ids) throw UsageError(command + " needs --text TEXT or --ids 1,2,3");
  if (text) return model.tokenizer.encodeForModel(*text).ids;
  std::vector<int> out;
  std::stringstream in(*ids);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(int(parseLong("--ids", item, 0, 1L << 30)));
  if (out.empty()) throw UsageError("--ids needs a comma-separated list of ids");
  return out;
}

}  // namespace attnviz::cli
