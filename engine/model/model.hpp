#pragma once
// "A model", whatever its family: the one way the app, the session and the command line load a
// checkpoint and run it. What differs between families is behind Architecture (family.hpp).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "family.hpp"
#include "record.hpp"
#include "image/image_processor.hpp"
#include "text_tokenizer.hpp"

namespace attnviz::model {

struct Model {
  std::string name;          // the built-in name, or the folder
  std::string path;          // the folder
  std::string description;   // first paragraph of the folder's README.md, if any
  std::string weightsDtype;  // as stored: F32, F16 or BF16
  std::string family;        // the registry's name for it ("gpt2", "llama"), for messages and model.json
  ModelShape shape;          // model_type, layers, heads, K/V heads, widths, vocabulary, context
  TextTokenizer tokenizer;   // text models only
  // Vision models only: the image processor, or (null) why preprocessor_config.json cannot be
  // used, said when an image is preprocessed (pixels given as they are need no processor).
  std::shared_ptr<const ImageProcessor> imageProcessor;
  std::string imageProcessorProblem;
  std::shared_ptr<const Architecture> architecture;

  int headWidth() const { return shape.headWidth; }
  long parameterCount() const { return architecture->parameterCount(); }
};

// A folder, the folder around a .safetensors file, or the built-in model of that name in
// `modelsDir`, of any model_type the registry holds; every tensor's shape checked against the
// config, pickles refused. Throws Error with one line naming the file and tensor.
Model loadModel(const std::string& nameOrPath, const std::string& modelsDir);
// config.json only (after checking that the weights are there and not a pickle).
ModelShape readModelShape(const std::string& nameOrPath, const std::string& modelsDir);
// A model of a config.json's shape with seeded random weights stored as `dtype` (benchmarks); no
// tokenizer.
Model randomModel(const std::string& configJson, const std::string& name, std::uint64_t seed,
                  DType dtype = DType::F32);

// The family's forward pass (checks ids and options; throws Error).
ForwardRecord forward(const Model& model, const std::vector<int>& ids, const ForwardOptions& options = {});
// With token type ids (an encoder's sentence pairs); models without token types refuse ids
// other than 0.
ForwardRecord forward(const Model& model, const std::vector<int>& ids, const std::vector<int>& typeIds,
                      const ForwardOptions& options);
// A vision model's forward pass on preprocessed pixels (checks them; throws Error).
ForwardRecord forward(const Model& model, const PixelTensor& pixels, const ForwardOptions& options = {});

// A vision model's image processor: the folder's preprocessor_config.json, or the defaults of
// the family's usual processor for the model's image size. Throws Error naming the file and key.
ImageProcessor readImageProcessor(const std::string& folder, const ModelShape& shape);
// A picture file decoded (PNG, JPEG) and preprocessed as the model's processor says; `seen`,
// when given, receives the 8-bit picture after resizing and cropping. Throws Error.
PixelTensor preprocessImageFile(const Model& model, const std::string& path, RgbImage* seen = nullptr);

// Layer l's output projection as the engine's W_O ([H·d_head, d]: heads · W_O), without its bias.
Matrix attentionOutputWeight(const Model& model, int layer);
// Layer l's attention input: the normalised residual stream (recomputed).
Matrix attentionInput(const Model& model, const ForwardRecord& record, int layer);
// Layer l's Q, K, V projections as [d, H·d_head] (x · W), K and V expanded to the H query heads.
ProjectionWeights attentionProjections(const Model& model, int layer);

// The prefix-matching input of repeatedRandomIds (checkpoint.hpp) for any model.
std::vector<int> repeatedRandomTokens(const Model& model, int length, std::uint64_t seed);

// A TOKEN as `attribute` and `patch` take it (and the app's patching panel): "#ID" for a token id
// (#464), or a text the tokenizer turns into exactly one token when encoded alone, nothing added
// (its spaces count: " Paris" with GPT-2's leading space). Throws Error, one line: an id outside
// the vocabulary, "#" and a digit followed by anything but digits, or a text of zero or several
// tokens (naming its first pieces).
int singleTokenId(const Model& model, const std::string& token);

}  // namespace attnviz::model
