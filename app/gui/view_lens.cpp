// What the heads did, for a text decoder: each layer's guess (the logit lens, layers × positions)
// and each head's direct effect on the prediction (layers × heads, the MLPs beside), both linked
// to the step-through: clicking a guess pins its position and shows its layer, clicking a head
// selects it.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "actions.hpp"
#include "colormap_lut.hpp"
#include "derivation.hpp"
#include "model.hpp"
#include "model_actions.hpp"
#include "model_analysis.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

ImU32 cellColour(Rgb8 c) { return IM_COL32(c[0], c[1], c[2], 255); }

// Text that fits `width` pixels, cut with "…" when it does not (empty when not even one glyph does).
std::string fitted(const std::string& text, float width) {
  if (ImGui::CalcTextSize(text.c_str()).x <= width) return text;
  std::string cut = text;
  while (!cut.empty()) {
    while (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0xC0) == 0x80) cut.pop_back();  // continuation bytes
    if (!cut.empty()) cut.pop_back();  // the character's first byte
    if (ImGui::CalcTextSize((cut + "…").c_str()).x <= width) return cut.empty() ? std::string() : cut + "…";
  }
  return {};
}

std::string entryName(int entry, int layers) {
  if (entry == 0) return "emb";
  return entry == layers ? "out" : "L" + std::to_string(entry - 1);
}

}  // namespace

void drawLogitLens(AppState& app) {
  const model::LogitLens* lens = currentLogitLens(app);
  if (!lens) {
    if (!analysisError().empty()) ImGui::TextWrapped("%s", analysisError().c_str());
    return;
  }
  const PreparedSession& p = app.doc.prepared;
  const model::TextTokenizer& tok = p.loadedModel->tokenizer;
  const int entries = lens->entries, n = lens->positions, layers = entries - 1;
  static int colourBy = 0;  // 0: the top token's probability, 1: the actual next token's
  ImGui::RadioButton("top guess", &colourBy, 0);
  ImGui::SameLine();
  ImGui::RadioButton("the actual next token", &colourBy, 1);
  ImGui::TextWrapped("Colour: that token's probability. Row l: the final norm and unembedding applied to the "
                     "residual stream after block l (emb: the embeddings; out: the model's own prediction). "
                     "Click a cell for its position and layer.");
  const float fs = ImGui::GetFontSize();
  const float labelW = ImGui::CalcTextSize("emb ").x + 4;
  const float avail = ImGui::GetContentRegionAvail().x - labelW;
  const float cellW = std::max(1.0f, avail / float(std::max(1, n)));  // long texts: thin columns, never past the edge
  const float cellH = std::round(fs * 1.35f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImVec2 cells(origin.x + labelW, origin.y);
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ColormapId map = app.view.sequential;
  const int pinned = app.doc.session.view.selectedRow;
  const int layerRow = app.doc.session.view.layer + 1;  // the stream after the viewed layer
  int hoverEntry = -1, hoverPos = -1;
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  for (int e = 0; e < entries; ++e) {
    const float y = cells.y + float(e) * cellH;
    list->AddText(ImVec2(origin.x, y + (cellH - fs) * 0.5f),
                  e == layerRow ? IM_COL32(255, 210, 60, 255) : ImGui::GetColorU32(ImGuiCol_Text), entryName(e, layers).c_str());
    for (int i = 0; i < n; ++i) {
      const model::LensGuess& g = lens->at(e, i);
      const bool known = colourBy == 0 || i + 1 < n;
      const double prob = colourBy == 0 ? g.probabilities.front() : known ? lens->nextTokenProbability(e, i) : 0.0;
      const ImVec2 a(cells.x + float(i) * cellW, y), b(a.x + cellW, y + cellH);
      const Rgb8 c = known ? colormapColor(map, float(prob), 0, 1) : Rgb8{60, 60, 60};
      list->AddRectFilled(a, ImVec2(b.x - (cellW > 6 ? 1 : 0), b.y - 1), cellColour(c));
      if (cellW >= fs * 1.2f) {
        const std::string t = fitted(tok.displayText(g.ids.front()), cellW - 3);
        if (!t.empty()) list->AddText(ImVec2(a.x + 2, a.y + (cellH - fs) * 0.5f), textColourOn(c), t.c_str());
      }
      if (mouse.x >= a.x && mouse.x < b.x && mouse.y >= a.y && mouse.y < b.y) {
        hoverEntry = e;
        hoverPos = i;
      }
    }
  }
  const ImVec2 end(cells.x + cellW * float(n), cells.y + cellH * float(entries));
  if (pinned >= 0 && pinned < n)
    list->AddRect(ImVec2(cells.x + cellW * float(pinned), cells.y), ImVec2(cells.x + cellW * float(pinned + 1), end.y),
                  IM_COL32(255, 200, 0, 255), 0, 0, 2.0f);
  ImGui::SetCursorScreenPos(cells);
  ImGui::InvisibleButton("##lens", ImVec2(std::max(1.0f, end.x - cells.x), std::max(1.0f, end.y - cells.y)));
  recordItemRect(app, "logit-lens-cells");
  if (ImGui::IsItemHovered() && hoverEntry >= 0) {
    const model::LensGuess& g = lens->at(hoverEntry, hoverPos);
    ImGui::BeginTooltip();
    ImGui::Text("%s, position %d (\"%s\"): the guess for the next token", entryName(hoverEntry, layers).c_str(),
                hoverPos, tok.displayText(p.forward->ids[std::size_t(hoverPos)]).c_str());
    for (std::size_t k = 0; k < g.ids.size(); ++k)
      ImGui::Text("%2zu  %-16s %6.2f%%", k + 1, tok.displayText(g.ids[k]).c_str(), 100.0 * g.probabilities[k]);
    if (hoverPos + 1 < n)
      ImGui::TextDisabled("the actual next token \"%s\": %.2f%%", tok.displayText(p.forward->ids[std::size_t(hoverPos + 1)]).c_str(),
                          100.0 * lens->nextTokenProbability(hoverEntry, hoverPos));
    ImGui::TextDisabled("click: pin this position%s", hoverEntry > 0 && hoverEntry <= layers ? " and show this layer" : "");
    ImGui::EndTooltip();
    if (ImGui::IsItemClicked()) {
      pinCell(app, hoverPos, std::max(0, app.doc.session.view.selectedCol));
      if (hoverEntry > 0) setLayer(app, std::min(hoverEntry - 1, layers - 1));
    }
  }
}

void drawHeadEffects(AppState& app) {
  const model::LogitAttribution* a = currentAttribution(app);
  if (!a) {
    if (!analysisError().empty()) ImGui::TextWrapped("%s", analysisError().c_str());
    return;
  }
  const PreparedSession& p = app.doc.prepared;
  const model::TextTokenizer& tok = p.loadedModel->tokenizer;
  const int L = int(a->heads.rows()), H = int(a->heads.cols());
  ImGui::TextWrapped("At position %d (\"%s\"), each head's direct share of the logit of \"%s\" (the top guess), "
                     "the final norm frozen at this input (red: for it, blue: against; heads and MLPs each on their own "
                     "scale). Click a head to step through it.",
                     a->position, tok.displayText(p.forward->ids[std::size_t(a->position)]).c_str(),
                     tok.displayText(a->target).c_str());
  // Heads and MLPs each on their own symmetric scale: one MLP often outweighs every head.
  double hiHeads = 1e-9, hiMlps = 1e-9;
  for (int l = 0; l < L; ++l) {
    hiMlps = std::max(hiMlps, std::fabs(a->mlps(l)));
    for (int h = 0; h < H; ++h) hiHeads = std::max(hiHeads, std::fabs(a->heads(l, h)));
  }
  const float fs = ImGui::GetFontSize();
  const float labelW = ImGui::CalcTextSize("L00 ").x + 4;
  const float avail = ImGui::GetContentRegionAvail().x - labelW;
  const float cellW = std::clamp(avail / float(H + 2), 6.0f, fs * 4.5f);
  const float cellH = std::round(fs * 1.35f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImDrawList* list = ImGui::GetWindowDrawList();
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  // Column heads: H0 … and, after a gap, the MLP.
  for (int h = 0; h < H; ++h)
    list->AddText(ImVec2(origin.x + labelW + cellW * float(h) + 2, origin.y), text, ("H" + std::to_string(h)).c_str());
  const float mlpX = origin.x + labelW + cellW * float(H + 1);
  list->AddText(ImVec2(mlpX + 2, origin.y), text, "MLP");
  const ImVec2 cells(origin.x + labelW, origin.y + fs + 4);
  int hoverL = -1, hoverH = -1;
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const ViewState& v = app.doc.session.view;
  auto cell = [&](ImVec2 at, double value, double hi, bool selected) {
    const Rgb8 c = colormapColor(ColormapId::RdBu, float(value), float(-hi), float(hi));
    list->AddRectFilled(at, ImVec2(at.x + cellW - 1, at.y + cellH - 1), cellColour(c));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.2f", value);
    if (ImGui::CalcTextSize(buf).x <= cellW - 3) list->AddText(ImVec2(at.x + 2, at.y + (cellH - fs) * 0.5f), textColourOn(c), buf);
    if (selected) list->AddRect(at, ImVec2(at.x + cellW - 1, at.y + cellH - 1), IM_COL32(80, 160, 255, 255), 0, 0, 2.0f);
  };
  for (int l = 0; l < L; ++l) {
    const float y = cells.y + float(l) * cellH;
    list->AddText(ImVec2(origin.x, y + (cellH - fs) * 0.5f), l == v.layer ? IM_COL32(255, 210, 60, 255) : text,
                  ("L" + std::to_string(l)).c_str());
    for (int h = 0; h < H; ++h) {
      const ImVec2 at(cells.x + cellW * float(h), y);
      cell(at, a->heads(l, h), hiHeads, l == v.layer && h == v.head);
      if (mouse.x >= at.x && mouse.x < at.x + cellW && mouse.y >= at.y && mouse.y < at.y + cellH) {
        hoverL = l;
        hoverH = h;
      }
    }
    cell(ImVec2(mlpX, y), a->mlps(l), hiMlps, false);
    if (mouse.x >= mlpX && mouse.x < mlpX + cellW && mouse.y >= y && mouse.y < y + cellH) {
      hoverL = l;
      hoverH = H;
    }
  }
  ImGui::SetCursorScreenPos(cells);
  ImGui::InvisibleButton("##effects", ImVec2(cellW * float(H + 2), cellH * float(L)));
  recordItemRect(app, "head-effects-cells");
  if (ImGui::IsItemHovered() && hoverL >= 0) {
    ImGui::BeginTooltip();
    if (hoverH < H) {
      ImGui::Text("L%d H%d: %+.4f of the logit %.4f", hoverL, hoverH, a->heads(hoverL, hoverH), a->logit());
      ImGui::TextDisabled("(z_h · W_O[h] at position %d, centred and scaled by the frozen norm) · W_U[\"%s\"]", a->position,
                          tok.displayText(a->target).c_str());
      ImGui::TextDisabled("click: step through this head");
    } else {
      ImGui::Text("MLP of layer %d: %+.4f of the logit %.4f (its output bias included)", hoverL, a->mlps(hoverL), a->logit());
    }
    ImGui::EndTooltip();
    if (ImGui::IsItemClicked() && hoverH < H) {
      setLayer(app, hoverL);
      selectHead(app, hoverH);
    }
  }
  ImGui::SetCursorScreenPos(ImVec2(origin.x, cells.y + cellH * float(L) + 4));
  ImGui::TextWrapped("heads %+.3f + MLPs %+.3f + embeddings %+.3f + biases %+.3f = %+.3f; the model's logit %.3f "
                     "(frozen %s %.4f)",
                     a->heads.sum(), a->mlps.sum(), a->embeddings, a->biases(), a->sum(), a->logit(),
                     a->norm == model::NormKind::LayerNorm ? "σ" : "rms", a->scale);
}

}  // namespace attnviz::gui
