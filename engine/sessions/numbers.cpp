#include "numbers.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "json_number.hpp"
#include "matrix_io.hpp"
#include "stages.hpp"
#include "tokens.hpp"

namespace attnviz {

namespace {

// A [H, rows, cols] array in C order as an (H·rows)×cols matrix: head h's rows follow head h−1's.
Matrix splitHeads(const Matrix& x, int heads) {
  const Eigen::Index w = x.cols() / heads;
  Matrix out(x.rows() * heads, w);
  for (int h = 0; h < heads; ++h) out.middleRows(h * x.rows(), x.rows()) = x.middleCols(h * w, w);
  return out;
}

Matrix stackStage(const AttentionTrace& t, StageId id) {
  Matrix scratch;
  if (stageInfo(id).shape == StageShape::Projected) return stageValues(t, id, 0, scratch);
  Matrix out;
  for (int h = 0; h < t.heads; ++h) {
    const Matrix& m = stageValues(t, id, h, scratch);
    const Matrix block = stageInfo(id).shape == StageShape::HeadRows ? Matrix(m.transpose()) : m;
    if (h == 0) out.resize(block.rows() * t.heads, block.cols());
    out.middleRows(h * block.rows(), block.rows()) = block;
  }
  return out;
}

nlohmann::json vectorToJson(const Eigen::Ref<const Vector>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (Eigen::Index i = 0; i < v.size(); ++i) a.push_back(shortestDecimal(v(i)));
  return a;
}

std::string traceJson(const AttentionTrace& t, const NumbersSource& source) {
  const AttentionOptions& o = t.options;
  nlohmann::json j;
  j["attnviz_version"] = ATTNVIZ_VERSION;
  j["input"] = {{"name", source.name}, {"mode", source.mode == InputMode::Tokens ? "tokens" : "matrices"}};
  j["shapes"] = {{"n", t.n}, {"m", t.m}, {"d_k", t.dk}, {"d_v", t.dv}, {"heads", t.heads}};
  if (t.projected.size()) j["shapes"]["d_out"] = t.projected.cols();
  // The factor is stated once: base_scale (the override or 1/√d_head) ÷ temperature = effective_scale.
  j["options"] = {{"score", toString(o.score)},
                  {"scale", o.scaleOverride ? nlohmann::json(shortestDecimal(*o.scaleOverride)) : nlohmann::json(nullptr)},
                  {"base_scale", shortestDecimal(baseScale(o, t.headKeyWidth()))},
                  {"temperature", shortestDecimal(o.temperature)},
                  // In double: base / T overflows float for T below about 1e-38.
                  {"effective_scale", exactScale(o, t.headKeyWidth())},
                  {"scale_text", describeScale(o, t.headKeyWidth())},
                  {"mask", toString(o.mask)}};
  // A trace of given weights (an attention bundle without q and k) has no scores to scale.
  if (t.dk == 0) j["options"]["scale_text"] = "none: the weights were given, not computed";
  j["backend"] = source.backend;
  nlohmann::json stages = nlohmann::json::array();
  for (const StageInfo& s : stageList())
    if (stageExists(t, s.id)) stages.push_back(s.name);
  j["stages"] = stages;
  nlohmann::json heads = nlohmann::json::array();
  for (const HeadTrace& h : t.head) {
    std::vector<int> argmax(h.stats.argmax.data(), h.stats.argmax.data() + h.stats.argmax.size());
    std::vector<bool> masked(h.stats.fullyMasked.begin(), h.stats.fullyMasked.end());
    heads.push_back({{"entropy", vectorToJson(h.stats.entropy)},
                     {"max_weight", vectorToJson(h.stats.maxWeight)},
                     {"argmax", argmax},
                     {"fully_masked", masked}});
  }
  j["rows"] = heads;
  j["timings_ms"] = {{"total", t.timings.totalMs}};
  return j.dump(2) + "\n";
}

}  // namespace

NumbersFormat parseNumbersFormat(const std::string& name) {
  if (name == "npy") return NumbersFormat::Npy;
  if (name == "csv") return NumbersFormat::Csv;
  throw Error("the numbers format must be npy or csv (got \"" + printable(name) + "\")");
}

int writeNumbers(const std::string& directory, const AttentionTrace& t, const AttentionInputs& in,
                 const NumbersSource& source, NumbersFormat format) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) throw Error("cannot create " + directory + ": " + ec.message());
  const long H = t.heads;
  int files = 0;
  // `stacked` is (H·rows)×cols; `shape` the array it is in C order.
  const auto write = [&](const std::string& name, const Matrix& stacked, const std::vector<long>& shape) {
    const std::string path = (fs::path(directory) / name).string();
    if (format == NumbersFormat::Npy) writeNpy(path + ".npy", stacked.data(), shape);
    else writeCsv(path + ".csv", stacked);
    ++files;
  };
  for (const StageInfo& s : stageList()) {
    if (!stageExists(t, s.id)) continue;
    const Matrix m = stackStage(t, s.id);
    switch (s.shape) {
      case StageShape::HeadMatrix: write(s.name, m, {H, long(t.n), long(t.m)}); break;
      case StageShape::HeadRows: write(s.name, m, {H, long(t.n)}); break;
      case StageShape::HeadOutput: write(s.name, m, {H, long(t.n), long(t.headValueWidth())}); break;
      case StageShape::Projected:
      case StageShape::ModelRows: write(s.name, m, {long(m.rows()), long(m.cols())}); break;
    }
  }
  // Inputs a trace was not computed from (an attention bundle's given weights) are not written.
  if (in.q.size()) write("q", splitHeads(in.q, t.heads), {H, long(in.q.rows()), long(in.q.cols() / H)});
  if (in.k.size()) write("k", splitHeads(in.k, t.heads), {H, long(in.k.rows()), long(in.k.cols() / H)});
  if (in.v.size()) write("v", splitHeads(in.v, t.heads), {H, long(in.v.rows()), long(in.v.cols() / H)});
  writeFileAtomic((fs::path(directory) / "trace.json").string(), traceJson(t, source));
  ++files;
  if (source.tokens) {
    const nlohmann::json tokens = {{"queries", source.tokens->queryTokens},
                                   {"keys", source.tokens->keyTokens},
                                   {"cross", source.tokens->cross}};
    writeFileAtomic((fs::path(directory) / "tokens.json").string(), tokens.dump(2) + "\n");
    ++files;
  }
  return files;
}

}  // namespace attnviz
