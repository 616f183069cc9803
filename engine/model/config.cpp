#include "config.hpp"

#include "config_json.hpp"
#include "family.hpp"
#include "json_text.hpp"
#include "types.hpp"

namespace attnviz::model {
namespace config_json {

int positiveInt(const json& j, const char* key, long limit, const std::string& name, const json* fallback) {
  const json* v = nullptr;
  if (const auto it = j.find(key); it != j.end()) v = &*it;
  else if (fallback) v = fallback;
  if (!v) throw Error(name + ": missing \"" + key + "\"");
  if (!v->is_number_integer() || v->get<long>() < 1 || v->get<long>() > limit)
    throw Error(name + ": \"" + key + "\" must be an integer from 1 to " + std::to_string(limit) + " (got " +
                printable(v->dump()) + ")");
  return int(v->get<long>());
}

bool flag(const json& j, const char* key, bool byDefault, const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return byDefault;
  if (!it->is_boolean()) throw Error(name + ": \"" + key + "\" must be true or false");
  return it->get<bool>();
}

double number(const json& j, const char* key, double byDefault, double low, double high, const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return byDefault;
  if (!it->is_number() || !(it->get<double>() >= low) || !(it->get<double>() <= high))
    throw Error(name + ": \"" + key + "\" must be a number from " + printable(json(low).dump()) + " to " +
                printable(json(high).dump()) + " (got " + printable(it->dump()) + ")");
  return it->get<double>();
}

json parseObject(const std::string& text, const std::string& name) {
  json j = parseJsonText(text, name);
  if (!j.is_object()) throw Error(name + ": not a JSON object");
  return j;
}

}  // namespace config_json

std::string parseModelType(const std::string& text, const std::string& name) {
  const nlohmann::json j = config_json::parseObject(text, name);
  const auto type = j.find("model_type");
  if (type == j.end() || !type->is_string())
    throw Error(name + ": missing \"model_type\" (attnviz supports " + supportedModelTypes() + ")");
  return type->get<std::string>();
}

ModelShape parseModelShape(const std::string& text, const std::string& name) {
  return familyOf(parseModelType(text, name), name).shape(text, name);
}

}  // namespace attnviz::model
