#pragma once
// The one interface every model family implements, and the registry that maps a config.json's
// model_type to its family. Nothing outside engine/model names a family: the app, the sessions
// and the command line see a model only through Architecture (and model.hpp's Model around it).
//
// Adding a family: a folder engine/model/NAME/ with its config, its weights named after the
// checkpoint's tensors, its forward pass built from blocks.hpp, and an Architecture; one line
// in family.cpp's registry; its tests. See engine/model/README.md.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "config.hpp"
#include "image/pixel_tensor.hpp"
#include "kv_cache.hpp"
#include "model_block.hpp"
#include "record.hpp"
#include "safetensors.hpp"

namespace attnviz::model {

// Layer l's Q, K, V projections as [d, H·d_head] (x · W), K and V expanded to the H query heads.
struct ProjectionWeights {
  Matrix wQ, wK, wV;
};

// The readout (final norm, then unembedding) taken apart, for direct logit attribution
// (attribution.hpp): readout(x)[tokens[k]] = norm(x) · rows.row(k) + bias(k), where norm(x) is
// LayerNorm, (x − mean(x)) / √(var(x) + ε) ⊙ γ + β, or RMSNorm, x / √(mean(x²) + ε) ⊙ γ.
struct ReadoutWeights {
  NormKind norm = NormKind::LayerNorm;
  double epsilon = 0;
  Vector gamma, beta;  // d; beta empty for RMSNorm
  Matrix rows;         // tokens × d: the unembedding's rows W_U[t]
  Vector bias;         // tokens: the unembedding's bias (zeros when it has none)
};

// One loaded model of one family: its shape, its forward pass writing the shared record, and per
// layer what the step-through shows around the attention engine.
class Architecture {
 public:
  virtual ~Architecture() = default;

  virtual const ModelShape& shape() const = 0;
  virtual long parameterCount() const = 0;
  // Bytes of the weight matrices as stored (what the model holds, mapped or owned).
  virtual std::size_t weightBytes() const = 0;
  // The family's config as attnviz read it (model.json's "config"): a JSON object's text.
  virtual std::string configJson() const = 0;

  // Checks ids and options (throws Error) and runs every layer.
  virtual ForwardRecord forward(const std::vector<int>& ids, const ForwardOptions& options) const = 0;
  // Text with token type ids (an encoder's sentence pairs: 0 for sentence A, 1 for B). Models
  // without token types take none other than 0.
  virtual ForwardRecord forwardTyped(const std::vector<int>& ids, const std::vector<int>& typeIds,
                                     const ForwardOptions& options) const;
  // A vision model's pass (shape().input == InputKind::Image) on preprocessed pixels; text
  // models refuse it.
  virtual ForwardRecord forwardImage(const PixelTensor& pixels, const ForwardOptions& options) const;
  // The final norm and the unembedding on residual-stream rows (n × d → n × vocab): what the
  // model would predict if the stream ended there (the logit lens). Decoders; others throw Error.
  virtual Matrix readout(const Matrix& hidden) const;
  // That readout's parts: the final norm's kind, ε, γ and β, and the unembedding's rows (and
  // bias) of `tokens` (ids already checked). Decoders; others throw Error.
  virtual ReadoutWeights readoutWeights(const std::vector<int>& tokens) const;
  // Layer l's attention output bias (d): attnOut = z · W_O + this. Zeros when the model has none.
  // Decoders; others throw Error.
  virtual Vector attentionOutputBias(int layer) const;
  // Generation (generation.hpp): `ids`, the tokens at positions cache.length …, through every
  // layer, their attention reading the earlier positions' keys and values from `cache` (one new
  // row of attention per token, not a pass over the whole text); returns the last one's logits
  // (1 × vocab), those of forward() on the whole text within float rounding. With `append`,
  // their keys and values join the cache. No what-ifs. Decoders; others throw Error
  // "<model_type> cannot generate (decoders only)".
  virtual Matrix forwardCached(const std::vector<int>& ids, KvCache& cache, bool append) const;
  // FLOPs of that pass as attnviz computes it (every head's full n×n scores), for `bench`.
  virtual double forwardFlops(long n, long logitRows) const = 0;

  // Layer l's attention input (its normalised residual stream), recomputed from the record.
  virtual Matrix attentionInput(const ForwardRecord& record, int layer) const = 0;
  virtual ProjectionWeights attentionProjections(int layer) const = 0;
  // The output projection as the engine's W_O ([H·d_head, d]), without its bias.
  virtual Matrix attentionOutputWeight(int layer) const = 0;
  // What the steps around layer l's attention show (model_block.hpp), from a finished pass.
  virtual ModelBlock block(const ForwardRecord& record, int layer) const = 0;
  // Those steps' stage names (stages.hpp) in the family's own order, the attention stages
  // included: the step strip of a model layer shows exactly these.
  virtual const std::vector<std::string>& steps() const = 0;
};

// What the registry knows of a family before any model of it is loaded.
struct Family {
  const char* name;                     // "gpt2", "llama"
  std::vector<std::string> modelTypes;  // the config.json model_type values it reads
  // config.json (already read, `configPath` for messages) -> the shape; throws Error.
  ModelShape (*shape)(const std::string& configText, const std::string& configPath);
  // config.json and the checkpoint's tensors -> the model; every tensor checked; throws Error.
  std::unique_ptr<Architecture> (*load)(const std::string& configText, const std::string& configPath,
                                        const TensorStore& store, const std::string& weightsName);
  // config.json -> a model of that shape with seeded random weights stored as `dtype`
  // (benchmarks); each matrix is made and converted before the next, so memory follows `dtype`.
  std::unique_ptr<Architecture> (*random)(const std::string& configText, std::uint64_t seed, DType dtype);
  // The tensor whose dtype names the checkpoint's ("F32", "BF16"), for the model list.
  std::string (*dtypeTensor)(const TensorStore& store);
};

// The registry entry every family writes the same way: `Arch` is made from its config and
// weights; `parse(text, path)` reads the config, `read(store, config, weightsName)` the
// checkpoint's tensors, `random(config, seed, dtype)` benchmark weights; the checkpoint's dtype
// is that of the first of `dtypeTensors` the store holds.
template <typename Arch, auto parse, auto read, auto random>
Family familyEntry(const char* name, std::vector<std::string> modelTypes, std::vector<std::string> dtypeTensors) {
  // The registry holds plain function pointers, so the lambdas below capture nothing: the dtype
  // lookup reads its names from here, one list per family (one instantiation each).
  static const std::vector<std::string> tensors = std::move(dtypeTensors);
  return Family{
      name, std::move(modelTypes),
      [](const std::string& text, const std::string& path) { return shapeOf(parse(text, path)); },
      [](const std::string& text, const std::string& path, const TensorStore& store,
         const std::string& weightsName) -> std::unique_ptr<Architecture> {
        auto config = parse(text, path);
        auto weights = read(store, config, weightsName);
        return std::make_unique<Arch>(std::move(config), std::move(weights));
      },
      [](const std::string& text, std::uint64_t seed, DType dtype) -> std::unique_ptr<Architecture> {
        auto config = parse(text, "config.json");
        auto weights = random(config, seed, dtype);
        return std::make_unique<Arch>(std::move(config), std::move(weights));
      },
      [](const TensorStore& store) {
        for (const std::string& t : tensors)
          if (const auto found = store.find(t); found.info) return std::string(toString(found.info->dtype));
        return std::string("?");
      }};
}

// Every family, in the order the messages list them.
const std::vector<Family>& families();
// The family of a model_type; throws Error "NAME: model_type "X" is not supported (attnviz
// supports …)" for any other.
const Family& familyOf(const std::string& modelType, const std::string& name);
// "gpt2, llama, mistral, qwen2": every model_type of every family.
std::string supportedModelTypes();

}  // namespace attnviz::model
