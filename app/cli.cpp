#include <algorithm>
#include "cli.hpp"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends.hpp"
#include "cli_common.hpp"
#include "cli_commands.hpp"
#include "matrix_io.hpp"
#include "numbers.hpp"

namespace attnviz::cli {

int cmdComputeBundle(const std::vector<std::string>& args);  // cli_bundle.cpp: compute --bundle
const char* bundleComputeHelp();                               // cli_bundle.cpp
int cmdPreprocess(const std::vector<std::string>& args);     // cli_image.cpp

namespace {

constexpr const char* kUsage =
    "attnviz " ATTNVIZ_VERSION " - see every stage of scaled dot-product attention\n"
    "\n"
    "usage:\n"
    "  attnviz [--sample NAME | FILE.json]   open the desktop app (default sample: pronoun)\n"
    "  attnviz --model NAME|PATH [--text T]  open the app on a trained model (model mode)\n"
    "                                        NAME: built in, or ORG/NAME in the Hugging Face cache;\n"
    "                                        --revision R (or NAME@R) for another branch, tag or commit\n"
    "  attnviz FILE.npz|FILE.safetensors     open the app on an attention bundle (bundle mode)\n"
    "  attnviz samples                       list the built-in samples\n"
    "  attnviz compute INPUT [OPTIONS] --out DIR   write every stage as .npy\n"
    "  attnviz export INPUT [OPTIONS] ...    write a heatmap figure (PNG/SVG)\n"
    "  attnviz bench [--n N] [--d D] ...     measure the engine\n"
    "  attnviz models                        list the built-in models and those in the Hugging Face cache\n"
    "  attnviz fetch ORG/NAME [--revision R]  download a model from the Hugging Face Hub into its cache\n"
    "  attnviz tokenize --model M --text T   a model's tokens for a text\n"
    "  attnviz compute --model M --text T --out DIR   every layer of a real model\n"
    "  attnviz compute --bundle FILE.npz --out DIR    every layer of your own model's attention\n"
    "  attnviz attribute --model M --text T [--target TOKEN] --out DIR   each head's direct share of a logit\n"
    "  attnviz generate --model M --text T --max-new N [--greedy | --seed S]   continue a text\n"
    "  attnviz patch --model M --clean T --corrupted T --target TOKEN --contrast TOKEN --out DIR\n"
    "                                              activation patching: each head's and stream row's recovered LD\n"
    "  attnviz preprocess --model M --image F --out pixels.npy   a vision model's input for a picture\n"
    "  attnviz --version | --help | help COMMAND\n"
    "\n"
    "desktop app options (with FILE.json, --sample or --model):\n"
    "  --script FILE         run one action per line (open, step, temperature, hover, pin, export,\n"
    "                        screenshot, quit; see app/gui/script.hpp)\n"
    "  --screenshot FILE     write the last frame as PNG\n"
    "  --frames N            quit after N frames\n"
    "  --ignore-pointer      a pointer resting over the window hovers no cell (reproducible screenshots)\n"
    "  --window-size WxH     the window's size (default 1600x1000, at least 320x240)\n"
    "  --frame-stats FILE    per-frame times as CSV     --dump-state FILE  the app state as JSON\n"
    "  --no-recovery | --recovery   recovery files off, or on in automated runs\n"
    "\n"
    "`attnviz COMMAND --help` (or `attnviz help COMMAND`) explains each command.\n";

constexpr const char* kComputeHelp =
    "usage: attnviz compute INPUT [OPTIONS] --out DIR [--backend cpu|gpu]\n"
    "\n"
    "Computes every stage and writes one .npy per stage, named as `export --stage` names them\n"
    "(the same files as the app's File > Export numbers):\n"
    "  scores, scaled, masked, minus_row_max (-inf where masked), exp, weights: [H, n, m]\n"
    "  row_sum: [H, n]   output: [H, n, d_v/H]   projected (token mode, heads · W_O): [n, d_model]\n"
    "  q, k, v: [H, n or m, d_head]; trace.json (shapes, options with the scale stated once,\n"
    "  per-row stats, timings); in token mode also tokens.json.\n"
    "\n";

struct CommandTable {
  const char* name;
  int (*run)(const std::vector<std::string>&);
};

int cmdSamples(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << "usage: attnviz samples\n\nLists the built-in samples: name, then description.\n";
      return 0;
    }
    throw UsageError("samples takes no arguments (got " + args[i] + ")");
  }
  for (const SampleInfo& s : listSamples()) std::cout << s.name << "\t" << s.description << "\n";
  return 0;
}

int cmdCompute(const std::vector<std::string>& args) {
  if (hasFlag(args, "--model")) return cmdComputeModel(args);
  if (hasFlag(args, "--bundle")) return cmdComputeBundle(args);
  InputArgs input;
  std::optional<std::string> out;
  std::string backendName = "cpu";
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kComputeHelp << kInputHelp << modelComputeHelp() << bundleComputeHelp();
      return 0;
    }
    if (input.consume(args, i)) continue;
    if (args[i] == "--out") out = takeValue(args, i);
    else if (args[i] == "--backend") backendName = takeValue(args, i);
    else throw UsageError("unknown option " + args[i]);
  }
  if (backendName != "cpu" && backendName != "gpu") unknownChoice("--backend", backendName, "cpu or gpu");
  if (!out) throw UsageError("compute needs --out DIR");
  const Session session = input.build();
  const PreparedSession prepared = prepare(session);
  auto backend = makeBackend(backendName);
  AttentionTrace trace = backend->run(prepared.inputs, session.options);
  finishTrace(trace, prepared.inputs);  // heads · W_O, whichever backend ran the heads
  const NumbersSource source{session.name, session.mode, backend->name(),
                             prepared.model ? &*prepared.model : nullptr};
  writeNumbers(*out, trace, prepared.inputs, source, NumbersFormat::Npy);
  const long n = trace.n, m = trace.m;
  std::cerr << "attnviz: wrote " << trace.heads << " head(s), " << n << "×" << m << ", to " << printable(*out) << "\n";
  return 0;
}

const std::vector<CommandTable>& commands() {
  static const std::vector<CommandTable> table = {
      {"samples", cmdSamples},
      {"compute", cmdCompute},
      {"export", cmdExport},
      {"bench", cmdBench},
      {"models", cmdModels},
      {"fetch", cmdFetch},
      {"tokenize", cmdTokenize},
      {"preprocess", cmdPreprocess},
      {"attribute", cmdAttribute},
      {"generate", cmdGenerate},
      {"patch", cmdPatch},
  };
  return table;
}

// Runs one command, turning its exceptions into the exit codes and one-line messages.
// `--revision R` picks the revision of the model a command reads from the Hugging Face cache:
// it becomes part of the name (NAME@R), so every command and the app resolve it in one place.
std::vector<std::string> withRevision(std::vector<std::string> args) {
  if (!args.empty() && args[0] == "fetch") return args;  // its own --revision
  const auto flag = std::find(args.begin(), args.end(), "--revision");
  if (flag == args.end()) return args;
  if (flag + 1 == args.end() || (flag + 1)->empty()) throw UsageError("--revision needs a value (a branch, tag or commit)");
  const std::string revision = *(flag + 1);
  args.erase(flag, flag + 2);
  for (std::size_t i = 1; i + 1 < args.size(); ++i)
    if (args[i] == "--model" || args[i] == "--scores") {
      if (args[i + 1].find('@') != std::string::npos) throw UsageError("give the revision once: --revision or NAME@REVISION");
      args[i + 1] += "@" + revision;
      return args;
    }
  throw UsageError("--revision goes with --model NAME (a model in the Hugging Face cache)");
}

int dispatch(const CommandTable& c, const std::vector<std::string>& rawArgs) {
  try {
    const std::vector<std::string> args = withRevision(rawArgs);
    return c.run(args);
  } catch (const UsageError& e) {
    std::cerr << "attnviz " << c.name << ": " << e.what() << " (see attnviz " << c.name << " --help)\n";
    return 2;
  } catch (const Error& e) {
    std::cerr << "attnviz " << c.name << ": " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "attnviz " << c.name << ": out of memory (the input is too large for this machine)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "attnviz " << c.name << ": " << printable(e.what()) << "\n";
    return 1;
  }
}

// What a file the app cannot open is, for the one-line refusal; "" for anything else (a
// session, a bare matrix, a model), which the app opens.
std::string notOpenable(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".json") return "";
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) > (64u << 20) || ec) return "";  // not one compute writes
  std::string text;
  try {
    text = readFile(path);
  } catch (const Error&) {
    return "";  // the app reports it
  }
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return "";
  if (j.contains("attnviz_version") && j.contains("shapes") && j.contains("stages")) {
    std::string from;
    if (j.contains("input") && j["input"].is_object() && j["input"].contains("name") && j["input"]["name"].is_string())
      from = j["input"]["name"].get<std::string>();
    return "this is the trace.json that `attnviz compute` writes (shapes, options and row statistics beside "
           "the .npy stages), not a session: open the session or sample it came from" +
           (from.empty() ? std::string() : " (input \"" + printable(from) + "\")") + " instead, or load its .npy files with NumPy";
  }
  if (j.contains("queries") && j.contains("keys") && j.contains("cross") && j.size() == 3)
    return "this is the tokens.json that `attnviz compute` writes in token mode, not a session: open the "
           "session or sample it came from";
  return "";
}

// A first argument that is no command, no option and no file: a path that does not exist, or a
// mistyped command.
bool looksLikePath(const std::string& s) { return s.find_first_of("./") != std::string::npos; }

}  // namespace

const char* usage() { return kUsage; }

bool isCommand(int argc, char** argv) {
  if (argc < 2) return false;
  const std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "--version" || first == "help") return true;
  for (const auto& c : commands())
    if (first == c.name) return true;
  if (first.empty() || first[0] == '-') return false;
  // A word that is not a file is a mistyped command or a missing file, not something for the app
  // to open; a file the app cannot open is refused here too, with what it is.
  std::error_code ec;
  if (!std::filesystem::exists(first, ec)) return true;
  return !notOpenable(first).empty();
}

int run(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::string& first = args.at(0);
  if (first == "--version") {
    std::cout << "attnviz " << ATTNVIZ_VERSION << "\n";
    return 0;
  }
  if (first == "help" && args.size() > 1) {
    // `attnviz help compute` is `attnviz compute --help`, for every command.
    for (const auto& c : commands())
      if (args[1] == c.name) return dispatch(c, {c.name, "--help"});
    std::cerr << "attnviz help: unknown command " << printable(args[1]) << " (see attnviz --help)\n";
    return 2;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    std::cout << kUsage;
    return 0;
  }
  for (const auto& c : commands())
    if (first == c.name) return dispatch(c, args);
  std::error_code ec;
  if (std::filesystem::exists(first, ec)) {
    std::cerr << "attnviz: " << printable(first) << ": " << notOpenable(first) << "\n";
    return 1;
  }
  if (looksLikePath(first)) {
    std::cerr << "attnviz: " << printable(first) << ": no such file (the app opens a session .json, a matrix "
              << "or a model; see attnviz --help)\n";
    return 1;
  }
  std::cerr << "attnviz: unknown command " << printable(first) << " (see attnviz --help)\n";
  return 2;
}

}  // namespace attnviz::cli
