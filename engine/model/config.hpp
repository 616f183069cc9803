#pragma once
// What every family's config.json reader shares: the shape the app, the model list and the
// command line see (ModelShape), the model_type, and the checked-key helpers each family's
// parser is written with (config_json.hpp). A family's own config struct lives in its folder.
#include <string>

namespace attnviz::model {

// What the app, the model list and the command line need of any model, whatever its family.
struct ModelShape {
  std::string modelType;
  int layers = 0, heads = 0, kvHeads = 0, dModel = 0, vocabSize = 0, positions = 0;
  int headWidth = 0;  // d_head
  int inner = 0;      // the MLP's hidden width
  // The config key that bounds the text's length, for messages ("n_positions").
  std::string positionsKey = "max_position_embeddings";
};

// The model_type of a config.json, whatever it is; throws Error when the file is not a JSON
// object or has no model_type (naming the types the registry supports).
std::string parseModelType(const std::string& json, const std::string& name);

// Any supported config.json reduced to its shape (through the registry, family.hpp); throws
// Error naming the supported model types for any other.
ModelShape parseModelShape(const std::string& json, const std::string& name);

}  // namespace attnviz::model
