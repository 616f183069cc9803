#include "cli.hpp"

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

namespace attnviz::cli {
namespace {

constexpr const char* kUsage =
    "attnviz " ATTNVIZ_VERSION " - see every stage of scaled dot-product attention\n"
    "\n"
    "usage:\n"
    "  attnviz [--sample NAME | FILE.json]   open the desktop app (default sample: pronoun)\n"
    "  attnviz samples                       list the built-in samples\n"
    "  attnviz compute INPUT [OPTIONS] --out DIR   write every stage as .npy\n"
    "  attnviz export INPUT [OPTIONS] ...    write a heatmap figure (PNG/SVG)\n"
    "  attnviz bench [--n N] [--d D] ...     measure the engine\n"
    "  attnviz models                        list the built-in models\n"
    "  attnviz tokenize --model M --text T   a model's tokens for a text\n"
    "  attnviz compute --model M --text T --out DIR   every layer of a real model\n"
    "  attnviz --version | --help\n"
    "\n"
    "`attnviz COMMAND --help` explains each command.\n";

constexpr const char* kComputeHelp =
    "usage: attnviz compute INPUT [OPTIONS] --out DIR [--backend cpu|gpu]\n"
    "\n"
    "Computes every stage and writes, with shapes [H, n, m] (output: [H, n, d_v/H]):\n"
    "  scores.npy (raw QKᵀ or cosine), scaled.npy, masked.npy (-inf where masked),\n"
    "  weights.npy, output.npy, trace.json (shapes, options, per-row stats, timings);\n"
    "  in token mode also tokens.json and projected.npy ([n, d_model], heads · W_O).\n"
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

nlohmann::json vectorToJson(const Eigen::Ref<const Vector>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (Eigen::Index i = 0; i < v.size(); ++i) a.push_back(v(i));
  return a;
}

// Stacks one n×c matrix per head into [H, n, c] C-order data.
std::vector<float> stackHeads(const AttentionTrace& t, Matrix HeadTrace::*stage) {
  std::vector<float> out;
  for (const HeadTrace& h : t.head) {
    const Matrix& m = h.*stage;
    out.insert(out.end(), m.data(), m.data() + m.size());
  }
  return out;
}

int cmdCompute(const std::vector<std::string>& args) {
  if (hasFlag(args, "--model")) return cmdComputeModel(args);
  InputArgs input;
  std::optional<std::string> out;
  std::string backendName = "cpu";
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kComputeHelp << kInputHelp << modelComputeHelp();
      return 0;
    }
    if (input.consume(args, i)) continue;
    if (args[i] == "--out") out = takeValue(args, i);
    else if (args[i] == "--backend") backendName = takeValue(args, i);
    else throw UsageError("unknown option " + args[i]);
  }
  if (!out) throw UsageError("compute needs --out DIR");
  if (backendName != "cpu" && backendName != "gpu") throw UsageError("--backend expects cpu or gpu");
  const Session session = input.build();
  const PreparedSession prepared = prepare(session);
  auto backend = makeBackend(backendName);
  const AttentionTrace trace = backend->run(prepared.inputs, session.options);

  std::error_code ec;
  std::filesystem::create_directories(*out, ec);
  if (ec) throw Error("cannot create " + *out + ": " + ec.message());
  const std::string dir = *out + "/";
  const long H = trace.heads, n = trace.n, m = trace.m;
  writeNpy(dir + "scores.npy", stackHeads(trace, &HeadTrace::scores).data(), {H, n, m});
  writeNpy(dir + "scaled.npy", stackHeads(trace, &HeadTrace::scaled).data(), {H, n, m});
  writeNpy(dir + "masked.npy", stackHeads(trace, &HeadTrace::masked).data(), {H, n, m});
  writeNpy(dir + "weights.npy", stackHeads(trace, &HeadTrace::weights).data(), {H, n, m});
  writeNpy(dir + "output.npy", stackHeads(trace, &HeadTrace::output).data(), {H, n, long(trace.headValueWidth())});

  if (prepared.model) {
    const Matrix projected = outputProjection(*prepared.model, trace);
    writeNpy(dir + "projected.npy", projected.data(), {projected.rows(), projected.cols()});
    const nlohmann::json tokens = {{"queries", prepared.model->queryTokens},
                                   {"keys", prepared.model->keyTokens},
                                   {"cross", prepared.model->cross}};
    writeFileAtomic(dir + "tokens.json", tokens.dump(2) + "\n");
  }

  nlohmann::json j;
  j["attnviz_version"] = ATTNVIZ_VERSION;
  j["input"] = {{"name", session.name}, {"mode", session.mode == InputMode::Tokens ? "tokens" : "matrices"}};
  j["shapes"] = {{"n", trace.n}, {"m", trace.m}, {"d_k", trace.dk}, {"d_v", trace.dv}, {"heads", trace.heads}};
  j["options"] = {{"score", toString(session.options.score)},
                  {"scale", session.options.scaleOverride ? nlohmann::json(*session.options.scaleOverride)
                                                          : nlohmann::json(nullptr)},
                  {"effective_scale", trace.head[0].scale},
                  {"temperature", session.options.temperature},
                  {"mask", toString(session.options.mask)}};
  j["backend"] = backend->name();
  nlohmann::json heads = nlohmann::json::array();
  for (const HeadTrace& h : trace.head) {
    std::vector<int> argmax(h.stats.argmax.data(), h.stats.argmax.data() + h.stats.argmax.size());
    std::vector<bool> masked(h.stats.fullyMasked.begin(), h.stats.fullyMasked.end());
    heads.push_back({{"entropy", vectorToJson(h.stats.entropy)},
                     {"max_weight", vectorToJson(h.stats.maxWeight)},
                     {"argmax", argmax},
                     {"fully_masked", masked}});
  }
  j["rows"] = heads;
  j["timings_ms"] = {{"total", trace.timings.totalMs}};
  writeFileAtomic(dir + "trace.json", j.dump(2) + "\n");
  std::cerr << "attnviz: wrote " << trace.heads << " head(s), " << n << "×" << m << ", to " << *out << "\n";
  return 0;
}

const std::vector<CommandTable>& commands() {
  static const std::vector<CommandTable> table = {
      {"samples", cmdSamples},
      {"compute", cmdCompute},
      {"export", cmdExport},
      {"bench", cmdBench},
      {"models", cmdModels},
      {"tokenize", cmdTokenize},
  };
  return table;
}

}  // namespace

const char* usage() { return kUsage; }

bool isCommand(int argc, char** argv) {
  if (argc < 2) return false;
  const std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "--version" || first == "help") return true;
  for (const auto& c : commands())
    if (first == c.name) return true;
  // A bare word that is not a file is a mistyped command, not something for the app to open.
  std::error_code ec;
  return first[0] != '-' && !std::filesystem::exists(first, ec);
}

int run(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::string& first = args.at(0);
  if (first == "--version") {
    std::cout << "attnviz " << ATTNVIZ_VERSION << "\n";
    return 0;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    std::cout << kUsage;
    return 0;
  }
  for (const auto& c : commands()) {
    if (first != c.name) continue;
    try {
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
      std::cerr << "attnviz " << c.name << ": " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "attnviz: unknown command " << first << " (see attnviz --help)\n";
  return 2;
}

}  // namespace attnviz::cli
