#pragma once
// JSON files of a checkpoint (config.json, vocab.json, tokenizer.json, the safetensors header,
// the shard index): parse errors name the file, the byte and the reason, as every other JSON
// reader of attnviz does.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "matrix_io.hpp"
#include "types.hpp"

namespace attnviz::model {

inline nlohmann::json parseJsonText(std::string_view text, const std::string& name) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(jsonSyntaxError(name, e, e.byte));
  } catch (const nlohmann::json::exception& e) {
    const std::string what = e.what();
    const size_t bracket = what.find("] ");
    throw Error(name + ": invalid JSON, " + (bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
}

}  // namespace attnviz::model
