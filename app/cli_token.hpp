#pragma once
// A command's TOKEN argument (attribute, patch): "#ID" for a token id, or a text the model's
// tokenizer turns into exactly one token when encoded alone, nothing added.
#include <optional>
#include <string>
#include <vector>

#include "model.hpp"

namespace attnviz::cli {

// model::singleTokenId (model.hpp) with its Error turned into a UsageError (exit 2) naming `flag`.
int tokenOf(const model::Model& model, const std::string& flag, const std::string& value);

// A command's input ids: --text (tokenised with the special tokens the model's files ask for) or
// --ids 1,2,3, exactly one of them; UsageError naming `command` otherwise.
std::vector<int> textOrIds(const model::Model& model, const std::string& command, const std::optional<std::string>& text,
                           const std::optional<std::string>& ids);

}  // namespace attnviz::cli
