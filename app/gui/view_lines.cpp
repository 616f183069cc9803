// The lines view: queries on the left, keys on the right, one line per pair with opacity equal
// to the attention weight. Several heads at once, one colour each; hovering a token keeps only
// its lines; a threshold hides faint ones; a sentence pair's lines can be kept to A→A, A→B, …
#include <imgui.h>

#include <algorithm>
#include <array>

#include "actions.hpp"
#include "derivation.hpp"
#include "linked.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {
constexpr int kMaxTokens = 160;  // beyond this the lines are a grey blur; the heatmap says more
constexpr int kMaxHeadToggles = 64;

// Distinct hues for heads drawn together (Tableau 10, then repeating).
ImU32 headColour(int head, int alpha) {
  static constexpr std::array<std::array<int, 3>, 10> kHues = {{{78, 121, 167}, {242, 142, 43}, {225, 87, 89},
                                                                 {118, 183, 178}, {89, 161, 79}, {237, 201, 72},
                                                                 {176, 122, 161}, {255, 157, 167}, {156, 117, 95},
                                                                 {186, 176, 172}}};
  const auto& c = kHues[std::size_t(head) % kHues.size()];
  return IM_COL32(c[0], c[1], c[2], alpha);
}

bool sentenceKept(ViewSettings::SentenceLines which, int query, int key) {
  using S = ViewSettings::SentenceLines;
  switch (which) {
    case S::All: return true;
    case S::AA: return query == 0 && key == 0;
    case S::AB: return query == 0 && key == 1;
    case S::BA: return query == 1 && key == 0;
    case S::BB: return query == 1 && key == 1;
  }
  return true;
}

// Keeps the next small button on this line when it fits, else starts a new line: the toggles of
// a many-headed model wrap in a narrow panel instead of running past its edge.
void sameLineIfFits(const char* nextLabel, float spacing) {
  const float w = ImGui::CalcTextSize(nextLabel).x + ImGui::GetStyle().FramePadding.x * 2;
  const float lineEnd = ImGui::GetItemRectMax().x + spacing + w;
  if (lineEnd <= ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x) ImGui::SameLine(0, spacing);
}

// The head toggles ("heads: 0 1 2 3 all"), each in its colour; none pressed: the focused head.
void headToggles(AppState& app, int heads, int focus) {
  const std::uint64_t shown = app.view.linesHeads;
  ImGui::TextUnformatted("heads:");
  for (int h = 0; h < std::min(heads, kMaxHeadToggles); ++h) {
    const std::string label = std::to_string(h);
    sameLineIfFits(label.c_str(), 3);
    const bool on = shown ? (shown >> h & 1) : h == focus;
    ImGui::PushID(h);
    ImGui::PushStyleColor(ImGuiCol_Button, on ? ImGui::ColorConvertU32ToFloat4(headColour(h, 255)) : ImVec4(0.2f, 0.2f, 0.22f, 1));
    if (ImGui::SmallButton(label.c_str())) {
      std::uint64_t next = shown ? shown : std::uint64_t(1) << focus;
      next ^= std::uint64_t(1) << h;
      setLinesHeads(app, next);
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("head %d: %s", h, on ? "drawn (click to hide)" : "click to draw it too");
    ImGui::PopStyleColor();
    ImGui::PopID();
  }
  sameLineIfFits("all", 6);
  if (ImGui::SmallButton("all")) setLinesHeads(app, heads >= 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << heads) - 1);
  sameLineIfFits("one", 3);
  if (ImGui::SmallButton("one")) setLinesHeads(app, 0);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("the focused head alone");
}

void sentenceFilter(AppState& app) {
  static const char* kNames[] = {"all lines", "A → A", "A → B", "B → A", "B → B"};
  int which = int(app.view.linesSentences);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::CalcTextSize("all lines").x + ImGui::GetFrameHeight() * 2);
  if (ImGui::Combo("##sentences", &which, kNames, 5)) setLinesSentences(app, ViewSettings::SentenceLines(which));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("a sentence pair's lines: from sentence A or B to A or B");
}
}  // namespace

void drawLinesView(AppState& app) {
  const Document& d = app.doc;
  const AttentionTrace& t = d.trace();
  if (t.head.empty()) return;
  const int focus = focusHead(app);
  std::vector<int> drawn;
  for (int h = 0; h < t.heads; ++h)
    if (app.view.linesHeads ? h < 64 && (app.view.linesHeads >> h & 1) : h == focus) drawn.push_back(h);
  if (drawn.empty()) drawn.push_back(focus);
  const std::vector<int>& sentence = d.prepared.sentence;
  const bool pair = !sentence.empty() && int(sentence.size()) == t.n && t.n == t.m;
  ImGui::SetNextItemWidth(150 * ImGui::GetFontSize() / 16);
  float threshold = app.view.linesThreshold;
  if (ImGui::SliderFloat("threshold", &threshold, 0.0f, 0.5f, "%.2f")) setLinesThreshold(app, threshold);
  if (pair) sentenceFilter(app);
  if (t.heads > 1) headToggles(app, t.heads, focus);
  if (t.n > kMaxTokens || t.m > kMaxTokens) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("%d × %d tokens: too many for lines; use the heatmap", t.n, t.m);
    ImGui::PopStyleColor();
    return;
  }
  const float s = ImGui::GetFontSize() / 16.0f;
  const int rows = std::max(t.n, t.m);
  // Up to 40 tokens the rows are tall enough for their labels (the view grows to fit them);
  // longer inputs share 260 px.
  const float fit = 260.0f * s / float(rows);
  const float rowH = std::clamp(rows <= 40 ? std::max(fit, ImGui::GetFontSize()) : fit, 4.0f, ImGui::GetFontSize() + 3);
  const bool labels = rowH >= ImGui::GetFontSize();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const float width = ImGui::GetContentRegionAvail().x;
  const float labelW = labels ? 84 * s : 8;
  const float xq = p0.x + labelW, xk = p0.x + width - labelW;
  auto yq = [&](int i) { return p0.y + (float(i) + 0.5f) * rowH * float(rows) / float(t.n); };
  auto yk = [&](int j) { return p0.y + (float(j) + 0.5f) * rowH * float(rows) / float(t.m); };
  const ImGuiIO& io = ImGui::GetIO();
  // A token under the mouse filters the lines to its own.
  int fq = -1, fk = -1;
  if (ImGui::IsWindowHovered() && io.MousePos.y >= p0.y && io.MousePos.y < p0.y + rowH * float(rows)) {
    if (io.MousePos.x < xq + 4 && io.MousePos.x >= p0.x) fq = std::clamp(int((io.MousePos.y - p0.y) / (rowH * rows / t.n)), 0, t.n - 1);
    if (io.MousePos.x > xk - 4 && io.MousePos.x < p0.x + width) fk = std::clamp(int((io.MousePos.y - p0.y) / (rowH * rows / t.m)), 0, t.m - 1);
  }
  const int pinRow = d.session.view.selectedRow;
  if (fq < 0 && fk < 0 && pinRow >= 0) fq = pinRow;
  ImDrawList* list = ImGui::GetWindowDrawList();
  const bool several = drawn.size() > 1;
  // Several heads' lines fan out a little at the keys so that equal weights do not hide each other.
  const float spread = several ? std::min(3.0f * s, rowH * 0.6f / float(drawn.size())) : 0;
  for (std::size_t k = 0; k < drawn.size(); ++k) {
    const HeadTrace& h = t.head[std::size_t(drawn[k])];
    const float offset = (float(k) - 0.5f * float(drawn.size() - 1)) * spread;
    for (int i = 0; i < t.n; ++i) {
      if (fq >= 0 && i != fq) continue;
      for (int j = 0; j < t.m; ++j) {
        if (fk >= 0 && j != fk) continue;
        if (pair && !sentenceKept(app.view.linesSentences, sentence[std::size_t(i)], sentence[std::size_t(j)])) continue;
        const float w = h.weights(i, j);
        if (w < app.view.linesThreshold || w <= 0) continue;
        const int alpha = int(std::clamp(w, 0.04f, 1.0f) * 255);
        list->AddLine(ImVec2(xq, yq(i)), ImVec2(xk, yk(j) + offset),
                      several ? headColour(drawn[k], alpha) : IM_COL32(90, 170, 255, alpha), 1.0f + 2.5f * w);
      }
    }
  }
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text), hot = IM_COL32(255, 210, 60, 255);
  const auto dot = [&](int index) {
    return pair && sentence[std::size_t(index)] == 1 ? IM_COL32(235, 120, 215, 255) : text;
  };
  for (int i = 0; i < t.n; ++i) {
    list->AddCircleFilled(ImVec2(xq, yq(i)), 2.5f, i == fq ? hot : dot(i));
    if (labels) {
      const std::string q = queryLabel(d, i);
      const float tw = std::min(ImGui::CalcTextSize(q.c_str()).x, labelW - 8);
      list->PushClipRect(ImVec2(p0.x, p0.y), ImVec2(xq - 5, p0.y + rowH * rows), true);
      list->AddText(ImVec2(xq - 6 - tw, yq(i) - ImGui::GetFontSize() * 0.5f), i == fq ? hot : dot(i), q.c_str());
      list->PopClipRect();
    }
  }
  for (int j = 0; j < t.m; ++j) {
    list->AddCircleFilled(ImVec2(xk, yk(j)), 2.5f, j == fk ? hot : dot(j));
    if (labels) list->AddText(ImVec2(xk + 6, yk(j) - ImGui::GetFontSize() * 0.5f), j == fk ? hot : dot(j), keyLabel(d, j).c_str());
  }
  ImGui::Dummy(ImVec2(width, rowH * float(rows) + 4));
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  if (several) ImGui::TextWrapped("%zu heads, one colour each · hover a token to isolate its lines", drawn.size());
  else ImGui::TextWrapped("head %d · hover a token to isolate its lines", drawn.front());
  ImGui::PopStyleColor();
  if (pair) ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(IM_COL32(235, 120, 215, 255)), "pink: sentence B");
}

}  // namespace attnviz::gui
