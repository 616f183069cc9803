#pragma once
// A command's TOKEN argument (attribute, patch): "#ID" for a token id, or a text the model's
// tokenizer turns into exactly one token when encoded alone, nothing added.
#include <string>

#include "model.hpp"

namespace attnviz::cli {

// model::singleTokenId (model.hpp) with its Error turned into a UsageError (exit 2) naming `flag`.
int tokenOf(const model::Model& model, const std::string& flag, const std::string& value);

}  // namespace attnviz::cli
