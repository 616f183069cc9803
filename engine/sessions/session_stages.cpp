#include "session_stages.hpp"

#include "bundle_session.hpp"
#include "model_block.hpp"

namespace attnviz {

bool stageExists(const AttentionTrace& t, const PreparedSession& p, StageId id) {
  if (p.bundle) return bundleStageExists(*p.bundle, id);
  if (!stageInfo(id).needsModel) return stageExists(t, id);
  if (!p.block || !p.model) return false;
  if (id == StageId::Embedding) return p.block->layer == 0;
  if (id == StageId::ResidPre) return p.block->layer > 0;
  if (id == StageId::Rope) return p.block->rotary();
  // Post-norm: the only LayerNorm before attention is the embeddings' (layer 0).
  if (id == StageId::LayerNorm) return !p.block->postNorm || p.block->layer == 0;
  if (id == StageId::PostNorm) return p.block->postNorm;
  return true;
}

const Matrix& modelStageValues(const PreparedSession& p, StageId id, int head, Matrix& scratch) {
  if (!p.block || !p.model) throw Error(std::string("stage ") + stageInfo(id).name + " exists only in model mode");
  const ModelBlock& b = *p.block;
  const auto headColumns = [&](const Matrix& full) -> const Matrix& {
    const int heads = std::max(1, p.modelHeads), width = int(full.cols()) / heads;
    scratch = full.middleCols(Eigen::Index(std::clamp(head, 0, heads - 1)) * width, width);
    return scratch;
  };
  switch (id) {
    case StageId::Embedding: return b.embeddingSum.size() ? b.embeddingSum : b.residPre;
    case StageId::ResidPre: return b.residPre;
    case StageId::LayerNorm: return p.model->xQuery;
    // A rotary model's projections give Q and K before the rotation; the RoPE step turns them.
    case StageId::Query: return headColumns(b.rotary() ? b.qUnrotated : p.inputs.q);
    case StageId::Key: return headColumns(b.rotary() ? b.kUnrotated : p.inputs.k);
    case StageId::Rope: return ropeStageValues(p, RopeShown::QueryRotated, head, scratch);
    case StageId::Value: return headColumns(p.inputs.v);
    case StageId::ResidMid: return b.residMid;
    case StageId::PostNorm: return b.postNormed;
    default: break;
  }
  throw Error(std::string("stage ") + stageInfo(id).name + " is not a model stage");
}

const Matrix& ropeStageValues(const PreparedSession& p, RopeShown shown, int head, Matrix& scratch) {
  if (!p.block || !p.block->rotary()) throw Error("stage rope exists only for a rotary model (the Llama family)");
  const ModelBlock& b = *p.block;
  const Matrix& full = shown == RopeShown::QueryRotated   ? b.qRotated
                       : shown == RopeShown::KeyRotated   ? b.kRotated
                       : shown == RopeShown::QueryUnrotated ? b.qUnrotated
                                                          : b.kUnrotated;
  const int heads = std::max(1, b.heads), width = b.headDim;
  scratch = full.middleCols(Eigen::Index(std::clamp(head, 0, heads - 1)) * width, width);
  return scratch;
}

const char* ropeShownName(RopeShown shown) {
  switch (shown) {
    case RopeShown::QueryRotated: return "q";
    case RopeShown::KeyRotated: return "k";
    case RopeShown::QueryUnrotated: return "q_unrotated";
    case RopeShown::KeyUnrotated: return "k_unrotated";
  }
  return "q";
}

std::optional<RopeShown> findRopeShown(std::string_view name) {
  for (RopeShown r : {RopeShown::QueryRotated, RopeShown::KeyRotated, RopeShown::QueryUnrotated, RopeShown::KeyUnrotated})
    if (name == ropeShownName(r)) return r;
  return std::nullopt;
}

const Matrix& stageDisplay(const AttentionTrace& t, const PreparedSession& p, StageId id, int head, Matrix& scratch) {
  if (stageInfo(id).needsModel) return modelStageValues(p, id, head, scratch);
  return stageDisplay(t, id, head, scratch);
}

std::vector<std::string> stageColumnLabels(const AttentionTrace& t, const PreparedSession& p, StageId id) {
  if (!stageInfo(id).needsModel) return stageColumnLabels(t, id, p.keyLabels);
  Matrix scratch;
  const long cols = long(modelStageValues(p, id, 0, scratch).cols());
  std::vector<std::string> labels;
  for (long c = 0; c < cols; ++c) labels.push_back("d" + std::to_string(c));
  return labels;
}

}  // namespace attnviz
