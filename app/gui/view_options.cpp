// The options panel: score function, scale, temperature, mask (with the painted-mask editor),
// heads, and how the heatmaps are coloured. Every change is live.
#include <imgui.h>

#include <cmath>

#include "actions.hpp"
#include "colormap_lut.hpp"
#include "model_actions.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {
// Keeps the next widget on this line only when `label` (its text plus a radio's circle) fits
// the panel, so narrow windows wrap the mask choices instead of cutting them.
void sameLineIfFits(const char* label) {
  const ImGuiStyle& st = ImGui::GetStyle();
  const float w = ImGui::GetFrameHeight() + st.ItemInnerSpacing.x + ImGui::CalcTextSize(label).x;
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  if (ImGui::GetItemRectMax().x + st.ItemSpacing.x + w <= right) ImGui::SameLine();
}
}  // namespace

void drawOptionsPanel(AppState& app) {
  Session& s = app.doc.session;
  AttentionOptions& o = s.options;
  const AttentionTrace& t = app.doc.trace();
  ImGui::PushItemWidth(-130 * ImGui::GetFontSize() / 16);
  drawBackendChooser(app);
  ImGui::Separator();
  // A bundle of weights alone is shown as given: none of the options below recomputes it.
  const bool givenWeights = app.doc.givenTrace != nullptr;
  if (givenWeights)
    ImGui::TextWrapped("The bundle gives the weights alone, shown as given: score, scale, temperature and mask "
                       "need its Q and K.");
  ImGui::BeginDisabled(givenWeights);

  int score = int(o.score);
  if (ImGui::Combo("score", &score, "scaled dot product\0dot product\0cosine\0")) setScoreFunction(app, ScoreFunction(score));

  bool autoScale = !o.scaleOverride.has_value();
  const float defaultScale = o.score == ScoreFunction::Scaled ? 1.0f / std::sqrt(float(std::max(1, t.headKeyWidth()))) : 1.0f;
  if (ImGui::Checkbox("auto scale", &autoScale)) setScaleOverride(app, autoScale ? std::nullopt : std::optional(defaultScale));
  ImGui::SameLine();
  if (autoScale) {
    if (o.score == ScoreFunction::Scaled) ImGui::TextDisabled("1/√%d = %.4f", t.headKeyWidth(), double(defaultScale));
    else ImGui::TextDisabled("1 (no scaling)");
  } else {
    float v = *o.scaleOverride;
    ImGui::SetNextItemWidth(100);
    if (ImGui::DragFloat("##scale", &v, 0.005f, 0.001f, 100.0f, "%.4f", ImGuiSliderFlags_Logarithmic))
      setScaleOverride(app, v);
  }

  float temperature = o.temperature;
  ImGui::SetNextItemWidth(ImGui::CalcItemWidth() - 50 * ImGui::GetFontSize() / 16);
  if (ImGui::SliderFloat("temperature T", &temperature, 0.05f, 20.0f, "%.3f", ImGuiSliderFlags_Logarithmic))
    setTemperature(app, temperature);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("T < 1 sharpens the softmax, T > 1 flattens it (log scale)");
  ImGui::SameLine();
  if (ImGui::SmallButton("T=1")) setTemperature(app, 1);

  ImGui::Separator();
  ImGui::TextUnformatted("mask");
  sameLineIfFits("none");
  if (ImGui::RadioButton("none", o.mask == MaskKind::None)) setMaskKind(app, MaskKind::None);
  sameLineIfFits("causal");
  if (ImGui::RadioButton("causal", o.mask == MaskKind::Causal)) setMaskKind(app, MaskKind::Causal);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("the last query sees the last key: query i sees keys up to i + m − n");
  sameLineIfFits("causal-top-left");
  if (ImGui::RadioButton("causal-top-left", o.mask == MaskKind::CausalTopLeft)) setMaskKind(app, MaskKind::CausalTopLeft);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("query i sees keys 0…i, as PyTorch's is_causal=True (same as causal when n = m)");
  sameLineIfFits("painted");
  if (ImGui::RadioButton("painted", o.mask == MaskKind::Custom)) setMaskKind(app, MaskKind::Custom);
  if (bool paint = app.view.paintMask; ImGui::Checkbox("paint mask by clicking cells", &paint))
    setPaintMask(app, paint);
  recordItemRect(app, "paint-mask");
  if (app.view.paintMask) ImGui::TextDisabled("click cells of step 3 to allow/forbid them");
  if (o.mask == MaskKind::Custom) {
    if (ImGui::SmallButton("allow all")) {
      setMaskKind(app, MaskKind::None);
      setMaskKind(app, MaskKind::Custom);
    }
    ImGui::SameLine();
    if (ImGui::SmallButton("start from causal")) {
      setMaskKind(app, MaskKind::Causal);
      setMaskKind(app, MaskKind::Custom);
    }
  }
  if (o.mask == MaskKind::Custom) sameLineIfFits("load mask…");
  if (ImGui::SmallButton("load mask…")) {
    chooseFile(app, FileChooser::Purpose::LoadMask);
  }

  ImGui::EndDisabled();

  ImGui::Separator();
  int heads = o.heads;
  ImGui::BeginDisabled(!s.bundle.path.empty() || inModelMode(app));  // a bundle's or a model's heads are its own
  const bool headsEdited = ImGui::InputInt("heads", &heads, 1, 1, ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::EndDisabled();
  if (headsEdited && heads != o.heads) {
    // Step to the next divisor in the direction of the click so +/− never lands on an invalid count.
    const int width = s.mode == InputMode::Tokens ? s.tokens.dModel : int(s.matrices.q.cols());
    const int dir = heads > o.heads ? 1 : -1;
    int h = heads;
    while (h >= 1 && h <= width && !setHeadsQuiet(app, h)) h += dir;
  }
  if (const std::string note = modelHeadsNote(app); !note.empty()) ImGui::TextDisabled("%s", note.c_str());
  ImGui::TextUnformatted("show head");
  for (int h = -1; h < o.heads && h < 16; ++h) {
    sameLineIfFits(h < 0 ? "all" : "00");
    char label[16];
    std::snprintf(label, sizeof label, h < 0 ? "all##sh" : "%d##sh", h);
    if (ImGui::RadioButton(label, s.view.head == h)) selectHead(app, h);
  }

  ImGui::Separator();
  int cmap = int(app.view.sequential);
  if (ImGui::Combo("colour map", &cmap, "viridis\0magma\0cividis (colour-blind safe)\0")) setColormap(app, ColormapId(cmap));
  int scale = int(app.view.colourScale);
  if (ImGui::Combo("colour scale", &scale, "linear\0log\0per row\0"))
    setColourScale(app, ColourScale(scale));
  recordItemRect(app, "colour-scale");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("log: small weights told apart (4 decades below the largest); per row: each row's\n"
                      "largest weight is the top colour. For exp values, row sums and weights; signed\n"
                      "stages stay linear. Exported figures use it too.");
  const std::pair<const char*, ViewToggle> toggles[] = {
      {"diverging map for signed values", ViewToggle::DivergingForSigned},
      {"weights on a fixed 0–1 scale", ViewToggle::UnitRange},
      {"values in cells", ViewToggle::Values},
      {"every term in derivations (T)", ViewToggle::AllTerms}};
  for (const auto& [label, which] : toggles) {
    bool on = viewToggle(app, which);
    if (ImGui::Checkbox(label, &on)) setViewToggle(app, which, on);
  }
  ImGui::PopItemWidth();
}

}  // namespace attnviz::gui
