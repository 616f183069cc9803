#include "session.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "json_number.hpp"
#include "matrix_io.hpp"
#include "stages.hpp"

namespace attnviz {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// 0.1f is written as 0.1, not 0.10000000149011612, and reads back as the same float.
double shortest(float f) { return shortestDecimal(f); }

json matrixToJson(const Matrix& m) {
  json rows = json::array();
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    json row = json::array();
    for (Eigen::Index c = 0; c < m.cols(); ++c) row.push_back(shortest(m(r, c)));
    rows.push_back(std::move(row));
  }
  return rows;
}

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(source_ + ": " + (where.empty() ? "" : where + ": ") + what);
  }

  void allowOnly(const json& obj, const std::string& where, std::initializer_list<const char*> keys) const {
    if (!obj.is_object()) fail(where, "expected a JSON object");
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    for (const auto& item : obj.items()) {
      const std::string& key = item.key();
      if (std::find_if(keys.begin(), keys.end(), [&](const char* k) { return key == k; }) == keys.end())
        fail(where, "unknown key \"" + printable(key) + "\"");
    }
  }

  std::string string(const json& obj, const char* key, const std::string& where, std::string fallback) const {
    if (!obj.contains(key)) return fallback;
    if (!obj[key].is_string()) fail(where, std::string("\"") + key + "\" must be a string");
    return obj[key].get<std::string>();
  }

  double number(const json& obj, const char* key, const std::string& where, double fallback) const {
    if (!obj.contains(key)) return fallback;
    if (!obj[key].is_number()) fail(where, std::string("\"") + key + "\" must be a number");
    return obj[key].get<double>();
  }

  long integer(const json& obj, const char* key, const std::string& where, long fallback, long lo, long hi) const {
    if (!obj.contains(key)) return fallback;
    if (!obj[key].is_number_integer()) fail(where, std::string("\"") + key + "\" must be an integer");
    const long v = obj[key].get<long>();
    if (v < lo || v > hi)
      fail(where, std::string("\"") + key + "\" must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return v;
  }

  Matrix matrix(const json& obj, const char* key, const std::string& where) const {
    if (!obj.contains(key)) fail(where, std::string("missing \"") + key + "\"");
    return parseJsonMatrix(obj[key].dump(), source_ + ": " + where + "." + key);
  }

 private:
  std::string source_;
};

}  // namespace

Session parseSession(const std::string& text, const std::string& sourceName) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(jsonSyntaxError(sourceName, e, e.byte));
  } catch (const json::exception& e) {
    // out_of_range 406 ("number overflow parsing '1e400'") carries no byte offset.
    const std::string what = e.what();
    throw Error(sourceName + ": invalid JSON, " + what.substr(what.find("] ") + 2));
  }
  const Reader rd(sourceName);
  rd.allowOnly(root, "", {"format", "version", "name", "description", "mode", "matrices", "tokens", "model", "bundle", "options", "view"});
  if (rd.string(root, "format", "", "attnviz-session") != "attnviz-session")
    rd.fail("", "\"format\" is not \"attnviz-session\"");
  if (!root.contains("version") || !root["version"].is_number_integer())
    rd.fail("", "missing integer \"version\" (this attnviz reads version " + std::to_string(kSessionVersion) + ")");
  const long version = root["version"].get<long>();
  if (version > kSessionVersion)
    rd.fail("", "session version " + std::to_string(version) + " is newer than this attnviz (reads up to " +
                    std::to_string(kSessionVersion) + "); update attnviz");
  if (version < 1) rd.fail("", "unknown session version " + std::to_string(version));

  Session s;
  s.name = rd.string(root, "name", "", "untitled");
  s.description = rd.string(root, "description", "", "");
  const std::string mode = rd.string(root, "mode", "", "");
  if (mode == "matrices") {
    s.mode = InputMode::Matrices;
    if (!root.contains("matrices")) rd.fail("", "mode is \"matrices\" but there is no \"matrices\" object");
    const json& m = root["matrices"];
    rd.allowOnly(m, "matrices", {"q", "k", "v"});
    s.matrices.q = rd.matrix(m, "q", "matrices");
    s.matrices.k = rd.matrix(m, "k", "matrices");
    s.matrices.v = rd.matrix(m, "v", "matrices");
  } else if (mode == "tokens") {
    s.mode = InputMode::Tokens;
    if (!root.contains("tokens")) rd.fail("", "mode is \"tokens\" but there is no \"tokens\" object");
    const json& t = root["tokens"];
    rd.allowOnly(t, "tokens", {"text", "source", "tokenizer", "d_model", "seed", "positional"});
    s.tokens.text = rd.string(t, "text", "tokens", "");
    s.tokens.source = rd.string(t, "source", "tokens", "");
    try {
      s.tokens.tokenizer = parseTokenizerKind(rd.string(t, "tokenizer", "tokens", "words"));
    } catch (const Error& e) {
      rd.fail("tokens", e.what());
    }
    s.tokens.dModel = int(rd.integer(t, "d_model", "tokens", 16, 1, 4096));
    s.tokens.seed = std::uint64_t(rd.integer(t, "seed", "tokens", 42, 0, (1L << 53)));
    if (t.contains("positional")) {
      if (!t["positional"].is_boolean()) rd.fail("tokens", "\"positional\" must be true or false");
      s.tokens.positional = t["positional"].get<bool>();
    }
  } else if (mode == "model" && version >= 2) {
    // Token mode on a trained model: the model (built-in name or folder) and its input text.
    s.mode = InputMode::Tokens;
    if (!root.contains("model")) rd.fail("", "mode is \"model\" but there is no \"model\" object");
    const json& m = root["model"];
    rd.allowOnly(m, "model", {"name", "text", "text_pair", "image", "image_sha256", "ablated_heads", "generated"});
    if (m.contains("generated")) {
      const json& g = m["generated"];
      if (!g.is_array()) rd.fail("model", "\"generated\" must be a list of token ids");
      for (const json& id : g) {
        if (!id.is_number_integer() || id.get<long>() < 0 || id.get<long>() > (1L << 30))
          rd.fail("model", "\"generated\" must be a list of token ids");
        s.tokens.generated.push_back(id.get<int>());
      }
    }
    if (m.contains("ablated_heads")) {
      const json& a = m["ablated_heads"];
      if (!a.is_array()) rd.fail("model", "\"ablated_heads\" must be a list of [layer, head]");
      for (const json& lh : a) {
        if (!lh.is_array() || lh.size() != 2 || !lh[0].is_number_integer() || !lh[1].is_number_integer() ||
            lh[0].get<long>() < 0 || lh[1].get<long>() < 0 || lh[0].get<long>() > 4096 || lh[1].get<long>() > 4096)
          rd.fail("model", "\"ablated_heads\" must be a list of [layer, head]");
        s.tokens.ablatedHeads.emplace_back(lh[0].get<int>(), lh[1].get<int>());
      }
    }
    s.tokens.model = rd.string(m, "name", "model", "");
    if (s.tokens.model.empty()) rd.fail("model", "\"name\" must name a built-in model or a model folder");
    s.tokens.text = rd.string(m, "text", "model", "");
    s.tokens.textPair = rd.string(m, "text_pair", "model", "");
    s.tokens.image = rd.string(m, "image", "model", "");
    s.tokens.imageSha256 = rd.string(m, "image_sha256", "model", "");
    if (!s.tokens.imageSha256.empty() &&
        (s.tokens.imageSha256.size() != 64 ||
         s.tokens.imageSha256.find_first_not_of("0123456789abcdef") != std::string::npos))
      rd.fail("model", "\"image_sha256\" must be 64 lowercase hex digits");
  } else if (mode == "bundle" && version >= 2) {
    // An attention bundle, by path (relative paths as the program that saved it was given them).
    if (!root.contains("bundle")) rd.fail("", "mode is \"bundle\" but there is no \"bundle\" object");
    const json& b = root["bundle"];
    rd.allowOnly(b, "bundle", {"path", "allow_unnormalised"});
    s.bundle.path = rd.string(b, "path", "bundle", "");
    if (s.bundle.path.empty()) rd.fail("bundle", "\"path\" must name a .npz or .safetensors bundle");
    if (b.contains("allow_unnormalised")) {
      if (!b["allow_unnormalised"].is_boolean()) rd.fail("bundle", "\"allow_unnormalised\" must be true or false");
      s.bundle.allowUnnormalised = b["allow_unnormalised"].get<bool>();
    }
  } else {
    rd.fail("", version >= 2 ? "\"mode\" must be \"matrices\", \"tokens\" or \"model\""
                             : "\"mode\" must be \"matrices\" or \"tokens\"");
  }

  if (root.contains("options")) {
    const json& o = root["options"];
    rd.allowOnly(o, "options", {"score", "scale", "temperature", "mask", "heads"});
    try {
      s.options.score = parseScoreFunction(rd.string(o, "score", "options", "scaled"));
    } catch (const Error& e) {
      rd.fail("options", e.what());
    }
    if (o.contains("scale") && !o["scale"].is_null()) s.options.scaleOverride = float(rd.number(o, "scale", "options", 1));
    s.options.temperature = float(rd.number(o, "temperature", "options", 1));
    if (!(s.options.temperature > 0)) rd.fail("options", "\"temperature\" must be > 0");
    s.options.heads = int(rd.integer(o, "heads", "options", 1, 1, 4096));
    if (o.contains("mask")) {
      if (o["mask"].is_string()) {
        try {
          s.options.mask = parseMaskKind(o["mask"].get<std::string>());
        } catch (const Error& e) {
          rd.fail("options", e.what());
        }
      } else {
        s.options.mask = MaskKind::Custom;
        s.options.customMask = toMask(rd.matrix(o, "mask", "options"), sourceName + ": options.mask");
      }
    }
  }
  if (root.contains("view")) {
    const json& v = root["view"];
    rd.allowOnly(v, "view", {"step", "head", "layer", "selected", "picture"});
    if (v.contains("picture")) {
      const json& p = v["picture"];
      if (!p.is_object()) rd.fail("view", "\"picture\" must be an object");
      rd.allowOnly(p, "view.picture", {"heads", "overlay", "fusion", "opacity", "smooth", "keep", "rollout_from"});
      PictureView& pv = s.view.picture;
      const std::string heads = rd.string(p, "heads", "view.picture", "selected");
      if (heads == "selected") pv.heads = PictureHeads::Selected;
      else if (heads == "mean") pv.heads = PictureHeads::Mean;
      else if (heads == "all") pv.heads = PictureHeads::All;
      else rd.fail("view.picture", "\"heads\" must be selected, mean or all");
      const std::string overlay = rd.string(p, "overlay", "view.picture", "attention");
      if (overlay != "attention" && overlay != "rollout") rd.fail("view.picture", "\"overlay\" must be attention or rollout");
      pv.rollout = overlay == "rollout";
      const std::string fusion = rd.string(p, "fusion", "view.picture", "mean");
      if (fusion != "mean" && fusion != "max" && fusion != "min") rd.fail("view.picture", "\"fusion\" must be mean, max or min");
      pv.fusion = model::parseHeadFusion(fusion);
      pv.rolloutFrom = int(rd.integer(p, "rollout_from", "view.picture", 0, 0, 1023));
      pv.opacity = float(rd.number(p, "opacity", "view.picture", 0.6));
      pv.keep = float(rd.number(p, "keep", "view.picture", 0));
      if (!(pv.opacity >= 0 && pv.opacity <= 1) || !(pv.keep >= 0 && pv.keep <= 1))
        rd.fail("view.picture", "\"opacity\" and \"keep\" must be between 0 and 1");
      if (p.contains("smooth")) {
        if (!p["smooth"].is_boolean()) rd.fail("view.picture", "\"smooth\" must be true or false");
        pv.smooth = p["smooth"].get<bool>();
      }
    }
    s.view.layer = int(rd.integer(v, "layer", "view", 0, 0, 1023));
    // A stage name (stages.hpp); version 1 files written before names stored the step's index
    // in the same order.
    if (v.contains("step") && v["step"].is_string()) {
      const auto stage = findStage(v["step"].get<std::string>());
      if (!stage) rd.fail("view", "\"step\" must be one of " + stageNames());
      s.view.step = int(*stage);
    } else {
      s.view.step = int(rd.integer(v, "step", "view", 0, 0, kStageCount - 1));
    }
    s.view.head = int(rd.integer(v, "head", "view", 0, -1, 4096));
    if (v.contains("selected") && !v["selected"].is_null()) {
      const json& sel = v["selected"];
      if (!sel.is_array() || sel.size() != 2 || !sel[0].is_number_integer() || !sel[1].is_number_integer())
        rd.fail("view", "\"selected\" must be [row, column] or null");
      s.view.selectedRow = sel[0].get<int>();
      s.view.selectedCol = sel[1].get<int>();
    }
  }
  return s;
}

Session loadSession(const std::string& path) {
  Session s = parseSession(readFile(path), path);
  // A picture named relative to the session file (as the samples name theirs) is found from any
  // working directory.
  if (!s.tokens.image.empty() && fs::path(s.tokens.image).is_relative())
    s.tokens.image = (fs::path(path).parent_path() / s.tokens.image).lexically_normal().string();
  return s;
}

std::string serializeSession(const Session& s) {
  json root = json::object();
  root["format"] = "attnviz-session";
  root["version"] = kSessionVersion;
  root["name"] = s.name;
  root["description"] = s.description;
  if (!s.bundle.path.empty()) {
    root["mode"] = "bundle";
    root["bundle"] = {{"path", s.bundle.path}, {"allow_unnormalised", s.bundle.allowUnnormalised}};
  } else if (s.mode == InputMode::Matrices) {
    root["mode"] = "matrices";
    root["matrices"] = {{"q", matrixToJson(s.matrices.q)},
                        {"k", matrixToJson(s.matrices.k)},
                        {"v", matrixToJson(s.matrices.v)}};
  } else if (!s.tokens.model.empty()) {
    root["mode"] = "model";
    root["model"] = {{"name", s.tokens.model}, {"text", s.tokens.text}};
    if (!s.tokens.textPair.empty()) root["model"]["text_pair"] = s.tokens.textPair;
    if (!s.tokens.image.empty()) {
      root["model"]["image"] = s.tokens.image;
      // The hash the session was opened with, else the file's now (an unreadable file: none).
      std::string sha = s.tokens.imageSha256;
      if (sha.empty()) {
        try {
          sha = pictureSha256(s.tokens.image);
        } catch (const Error&) {
        }
      }
      if (!sha.empty()) root["model"]["image_sha256"] = sha;
    }
    if (!s.tokens.generated.empty()) root["model"]["generated"] = s.tokens.generated;
    if (!s.tokens.ablatedHeads.empty()) {
      json a = json::array();
      for (const auto& [l, h] : s.tokens.ablatedHeads) a.push_back({l, h});
      root["model"]["ablated_heads"] = a;
    }
  } else {
    root["mode"] = "tokens";
    root["tokens"] = {{"text", s.tokens.text},
                      {"source", s.tokens.source},
                      {"tokenizer", toString(s.tokens.tokenizer)},
                      {"d_model", s.tokens.dModel},
                      {"seed", s.tokens.seed},
                      {"positional", s.tokens.positional}};
  }
  json o = json::object();
  o["score"] = toString(s.options.score);
  o["scale"] = s.options.scaleOverride ? json(shortest(*s.options.scaleOverride)) : json(nullptr);
  o["temperature"] = shortest(s.options.temperature);
  o["heads"] = s.options.heads;
  if (s.options.mask == MaskKind::Custom)
    o["mask"] = matrixToJson(s.options.customMask.cast<float>());
  else
    o["mask"] = toString(s.options.mask);
  root["options"] = o;
  json sel = s.view.selectedRow >= 0 ? json::array({s.view.selectedRow, s.view.selectedCol}) : json(nullptr);
  const StageId step = StageId(std::clamp(s.view.step, 0, kStageCount - 1));
  root["view"] = {{"step", stageInfo(step).name}, {"head", s.view.head}, {"selected", sel}};
  if ((s.mode == InputMode::Tokens && !s.tokens.model.empty()) || !s.bundle.path.empty()) root["view"]["layer"] = s.view.layer;
  // With a picture, and whenever the settings are not the defaults (a session read with them keeps
  // them: save and load give back the same session).
  if ((s.mode == InputMode::Tokens && !s.tokens.image.empty()) || !(s.view.picture == PictureView{})) {
    const PictureView& p = s.view.picture;
    const char* heads[] = {"selected", "mean", "all"};
    root["view"]["picture"] = {{"heads", heads[int(p.heads)]}, {"overlay", p.rollout ? "rollout" : "attention"},
                               {"fusion", model::toString(p.fusion)}, {"opacity", shortest(p.opacity)},
                               {"smooth", p.smooth}, {"keep", shortest(p.keep)}, {"rollout_from", p.rolloutFrom}};
  }
  return root.dump(2) + "\n";
}

void saveSession(const std::string& path, const Session& session) {
  writeFileAtomic(path, serializeSession(session));
}

PreparedSession prepare(const Session& session) {
  if (!session.bundle.path.empty()) return prepareBundleSession(session);
  if (session.mode == InputMode::Tokens && !session.tokens.model.empty()) return prepareModelSession(session);
  PreparedSession p;
  if (session.mode == InputMode::Tokens) {
    p.model = buildTokenModel(session.tokens);
    p.inputs = projectInputs(*p.model);
    p.inputs.wO = p.model->wO;
    p.queryLabels = p.model->queryTokens;
    p.keyLabels = p.model->keyTokens;
  } else {
    p.inputs = session.matrices;
    p.inputs.wO.resize(0, 0);  // heads · W_O exists in token mode only
    for (Eigen::Index i = 0; i < p.inputs.q.rows(); ++i) p.queryLabels.push_back("q" + std::to_string(i));
    for (Eigen::Index j = 0; j < p.inputs.k.rows(); ++j) p.keyLabels.push_back("k" + std::to_string(j));
  }
  return p;
}

std::string dataDirectory() {
  if (const char* env = std::getenv("ATTNVIZ_DATA_DIR"); env && *env) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  // An installed binary (PREFIX/bin/attnviz) reads PREFIX/share/attnviz and nothing else: a
  // broken install names what is missing rather than silently reading the build machine's
  // source tree. Only a binary in its build tree reads the source tree's assets/.
  if (!ec && exe.parent_path().filename() == "bin") {
    const fs::path installed = exe.parent_path().parent_path() / ATTNVIZ_INSTALLED_DATA_DIR;
    if (!fs::is_directory(installed / "samples", ec))
      throw Error("the data directory " + (installed / "samples").string() +
                  " is missing (a broken install? reinstall, or set ATTNVIZ_DATA_DIR)");
    return installed.string();
  }
  return ATTNVIZ_SOURCE_DATA_DIR;
}

std::string modelsDirectory() { return (fs::path(dataDirectory()) / "models").string(); }

std::vector<SampleInfo> listSamples() {
  std::vector<SampleInfo> samples;
  const fs::path dir = fs::path(dataDirectory()) / "samples";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    SampleInfo info;
    info.name = entry.path().stem().string();
    info.path = entry.path().string();
    try {
      info.description = loadSession(info.path).description;
    } catch (const Error& e) {
      info.description = std::string("(unreadable: ") + e.what() + ")";
    }
    samples.push_back(std::move(info));
  }
  if (ec) throw Error("cannot read the samples directory " + dir.string() + ": " + ec.message());
  std::sort(samples.begin(), samples.end(), [](const SampleInfo& a, const SampleInfo& b) { return a.name < b.name; });
  return samples;
}

Session loadSample(const std::string& name) {
  const auto samples = listSamples();
  std::string known;
  for (const auto& s : samples) {
    if (s.name == name) return loadSession(s.path);
    known += (known.empty() ? "" : ", ") + s.name;
  }
  throw Error("unknown sample \"" + printable(name) + "\" (known: " + known + ")");
}

}  // namespace attnviz
