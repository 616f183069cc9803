#pragma once
// The checked-key helpers every family's config.json parser is written with: a missing or
// ill-typed key, or a value outside its range, is an Error naming the file and the key.
#include <nlohmann/json.hpp>
#include <string>

namespace attnviz::model::config_json {

using nlohmann::json;

// Sizes far beyond any released model but small enough that products of them cannot overflow.
inline constexpr long kMaxVocab = 1 << 21, kMaxPositions = 1 << 17, kMaxWidth = 1 << 16, kMaxLayers = 1024;

// An integer from 1 to `limit`; `fallback` (when given) stands for a missing key.
int positiveInt(const json& j, const char* key, long limit, const std::string& name, const json* fallback = nullptr);
// true or false; null or missing: `byDefault`.
bool flag(const json& j, const char* key, bool byDefault, const std::string& name);
// A number in [low, high]; null or missing: `byDefault`.
double number(const json& j, const char* key, double byDefault, double low, double high, const std::string& name);
// The parsed object of a config.json and its model_type; `expected` is what the caller's
// family reads (for the message when the type is another).
json parseObject(const std::string& text, const std::string& name);

}  // namespace attnviz::model::config_json
