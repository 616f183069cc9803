// A decoder's next words and what its heads carry: generation with the sampling made visible
// (each candidate's probability before and after temperature, the top-k and top-p cut-offs, the
// token drawn), and activation patching between the text and a corrupted prompt.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "actions.hpp"
#include "colormap_lut.hpp"
#include "model.hpp"
#include "model_actions.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

ImU32 colourOf(Rgb8 c) { return IM_COL32(c[0], c[1], c[2], 255); }

// A dimmed note that wraps at the panel's edge (TextDisabled does not wrap).
void dimWrapped(const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("%s", text.c_str());
  ImGui::PopStyleColor();
}

// A rows × cols grid of signed values on one diverging scale (recovered fractions: 1 = all of the
// clean behaviour back), labelled; returns the hovered cell (row, col) or (-1, -1).
std::pair<int, int> fractionGrid(const char* id, const Eigen::MatrixXd& values, const std::vector<std::string>& rowNames,
                                 const std::vector<std::string>& colNames, float cellW, float cellH) {
  const float fs = ImGui::GetFontSize();
  float labelW = 0;
  for (const std::string& r : rowNames) labelW = std::max(labelW, ImGui::CalcTextSize(r.c_str()).x);
  labelW += 6;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  const bool colLabels = !colNames.empty();
  const float top = colLabels ? fs + 2 : 0;
  if (colLabels)
    for (std::size_t c = 0; c < colNames.size(); ++c)
      if (ImGui::CalcTextSize(colNames[c].c_str()).x <= cellW * 2 || c % 4 == 0)
        list->AddText(ImVec2(origin.x + labelW + cellW * float(c), origin.y), text, colNames[c].c_str());
  const ImVec2 cells(origin.x + labelW, origin.y + top);
  std::pair<int, int> hovered{-1, -1};
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  for (int r = 0; r < values.rows(); ++r) {
    list->AddText(ImVec2(origin.x, cells.y + cellH * float(r) + (cellH - fs) * 0.5f), text, rowNames[std::size_t(r)].c_str());
    for (int c = 0; c < values.cols(); ++c) {
      const ImVec2 a(cells.x + cellW * float(c), cells.y + cellH * float(r));
      const Rgb8 col = colormapColor(ColormapId::RdBu, float(values(r, c)), -1, 1);
      list->AddRectFilled(a, ImVec2(a.x + cellW - (cellW > 5 ? 1 : 0), a.y + cellH - 1), colourOf(col));
      char buf[16];
      std::snprintf(buf, sizeof buf, "%.2f", values(r, c));
      if (ImGui::CalcTextSize(buf).x <= cellW - 3)
        list->AddText(ImVec2(a.x + 2, a.y + (cellH - fs) * 0.5f), textColourOn(col), buf);
      if (mouse.x >= a.x && mouse.x < a.x + cellW && mouse.y >= a.y && mouse.y < a.y + cellH) hovered = {r, c};
    }
  }
  ImGui::SetCursorScreenPos(cells);
  ImGui::InvisibleButton(id, ImVec2(std::max(1.0f, cellW * float(values.cols())), std::max(1.0f, cellH * float(values.rows()))));
  if (!ImGui::IsItemHovered()) hovered = {-1, -1};
  return hovered;
}

}  // namespace

void drawGeneration(AppState& app) {
  if (!canGenerate(app)) return;
  const model::Model& m = *app.doc.prepared.loadedModel;
  GenerationState& g = app.generation;
  // The settings change only when a widget does (doubles and the 64-bit seed edited as they are,
  // so the app samples exactly what `generate --temperature T --seed S` does).
  model::SamplingOptions s = g.sampling;
  bool changed = ImGui::Checkbox("greedy", &s.greedy);
  ImGui::BeginDisabled(s.greedy);
  ImGui::SameLine();
  const double lowT = 0.05, highT = 3.0, lowP = 0.01, highP = 1.0;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  changed |= ImGui::SliderScalar("T", ImGuiDataType_Double, &s.temperature, &lowT, &highT, "%.2f",
                                 ImGuiSliderFlags_Logarithmic);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  changed |= ImGui::InputInt("top-k", &s.topK);
  s.topK = std::max(0, s.topK);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  changed |= ImGui::SliderScalar("top-p", ImGuiDataType_Double, &s.topP, &lowP, &highP, "%.2f");
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  changed |= ImGui::InputScalar("seed", ImGuiDataType_U64, &s.seed);
  ImGui::EndDisabled();
  if (changed) setSampling(app, s);
  if (ImGui::Button("Next token")) generateTokens(app, 1);
  recordItemRect(app, "generate-next");
  ImGui::SameLine();
  if (ImGui::Button(("Generate " + std::to_string(g.count) + "###generate-n").c_str())) generateTokens(app, g.count);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6.5f);
  ImGui::InputInt("N", &g.count);
  g.count = std::clamp(g.count, 1, 256);
  const std::size_t generated = app.doc.session.tokens.generated.size();
  if (generated > 0) {
    ImGui::SameLine();
    if (ImGui::SmallButton(("clear " + std::to_string(generated) + " generated###clear-generated").c_str())) clearGenerated(app);
  }
  if (g.lastSteps.empty()) {
    dimWrapped("the generated tokens join the text (green chips); every view follows");
    return;
  }
  const model::SampledToken& t = g.lastSteps.back();
  ImGui::TextWrapped("drew “%s”: %.2f%% after temperature, %.2f%% after the cut-offs", m.tokenizer.displayText(t.id).c_str(),
                     100 * t.probability, 100 * t.kept);
  if (!g.sampling.greedy)
    dimWrapped("top-k kept " + std::to_string(t.afterTopK) + ", top-p kept " + std::to_string(t.afterTopP) + " of " +
               std::to_string(m.shape.vocabSize) + " tokens");
  if (ImGui::BeginTable("##candidates", 4, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
    ImGui::TableSetupColumn("token");
    ImGui::TableSetupColumn("p");
    ImGui::TableSetupColumn(g.sampling.greedy ? "p" : "p / T");
    ImGui::TableSetupColumn("kept");
    ImGui::TableHeadersRow();
    for (const model::Candidate& c : t.top) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      if (c.id == t.id) ImGui::TextColored(ImVec4(0.5f, 0.9f, 0.5f, 1), "%s", m.tokenizer.displayText(c.id).c_str());
      else ImGui::TextUnformatted(m.tokenizer.displayText(c.id).c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%.2f%%", 100 * c.probability);
      ImGui::TableNextColumn();
      ImGui::Text("%.2f%%", 100 * c.tempered);
      ImGui::TableNextColumn();
      if (c.kept > 0) ImGui::Text("%.2f%%", 100 * c.kept);
      else ImGui::TextDisabled("cut");
    }
    ImGui::EndTable();
  }
}

void drawPatching(AppState& app) {
  if (!canGenerate(app)) return;
  PatchingState& p = app.patching;
  ImGui::TextWrapped("The text is the clean prompt. A corrupted prompt of the same length (a fact changed) runs "
                     "once per head with that head's output from the clean run: how much of the clean logit "
                     "difference comes back (1: all, 0: none).");
  std::string corrupted = p.corrupted;
  ImGui::SetNextItemWidth(-1);
  if (ImGui::InputTextWithHint("##corrupted", "corrupted prompt", &corrupted)) setCorruptedPrompt(app, corrupted);
  recordItemRect(app, "patching-corrupted");
  std::string target = p.target, contrast = p.contrast;
  const ImGuiStyle& style = ImGui::GetStyle();
  const float w = std::max(ImGui::GetFontSize() * 3,
                           (ImGui::GetContentRegionAvail().x - ImGui::CalcTextSize("targetcontrast").x -
                            3 * style.ItemInnerSpacing.x - 2 * style.ItemSpacing.x) / 2);
  ImGui::SetNextItemWidth(w);
  const bool t = ImGui::InputTextWithHint("target", "top guess", &target);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(w);
  const bool c = ImGui::InputTextWithHint("contrast", "corrupted's", &contrast);
  if (t || c) setPatchingTokens(app, target, contrast);
  if (ImGui::Button("Patch every head")) runPatching(app);
  if (!p.result) return;
  const model::PatchingResult& r = *p.result;
  const model::Model& m = *app.doc.prepared.loadedModel;
  ImGui::TextWrapped("LD = logit “%s” − logit “%s”: clean %.3f, corrupted %.3f", m.tokenizer.displayText(r.target).c_str(),
              m.tokenizer.displayText(r.contrast).c_str(), r.ldClean, r.ldCorrupted);
  const int L = int(r.heads.rows()), H = int(r.heads.cols());
  std::vector<std::string> layers, heads;
  for (int l = 0; l < L; ++l) layers.push_back("L" + std::to_string(l));
  for (int h = 0; h < H; ++h) heads.push_back("H" + std::to_string(h));
  const float fs = ImGui::GetFontSize();
  const float cellW = std::clamp((ImGui::GetContentRegionAvail().x - 3 * fs) / float(H), 6.0f, 3.2f * fs);
  const auto [hl, hh] = fractionGrid("##patch-heads", r.heads, layers, heads, cellW, std::round(fs * 1.35f));
  recordItemRect(app, "patching-heads");
  if (hl >= 0) {
    ImGui::SetTooltip("L%d H%d: %.3f of the clean LD back (LD %.3f)\nclick: step through this head", hl, hh,
                      r.heads(hl, hh), r.headsLd(hl, hh));
    if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) selectLayerHead(app, hl, hh);
  }
  ImGui::Spacing();
  dimWrapped("the residual stream at each layer (rows) and position (columns):");
  std::vector<std::string> entries;
  for (int l = 0; l <= L; ++l) entries.push_back(l == L ? "final" : "pre L" + std::to_string(l));
  const int n = int(r.resid.cols());
  const float residW = std::max(1.0f, (ImGui::GetContentRegionAvail().x - 4 * fs) / float(std::max(1, n)));
  const auto [rl, rp] = fractionGrid("##patch-resid", r.resid, entries, {}, residW, std::round(fs * 1.1f));
  if (rl >= 0 && rp < int(p.cleanTokens.size()))
    ImGui::SetTooltip("%s, position %d (“%s”): %.3f of the clean LD back", entries[std::size_t(rl)].c_str(), rp,
                      p.cleanTokens[std::size_t(rp)].c_str(), r.resid(rl, rp));
  if (p.cleanIds != std::vector<int>(app.doc.prepared.tokenIds))
    ImGui::TextColored(ImVec4(1, 0.6f, 0.3f, 1), "the text changed since: patch again");
}

}  // namespace attnviz::gui
