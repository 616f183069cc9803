// The model mode's views: the model picker and layer selector (inputs panel), the next-token
// predictions for the selected query, and the layers × heads overview with head scores.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

#include "bundle_session.hpp"
#include "colormap_lut.hpp"
#include "figure/picture_overlay.hpp"
#include "gl_heatmap.hpp"
#include "blocks.hpp"
#include "checkpoint.hpp"
#include "hub/hub_cache.hpp"
#include "model.hpp"
#include "head_scores.hpp"
#include "heatmap_panel.hpp"
#include "model_actions.hpp"
#include "model_download.hpp"
#include "actions.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

const char* const kScoreLabels[] = {"prev", "first", "dup", "ind"};  // short: they label thumbnails
constexpr int kShownScoreKinds = 4;  // entropy is a statistic, not a pattern a head "does"

struct HeadSummary {
  int layer = 0, head = 0;
  const Matrix* weights = nullptr;
  model::HeadScores scores;
  bool scored = false;  // the head scores compare queries with keys of the same text
  int strongest = 0;
  double strongestValue = 0;
};

// Every layer × head of what the overview shows: a model's forward pass, or a bundle's given
// weights (scored only for self-attention, where queries and keys are the same tokens).
struct OverviewSource {
  const void* key = nullptr;  // changes when the weights do
  std::shared_ptr<const void> keep;  // holds them while the summaries point into them
  std::vector<HeadSummary> heads;
  std::vector<int> ids;
  bool scored = true;
};

OverviewSource overviewSource(const PreparedSession& p) {
  OverviewSource src;
  if (p.forward) {
    const model::ForwardRecord& rec = *p.forward;
    src.key = &rec;
    src.keep = p.forward;
    src.ids = rec.ids;
    for (size_t l = 0; l < rec.layers.size(); ++l)
      for (size_t h = 0; h < rec.layers[l].pattern.head.size(); ++h)
        src.heads.push_back({int(l), int(h), &rec.layers[l].pattern.head[h].weights});
  } else if (p.bundle) {
    const AttentionBundle& b = *p.bundle;
    src.key = &b;
    src.keep = p.bundle;
    src.ids = labelIds(b.queryTokens);
    src.scored = !b.cross && b.n == b.m;
    for (int l = 0; l < b.layers; ++l)
      for (int h = 0; h < b.heads; ++h) src.heads.push_back({l, h, &b.weights(l, h)});
  }
  return src;
}

void summarise(OverviewSource& src) {
  for (HeadSummary& s : src.heads) {
    if (!src.scored) continue;
    s.scored = true;
    s.scores = model::scoreHead(*s.weights, src.ids);
    for (int k = 0; k < kShownScoreKinds; ++k)
      if (model::headScore(s.scores, k) > s.strongestValue) {
        s.strongestValue = model::headScore(s.scores, k);
        s.strongest = k;
      }
  }
}

ImU32 scoreColour(int kind, double value) {
  static const ImVec4 hues[kShownScoreKinds] = {{0.30f, 0.65f, 1.0f, 1}, {0.6f, 0.6f, 0.6f, 1},
                                                {1.0f, 0.55f, 0.2f, 1}, {0.35f, 0.85f, 0.35f, 1}};
  ImVec4 c = hues[kind];
  const float a = 0.25f + 0.75f * float(std::clamp(value, 0.0, 1.0));
  return ImGui::GetColorU32(ImVec4(c.x * a, c.y * a, c.z * a, 1));
}

}  // namespace

unsigned int kvGroupColour(int kvHead, float strength) {
  static const ImVec4 hues[] = {{0.95f, 0.55f, 0.25f, 1}, {0.35f, 0.75f, 0.95f, 1}, {0.65f, 0.85f, 0.35f, 1},
                                {0.85f, 0.45f, 0.85f, 1}, {0.95f, 0.85f, 0.3f, 1},  {0.4f, 0.9f, 0.75f, 1},
                                {0.95f, 0.45f, 0.5f, 1},  {0.6f, 0.6f, 0.95f, 1}};
  const ImVec4 c = hues[std::size_t(std::max(0, kvHead)) % (sizeof hues / sizeof hues[0])];
  const float a = std::clamp(strength, 0.0f, 1.0f);
  return ImGui::GetColorU32(ImVec4(c.x * a, c.y * a, c.z * a, 1));
}

std::string queryHeadsOf(const AppState& app, int kvHead) {
  std::string heads;
  for (int h = 0; h < app.doc.session.options.heads; ++h)
    if (kvHeadOf(app, h) == kvHead) heads += (heads.empty() ? "" : ", ") + std::to_string(h);
  return heads;
}

void drawModelPicker(AppState& app) {
  const Session& s = app.doc.session;
  const std::string current = s.tokens.model.empty() ? "random toy model" : s.tokens.model;
  ImGui::SetNextItemWidth(-1);
  if (ImGui::BeginCombo("##model", current.c_str())) {
    if (ImGui::Selectable("random toy model", s.tokens.model.empty())) setModel(app, "");
    for (const model::BuiltinModel& b : model::listBuiltinModels(modelsDirectory())) {
      if (ImGui::Selectable(b.name.c_str(), s.tokens.model == b.name)) setModel(app, b.name);
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s\n%s", b.shape.c_str(), b.description.c_str());
    }
    // The Hugging Face cache, read again each time the list opens (transformers may have added to it).
    static std::vector<model::hub::CachedModel> cached;
    if (ImGui::IsWindowAppearing()) cached = model::hub::listCachedModels(model::hub::cacheDirectory());
    if (!cached.empty()) {
      ImGui::Separator();
      ImGui::TextDisabled("Hugging Face cache");
    }
    for (const model::hub::CachedModel& m : cached) {
      const bool opens = m.supported && m.safetensors;
      if (ImGui::Selectable(m.repoId.c_str(), s.tokens.model == m.repoId, opens ? 0 : ImGuiSelectableFlags_Disabled))
        setModel(app, m.repoId);
      if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
        ImGui::SetTooltip("%s\n%s", model::hub::describeCachedModel(m).c_str(), m.folder.c_str());
    }
    ImGui::EndCombo();
  }
  recordItemRect(app, "model_picker");
  if (ImGui::SmallButton("Get a model…")) showDownloadDialog(app, true);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("download a model from the Hugging Face Hub into its cache");
  static std::string path;
  ImGui::SetNextItemWidth(-70);
  ImGui::InputTextWithHint("##modelpath", "folder, .safetensors or ORG/NAME", &path);
  ImGui::SameLine();
  if (ImGui::Button("Open") && !path.empty()) setModel(app, path);
  if (!inModelMode(app) || app.doc.prepared.modelLayers == 0) return;
  drawLayerSelector(app);
}

void drawLayerSelector(AppState& app) {
  const int layers = modelLayerCount(app);
  if (layers <= 0) return;
  int layer = app.doc.session.view.layer;
  ImGui::SetNextItemWidth(-70);
  if (ImGui::SliderInt("layer", &layer, 0, layers - 1)) setLayer(app, layer);
  recordItemRect(app, "layer_slider");
  ImGui::TextDisabled("[ ] layer   , . head");
}

void drawBundleInputs(AppState& app) {
  const Document& d = app.doc;
  if (ImGui::SmallButton("open attention…")) openFileChooser(app, FileChooser::Purpose::OpenAttention, "");
  ImGui::SameLine();
  if (ImGui::SmallButton("samples…")) showSamplesBrowser(app, true);
  ImGui::TextColored(ImVec4(0.6f, 0.8f, 1, 1), "%s", d.session.name.c_str());
  ImGui::PushTextWrapPos(0);
  ImGui::TextDisabled("%s", d.session.bundle.path.c_str());
  ImGui::PopTextWrapPos();
  ImGui::Separator();
  if (!d.prepared.bundle || d.needsPrepare) {
    ImGui::TextWrapped("%s", d.error.empty() ? "Reading the bundle…" : d.error.c_str());
    return;
  }
  const AttentionBundle& b = *d.prepared.bundle;
  ImGui::Text("%d %s × %d %s, %d × %d tokens", b.layers, b.layers == 1 ? "layer" : "layers", b.heads,
              b.heads == 1 ? "head" : "heads", b.n, b.m);
  if (b.hasQK)
    ImGui::TextWrapped("Q, K%s given (d_head %d): every stage is recomputed from them.", b.hasV ? ", V" : "", b.dHead);
  else
    ImGui::TextWrapped("Weights only%s: shown as given (the stages before them need Q and K).",
                       b.hasV ? " and V" : "");
  if (!b.metadata.empty()) {
    const std::string shown = b.metadata.size() > 240 ? b.metadata.substr(0, 240) + "…" : b.metadata;
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("%s", shown.c_str());
    ImGui::PopTextWrapPos();
  }
  for (const std::string& row : b.rowsNotNormalised)
    ImGui::TextColored(ImVec4(1, 0.7f, 0.2f, 1), "shown as given: %s", row.c_str());
  drawLayerSelector(app);
  const WeightsDifference& diff = d.givenDifference;
  if (diff.maxAbs >= 0) {
    const bool mismatch = diff.maxAbs > kBundleMismatchTolerance;
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(mismatch ? ImVec4(1, 0.7f, 0.2f, 1) : ImVec4(0.55f, 0.8f, 0.55f, 1),
                       "recomputed vs given weights, layer %d: max |difference| %.2g%s", diff.layer, diff.maxAbs,
                       mismatch ? " (above 1e-4)" : "");
    ImGui::PopTextWrapPos();
    recordItemRect(app, "bundle_difference");
  }
  ImGui::Text("%s (%zu)", b.cross ? "query tokens" : "tokens", d.prepared.queryLabels.size());
  drawTokenChips(app, d.prepared.queryLabels, true);
  if (b.cross) {
    ImGui::Text("key tokens (%zu)", d.prepared.keyLabels.size());
    drawTokenChips(app, d.prepared.keyLabels, false);
  }
}

void drawBundleWarning(AppState& app) {
  const WeightsDifference& diff = app.doc.givenDifference;
  if (!(diff.maxAbs > kBundleMismatchTolerance)) return;
  ImGui::PushTextWrapPos(0);
  ImGui::TextColored(ImVec4(1, 0.7f, 0.2f, 1), "warning: %s; the model may scale or mask differently",
                     describeDifference(diff).c_str());
  ImGui::PopTextWrapPos();
  recordItemRect(app, "bundle_warning");
}

void drawPredictions(AppState& app) {
  const PreparedSession& p = app.doc.prepared;
  if (!p.forward || !p.loadedModel) return;
  const model::ForwardRecord& rec = *p.forward;
  const bool vision = rec.grid.has_value();
  const bool causal = p.loadedModel->shape.causal;
  const int n = int(rec.ids.size());
  // An encoder predicts the token at a position (the first [MASK] unless a row is pinned).
  int firstMask = 0;
  if (const auto mask = p.loadedModel->tokenizer.maskId(); mask && !causal)
    for (int i = n - 1; i >= 0; --i)
      if (rec.ids[size_t(i)] == *mask) firstMask = i;
  // A vision model has one row of logits (its labels); a text model one per position.
  const int row = vision ? 0
                  : app.doc.session.view.selectedRow >= 0 && app.doc.session.view.selectedRow < n
                      ? app.doc.session.view.selectedRow
                      : causal ? n - 1 : firstMask;
  if (row < 0 || row >= rec.logits.rows()) return;
  const Vector logp = model::logSoftmax(rec.logits.row(row));
  std::vector<int> order(size_t(logp.size()));
  std::iota(order.begin(), order.end(), 0);
  const int top = std::min<int>(vision ? 5 : 10, int(order.size()));
  std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](int a, int b) { return logp(a) > logp(b); });
  const int layer = app.doc.session.view.layer, head = app.doc.session.view.head;
  if (head >= 0) {
    bool ablated = isHeadAblated(app, layer, head);
    if (ImGui::Checkbox("ablate this head (zero its output)", &ablated)) setHeadAblated(app, layer, head, ablated);
    recordItemRect(app, "ablate_head");
  }
  if (!app.doc.session.tokens.ablatedHeads.empty()) {
    std::string list;
    for (const auto& [l, h] : app.doc.session.tokens.ablatedHeads) list += " L" + std::to_string(l) + "H" + std::to_string(h);
    ImGui::TextColored(ImVec4(1, 0.6f, 0.3f, 1), "ablated:%s", list.c_str());
  }
  if (vision) {
    ImGui::TextUnformatted("the image's labels:");
    const auto& labels = p.loadedModel->shape.labels;
    for (int i = 0; i < top; ++i)
      ImGui::Text("%2d  %-16s %6.2f%%", i + 1, labels.at(size_t(order[size_t(i)])).c_str(),
                  100.0 * std::exp(logp(order[size_t(i)])));
    return;
  }
  const model::TextTokenizer& tok = p.loadedModel->tokenizer;
  if (!causal) {
    ImGui::Text("at \"%s\" (position %d), the masked-LM's guesses:", tok.displayText(rec.ids[size_t(row)]).c_str(), row);
    for (int i = 0; i < top; ++i)
      ImGui::Text("%2d  %-16s %6.2f%%", i + 1, tok.displayText(order[size_t(i)]).c_str(),
                  100.0 * std::exp(logp(order[size_t(i)])));
    return;
  }
  ImGui::Text("after \"%s\" (query %d):", tok.displayText(rec.ids[size_t(row)]).c_str(), row);
  const int actual = row + 1 < n ? rec.ids[size_t(row) + 1] : -1;
  for (int i = 0; i < top; ++i) {
    const float prob = std::exp(logp(order[size_t(i)]));
    const bool isActual = order[size_t(i)] == actual;
    ImGui::TextColored(isActual ? ImVec4(0.4f, 0.9f, 0.4f, 1) : ImVec4(0.9f, 0.9f, 0.9f, 1), "%2d  %-16s %6.2f%%", i + 1,
                       tok.displayText(order[size_t(i)]).c_str(), 100.0 * prob);
  }
  if (actual >= 0) {
    int rank = 1;
    for (Eigen::Index j = 0; j < logp.size(); ++j) rank += logp(j) > logp(actual);
    ImGui::TextDisabled("actual next \"%s\": %.2f%%, rank %d", tok.displayText(actual).c_str(),
                        100.0 * std::exp(logp(actual)), rank);
  }
}

void drawModelOverview(AppState& app) {
  const PreparedSession& p = app.doc.prepared;
  if (!p.forward && !p.bundle) return;
  static int sortBy = -1;  // -1: layer order, else a score kind
  static const void* summarised = nullptr;
  static OverviewSource source;
  if (summarised != (p.forward ? static_cast<const void*>(p.forward.get()) : p.bundle.get())) {
    source = overviewSource(p);
    summarise(source);
    summarised = source.key;
  }
  if (!source.scored) sortBy = -1;
  ImGui::SetNextItemWidth(160);
  const char* sortNames[] = {"layer order", "previous token", "first token", "duplicate token", "induction"};
  int choice = sortBy + 1;
  if (source.scored && ImGui::Combo("sort", &choice, sortNames, 5)) sortBy = choice - 1;
  const std::vector<HeadSummary>& heads = source.heads;
  std::vector<HeadSummary> shown = heads;
  if (sortBy >= 0)
    std::stable_sort(shown.begin(), shown.end(), [](const HeadSummary& a, const HeadSummary& b) {
      return model::headScore(a.scores, sortBy) > model::headScore(b.scores, sortBy);
    });
  const float s = ImGui::GetFontSize() / 16.0f;
  const float width = ImGui::GetContentRegionAvail().x;
  // In layer order with grouped-query attention, one row per K/V head: the query heads that share it.
  const int kvGroups = p.forward ? kvHeadCount(app) : 0;
  const int perRow = sortBy >= 0 ? std::clamp(int(width / (80 * s)), 1, 16)
                     : kvGroups > 0 && kvGroups < p.modelHeads ? p.modelHeads / kvGroups
                                                               : std::max(1, p.modelHeads);
  const float spacing = ImGui::GetStyle().ItemSpacing.x;
  // The window's vertical scrollbar may appear after this frame's layout: leave room for it.
  const float usable = width - ImGui::GetStyle().ScrollbarSize;
  const float size = std::max(24 * s, (usable - spacing * float(perRow - 1)) / float(perRow) - 4 * s);
  const std::uint64_t revision = std::uint64_t(reinterpret_cast<std::uintptr_t>(source.key));
  const int kvHeads = p.forward ? kvHeadCount(app) : 0;
  const bool grouped = kvHeads > 0 && kvHeads < p.modelHeads;
  const int litGroup = app.view.highlightKvHead >= 0 ? app.view.highlightKvHead
                       : app.doc.session.view.head >= 0 ? kvHeadOf(app, app.doc.session.view.head)
                                                        : -1;
  for (size_t i = 0; i < shown.size(); ++i) {
    const HeadSummary& hs = shown[i];
    const Matrix& w = *hs.weights;
    if (i % size_t(perRow) != 0) ImGui::SameLine();
    ImGui::BeginGroup();
    const ImVec2 pos = ImGui::GetCursorScreenPos();
    ImGui::PushID(int(i));
    if (ImGui::InvisibleButton("overview", ImVec2(size, size))) selectLayerHead(app, hs.layer, hs.head);
    const bool hovered = ImGui::IsItemHovered();
    recordItemRect(app, ("overview_" + std::to_string(hs.layer) + "_" + std::to_string(hs.head)).c_str());
    ImGui::PopID();
    PanelSpec spec;
    spec.values = &w;
    spec.range.vmin = 0;
    spec.range.vmax = std::max(1e-6f, w.maxCoeff());
    spec.texture = matrixTexture("overview/" + std::to_string(hs.layer) + "/" + std::to_string(hs.head), revision,
                                 [&]() -> const Matrix& { return w; });
    spec.valueText = false;
    spec.colourBar = false;
    HeatmapCamera cam;
    const PanelLayout L = layoutPanel(spec, pos, ImVec2(pos.x + size, pos.y + size), cam);
    ImDrawList* list = ImGui::GetWindowDrawList();
    if (p.picture && p.forward && p.forward->grid && w.rows() == p.forward->grid->tokens()) {
      // A vision model: the head's [CLS] row over the picture (each thumbnail its own scale).
      const model::PatchGrid& grid = *p.forward->grid;
      model::RgbImage shown;
      const unsigned texture = pictureTexture(
          "overview-picture/" + std::to_string(hs.layer) + "/" + std::to_string(hs.head) + "/" +
              std::to_string(int(app.view.sequential)),
          revision, p.picture->width, p.picture->height, [&] {
            OverlayOptions o;
            o.colormap = toFigureColormap(app.view.sequential);
            shown = overlayPicture(*p.picture, patchValues(w.row(0).data(), int(w.cols()), grid), grid.patch, o);
            return shown.pixels.data();
          });
      list->AddImage(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(texture)), pos,
                     ImVec2(pos.x + size, pos.y + size));
    } else {
      drawPanel(list, spec, L);
    }
    const bool current = app.doc.session.view.layer == hs.layer && app.doc.session.view.head == hs.head;
    const ImU32 frame = hs.scored ? scoreColour(hs.strongest, hs.strongestValue) : IM_COL32(90, 90, 90, 255);
    list->AddRect(ImVec2(pos.x - 2, pos.y - 2), ImVec2(L.areaMax.x + 2, L.areaMax.y + 2),
                  current ? IM_COL32(80, 160, 255, 255) : frame, 0, 0, current ? 3.0f : 2.0f);
    // Grouped-query attention: a strip in the colour of the K/V head the query head reads, and
    // the group of the selected head (or of the clicked "kvN" label) outlined in that colour.
    const int kv = grouped ? kvHeadOf(app, hs.head) : -1;
    if (grouped) {
      const bool lit = kv == litGroup && hs.layer == app.doc.session.view.layer;
      ImGui::Dummy(ImVec2(size, 5 * s));
      list->AddRectFilled(ImVec2(pos.x - 2, L.areaMax.y + 4), ImVec2(L.areaMax.x + 2, L.areaMax.y + 4 + 4 * s),
                          kvGroupColour(kv, lit ? 1.0f : 0.65f));
      if (lit)
        list->AddRect(ImVec2(pos.x - 5, pos.y - 5), ImVec2(L.areaMax.x + 5, L.areaMax.y + 7 + 4 * s),
                      kvGroupColour(kv, 1.0f), 0, 0, 2.0f);
      ImGui::Text("L%d H%d kv%d%s", hs.layer, hs.head, kv, isHeadAblated(app, hs.layer, hs.head) ? " (ablated)" : "");
    } else {
      ImGui::Text("L%d H%d%s", hs.layer, hs.head, isHeadAblated(app, hs.layer, hs.head) ? " (ablated)" : "");
    }
    if (!hs.scored) {
      if (hovered) ImGui::SetTooltip("layer %d, head %d\nclick to show this head", hs.layer, hs.head);
      ImGui::EndGroup();
      continue;
    }
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(scoreColour(hs.strongest, hs.strongestValue)), "%s %.2f",  // fits under a thumbnail
                       kScoreLabels[hs.strongest], hs.strongestValue);
    if (hovered && grouped)
      ImGui::SetTooltip("layer %d, head %d reads K/V head %d (shared by query heads %s)\nprevious token %.3f\n"
                        "first token %.3f\nduplicate token %.3f\ninduction %.3f\nentropy %.3f\nclick to show this head",
                        hs.layer, hs.head, kv, queryHeadsOf(app, kv).c_str(), hs.scores.previousToken,
                        hs.scores.firstToken, hs.scores.duplicateToken, hs.scores.induction, hs.scores.entropy);
    else if (hovered)
      ImGui::SetTooltip("layer %d, head %d\nprevious token %.3f\nfirst token %.3f\nduplicate token %.3f\ninduction %.3f\n"
                        "entropy %.3f\nclick to show this head",
                        hs.layer, hs.head, hs.scores.previousToken, hs.scores.firstToken, hs.scores.duplicateToken,
                        hs.scores.induction, hs.scores.entropy);
    ImGui::EndGroup();
  }
  if (p.bundle && !source.scored)
    ImGui::TextWrapped("Every layer × head of the bundle's given weights (cross-attention: no head scores).");
  else
    ImGui::TextWrapped("Every layer × head %s, labelled with its strongest score: prev(ious token), "
                       "first (token), dup(licate token), ind(uction).",
                       p.bundle ? "of the bundle's given weights" : "on this text");
  if (grouped)
    ImGui::TextWrapped("Grouped-query attention: %d query heads share %d K/V heads (%d each): heads with the same "
                       "colour strip (kvN) read the same K and V; the selected head's group is outlined.",
                       p.modelHeads, kvHeads, p.modelHeads / kvHeads);
}

}  // namespace attnviz::gui
