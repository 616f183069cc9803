#pragma once
// Samples and saved sessions: one versioned JSON format (see README "Session format").
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attention.hpp"
#include "rollout.hpp"
#include "tokens.hpp"

namespace attnviz {

struct ModelBlock;
struct AttentionBundle;  // engine/model/bundle.hpp

namespace model {
struct Model;
struct ForwardRecord;
struct RgbImage;
}  // namespace model

// 2 adds "mode": "model" (a trained model's attention on a text) and view.layer; version 1 files
// load unchanged.
inline constexpr int kSessionVersion = 2;

enum class InputMode { Matrices, Tokens };

// What the RoPE step's heatmap shows (stages.hpp: ropeStageValues): Q or K, after or before
// the rotation.
enum class RopeShown { QueryRotated, KeyRotated, QueryUnrotated, KeyUnrotated };

// The picture view of a vision model: whose attention is drawn over the picture, and how.
enum class PictureHeads { Selected, Mean, All };  // All: one picture per head
struct PictureView {
  PictureHeads heads = PictureHeads::Selected;
  bool rollout = false;  // attention rollout from layer rolloutFrom to the viewed layer instead
  int rolloutFrom = 0;   // the first layer the rollout multiplies (clamped to the viewed layer)
  model::HeadFusion fusion = model::HeadFusion::Mean;  // rollout's
  float opacity = 0.6f;
  bool smooth = false;  // bilinear between patch centres
  float keep = 0;       // colour only the patches holding this share of the weight (0: all)
  bool operator==(const PictureView&) const = default;
};

struct ViewState {  // where the user was; restored exactly on load
  int step = 0;             // a StageId (stages.hpp) as its index; files store the stage's name
  int head = 0;             // -1 = all heads
  int selectedRow = -1;
  int selectedCol = -1;
  int layer = 0;            // the model's layer shown (model mode)
  RopeShown rope = RopeShown::QueryRotated;  // the RoPE step's operand (not saved)
  PictureView picture;      // saved with a vision model's picture
  bool operator==(const ViewState&) const = default;
};

// An attention bundle opened by path (engine/model/bundle.hpp); the session shows its layer
// view.layer. Version 2 files store it as "mode": "bundle".
struct BundleRef {
  std::string path;
  bool allowUnnormalised = false;  // rows that do not sum to 1 are shown as given
  bool operator==(const BundleRef&) const = default;
};

struct Session {
  std::string name;
  std::string description;
  InputMode mode = InputMode::Matrices;
  AttentionInputs matrices;  // mode == Matrices
  TokenConfig tokens;        // mode == Tokens
  AttentionOptions options;
  ViewState view;
  BundleRef bundle;          // path non-empty: the input is this bundle (mode stays Matrices)
  // What if RoPE were off: a rotary model's viewed layer attends with Q and K before the
  // rotation (the forward pass, the other layers and the RoPE step stay real). Not saved.
  bool ropeOff = false;
};

// Throws Error naming `sourceName`, e.g. "x.json: unknown key \"foo\"".
Session parseSession(const std::string& json, const std::string& sourceName);
Session loadSession(const std::string& path);
std::string serializeSession(const Session& session);  // pretty JSON, stable key order
void saveSession(const std::string& path, const Session& session);  // atomic

// Computes the session's inputs (projecting tokens in token mode).
struct PreparedSession {
  AttentionInputs inputs;
  std::optional<TokenModel> model;  // token mode only
  std::vector<std::string> queryLabels, keyLabels;  // tokens, or q1..qn / k1..km
  // With a model: its token ids and shape (the inputs are the viewed layer's Q, K, V), the
  // loaded model and the whole forward pass (every layer's weights, the logits).
  std::vector<int> tokenIds;
  std::vector<int> sentence;  // an encoder's sentence pair: 0 for A's tokens, 1 for B's; else empty
  int modelLayers = 0, modelHeads = 0;
  int viewedLayer = -1;  // the model layer the inputs are from (model mode)
  std::shared_ptr<const model::Model> loadedModel;  // either family (model.hpp)
  std::string modelName;  // the session's name or path of that model (a newer choice may be loading)
  std::shared_ptr<const model::ForwardRecord> forward;
  // A vision model's input as it saw it: the 8-bit picture after resize and crop (its patch grid
  // is forward->grid); null for text.
  std::shared_ptr<const model::RgbImage> picture;
  // The viewed layer's steps around attention (model_block.hpp): embedding or residual stream,
  // normalisation, biases, residual add.
  std::shared_ptr<const ModelBlock> block;
  // With a bundle: the bundle, and for a bundle of weights alone (no q, k) the viewed layer's
  // trace made from them (weights, and output when v is given); the inputs are then empty.
  std::shared_ptr<const AttentionBundle> bundle;
  std::shared_ptr<const AttentionTrace> givenTrace;
};
PreparedSession prepare(const Session& session);
// Token mode with a model: runs (or reuses) the forward pass and yields the viewed layer
// (model_session.cpp).
PreparedSession prepareModelSession(const Session& session);
// The options to run a model layer's attention with: the user's, except that where they ask for
// the causal mask and the viewed layer has a sliding window shorter than the text (Mistral,
// Qwen2), the model's own mask (causal and within the window, MaskKind::Custom), so that the
// step-through and the forward pass agree. Other sessions: `options` unchanged.
AttentionOptions modelLayerOptions(const PreparedSession& prepared, const AttentionOptions& options);
// A bundle: its viewed layer's Q, K, V, or its given weights (bundle_session.cpp).
PreparedSession prepareBundleSession(const Session& session);
// The trace of a prepared session: the given one of a weights-only bundle, else the CPU engine's.
AttentionTrace computeSessionTrace(const PreparedSession& prepared, const AttentionOptions& options);

// Built-in samples, from the data directory's samples/ (see dataDirectory()).
struct SampleInfo {
  std::string name;
  std::string description;
  std::string path;
};
std::vector<SampleInfo> listSamples();
Session loadSample(const std::string& name);  // throws Error listing the known names
inline constexpr const char* kDefaultSample = "pronoun";

// The directory holding samples/ and fonts.json: $ATTNVIZ_DATA_DIR, else the source tree's
// assets/ next to the build, else <prefix>/share/attnviz relative to the executable.
std::string dataDirectory();
// Its models/ folder: the built-in models, one folder each.
std::string modelsDirectory();

// A picture file's SHA-256 (hex), remembered while its size and modification time stay the same.
// Throws Error naming the file when it cannot be read.
std::string pictureSha256(const std::string& path);

}  // namespace attnviz
