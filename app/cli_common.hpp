#pragma once
// Command-line pieces shared by compute, export and bench: the INPUT and OPTIONS flags.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "session.hpp"

namespace attnviz::cli {

// A usage mistake (exit 2): unknown flag, missing value, conflicting inputs. One line, as
// Error: the message goes through printable().
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(std::string_view what) : std::runtime_error(printable(what)) {}
  explicit UsageError(const char* what) : UsageError(std::string_view(what)) {}
  explicit UsageError(const std::string& what) : UsageError(std::string_view(what)) {}
};

// Collects INPUT and OPTIONS flags; build() turns them into a session (loading files).
struct InputArgs {
  std::optional<std::string> sample, sessionFile, qFile, kFile, vFile, tokens, source;
  std::optional<std::string> dModel, seed, tokenizer, positional;
  std::optional<std::string> score, scale, temperature, mask, heads;
  std::optional<std::string> model, text, layer;  // a trained model's attention on a text
  std::optional<std::string> image;                // or a vision model's on a picture
  std::optional<std::string> bundle;               // an attention bundle (.npz, .safetensors)
  bool allowUnnormalised = false;                  // its rows need not sum to 1

  // If args[i] is an INPUT/OPTIONS flag, consumes it (and its value) and returns true.
  bool consume(const std::vector<std::string>& args, size_t& i);
  // Throws UsageError for missing/conflicting inputs and Error for bad files or values.
  Session build() const;
};

inline constexpr const char* kInputHelp =
    "INPUT (one of):\n"
    "  --sample NAME              a built-in sample (see `attnviz samples`)\n"
    "  --session FILE.json        a saved session\n"
    "  --q FILE --k FILE --v FILE matrices (.csv, .tsv, .txt, .npy, .json)\n"
    "  --tokens TEXT [--source TEXT]  token mode (self-, or cross-attention with --source)\n"
    "  --model NAME|PATH --text TEXT [--layer L]  a trained model's layer L (default 0);\n"
    "      with --sample, runs the sample's text on the model (see `attnviz models`)\n"
    "  --model NAME|PATH --image FILE [--layer L]  a vision model's layer L on a picture\n"
    "      --d-model D (16)  --seed S (42)  --tokenizer words|chars  --positional on|off\n"
    "  --bundle FILE.npz|FILE.safetensors [--layer L] [--allow-unnormalised]  your model's\n"
    "      attention (tools/attnviz_bundle.py); with q and k every stage is recomputed\n"
    "OPTIONS (override the sample's or session's):\n"
    "  --score scaled|dot|cosine  --scale X  --temperature T  --heads H\n"
    "  --mask none|causal|causal-top-left|FILE   causal: the last query sees the last key (with\n"
    "      n != m, query i sees keys up to i + m - n); causal-top-left: query i sees keys 0..i,\n"
    "      as PyTorch's scaled_dot_product_attention(is_causal=True); FILE: a 0/1 n×m matrix\n";

// A value outside an enumerated option's list: UsageError (exit 2), one sentence for every such
// option: `--score: unknown value "softmax" (expected scaled, dot or cosine)`.
[[noreturn]] void unknownChoice(const std::string& flag, const std::string& value, const std::string& choices);

// Value of a flag that needs one, or UsageError naming it.
std::string takeValue(const std::vector<std::string>& args, size_t& i);

// A command whose options are all `--flag VALUE` (each at most once) or switches: reads them
// into their slots; UsageError for an unknown option, a repeated one or a missing value.
// Returns false after printing `help` for --help / -h.
struct ValueFlag {
  const char* flag;
  std::optional<std::string>* value;
};
struct SwitchFlag {
  const char* flag;
  bool* on;
};
bool readFlags(const std::vector<std::string>& args, const std::vector<ValueFlag>& values,
               const std::vector<SwitchFlag>& switches, const char* help);
long parseLong(const std::string& flag, const std::string& value, long lo, long hi);
double parseDouble(const std::string& flag, const std::string& value);

}  // namespace attnviz::cli
