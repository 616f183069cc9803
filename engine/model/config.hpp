#pragma once
// What every family's config.json reader shares: the shape the app, the model list and the
// command line see (ModelShape), the model_type, and the checked-key helpers each family's
// parser is written with (config_json.hpp). A family's own config struct lives in its folder.
#include <string>
#include <vector>

namespace attnviz::model {

// What a family's models read: token ids from a tokenizer, or pixels from an image processor.
enum class InputKind { Text, Image };

// What the app, the model list and the command line need of any model, whatever its family.
struct ModelShape {
  std::string modelType;
  InputKind input = InputKind::Text;
  bool causal = true;  // the model's own mask: causal (decoders) or none (encoders, vision models)
  int typeVocabSize = 0;  // encoders' token types (sentence A, B); 0: the model reads none
  int layers = 0, heads = 0, kvHeads = 0, dModel = 0, vocabSize = 0, positions = 0;
  int headWidth = 0;  // d_head
  int inner = 0;      // the MLP's hidden width
  // The config key that bounds the text's length, for messages ("n_positions").
  std::string positionsKey = "max_position_embeddings";
  // Vision models: the square image they were trained on, its patches, and their labels
  // (id2label; vocabSize is their count). positions is then the trained grid's token count.
  int imageSize = 0, patchSize = 0, channels = 0;
  std::vector<std::string> labels;
  // The image processor whose defaults apply when a folder has no preprocessor_config.json
  // ("ViTImageProcessor", "BitImageProcessor").
  std::string imageProcessor;
};

// The model_type of a config.json, whatever it is; throws Error when the file is not a JSON
// object or has no model_type (naming the types the registry supports).
std::string parseModelType(const std::string& json, const std::string& name);

// Any supported config.json reduced to its shape (through the registry, family.hpp); throws
// Error naming the supported model types for any other.
ModelShape parseModelShape(const std::string& json, const std::string& name);

}  // namespace attnviz::model
