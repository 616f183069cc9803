// The inputs panel: tokens mode (text, tokenizer, d_model, heads, seed, positional encoding,
// token chips, X and the projections) or matrices mode (editable Q, K, V grids).
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <filesystem>

#include "actions.hpp"
#include "cell_text.hpp"
#include "derivation.hpp"
#include "model.hpp"
#include "model_block.hpp"
#include "views.hpp"

namespace attnviz::gui {

namespace {

constexpr int kEditableCells = 64 * 64;  // larger matrices are loaded or pasted, not typed

// Keeps the next widget (`width` wide) on this line only when it fits the panel, so narrow
// windows wrap a row of controls instead of cutting its end.
void sameLineIfFits(float width) {
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  if (ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + width <= right) ImGui::SameLine();
}

float radioWidth(const char* label) {
  return ImGui::GetFrameHeight() + ImGui::GetStyle().ItemInnerSpacing.x + ImGui::CalcTextSize(label).x;
}

}  // namespace

int sentenceBStart(const AppState& app) {
  const std::vector<int>& s = app.doc.prepared.sentence;
  const auto b = std::find(s.begin(), s.end(), 1);
  return b == s.end() ? -1 : int(b - s.begin());
}

unsigned int sentenceColour(int sentence) {
  return sentence == 1 ? IM_COL32(120, 62, 112, 255) : sentence == 0 ? IM_COL32(40, 84, 120, 255) : IM_COL32(51, 77, 107, 255);
}

namespace {

// Tokens as chips; the pinned query row is highlighted, clicking a chip pins that row.
void tokenChips(AppState& app, const std::vector<std::string>& tokens, bool queries) {
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  const ViewState& v = app.doc.session.view;
  const std::vector<int>& sentence = app.doc.prepared.sentence;
  // A decoder's generated tokens come after the text's own, in green.
  const std::size_t generatedFrom = tokens.size() - std::min(tokens.size(), app.doc.session.tokens.generated.size());
  for (std::size_t i = 0; i < tokens.size() && i < 2000; ++i) {
    const bool pinned = queries ? int(i) == v.selectedRow : int(i) == v.selectedCol;
    const int inSentence = i < sentence.size() ? sentence[i] : -1;
    const bool generated = i >= generatedFrom;
    ImGui::PushID(int(i) + (queries ? 0 : 100000));
    ImGui::PushStyleColor(ImGuiCol_Button, pinned      ? ImVec4(0.85f, 0.65f, 0.1f, 1)
                                           : generated ? ImVec4(0.16f, 0.45f, 0.25f, 1)
                                                       : ImGui::ColorConvertU32ToFloat4(sentenceColour(inSentence)));
    ImGui::PushStyleColor(ImGuiCol_Text, pinned ? ImVec4(0, 0, 0, 1) : ImVec4(1, 1, 1, 1));
    ImGui::PushStyleVar(ImGuiStyleVar_FramePadding, ImVec2(5, 2));
    if (ImGui::Button(tokens[i].c_str())) {
      if (queries) pinCell(app, int(i), std::max(0, v.selectedCol));
      else pinCell(app, std::max(0, v.selectedRow), int(i));
    }
    if (ImGui::IsItemHovered()) {
      if (generated) ImGui::SetTooltip("%s %zu · generated", queries ? "query" : "key", i);
      else if (inSentence >= 0) ImGui::SetTooltip("%s %zu · sentence %c", queries ? "query" : "key", i, inSentence ? 'B' : 'A');
      else ImGui::SetTooltip("%s %zu", queries ? "query" : "key", i);
    }
    ImGui::PopStyleVar();
    ImGui::PopStyleColor(2);
    ImGui::PopID();
    const float next = ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x +
                       (i + 1 < tokens.size() ? ImGui::CalcTextSize(tokens[i + 1].c_str()).x + 10 : 0);
    if (i + 1 < tokens.size() && next < right) ImGui::SameLine(0, 4);
  }
}

// A read-only or editable grid of a matrix (first rows/columns when large).
void matrixGrid(AppState& app, const char* id, const Matrix& m, MatrixSlot* slot) {
  const int rows = int(m.rows()), cols = int(m.cols());
  const bool editable = slot && rows * cols <= kEditableCells;
  // Dear ImGui tables hold at most 64 columns, the row numbers included (it asserts beyond).
  const int shownCols = std::min(cols, 63);
  const float h = std::min(ImGui::GetTextLineHeightWithSpacing() * float(std::min(rows, 8) + 1) + 8, 220.0f);
  if (!ImGui::BeginTable(id, shownCols + 1,
                         ImGuiTableFlags_ScrollX | ImGuiTableFlags_ScrollY | ImGuiTableFlags_BordersInnerV |
                             ImGuiTableFlags_RowBg,
                         ImVec2(0, h)))
    return;
  ImGui::TableSetupScrollFreeze(1, 1);
  ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed, 30);
  for (int c = 0; c < shownCols; ++c) ImGui::TableSetupColumn(std::to_string(c).c_str(), ImGuiTableColumnFlags_WidthFixed, 52);
  ImGui::TableHeadersRow();
  const int decimals = cellDecimals(m.size() ? m.cwiseAbs().maxCoeff() : 0.0f);  // one rule per matrix
  ImGuiListClipper clip;
  clip.Begin(rows);
  while (clip.Step()) {
    for (int r = clip.DisplayStart; r < clip.DisplayEnd; ++r) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextDisabled("%d", r);
      for (int c = 0; c < shownCols; ++c) {
        ImGui::TableNextColumn();
        if (editable) {
          float v = m(r, c);
          ImGui::PushID(r * 4096 + c);
          ImGui::SetNextItemWidth(-1);
          if (ImGui::DragFloat("##v", &v, 0.01f, 0, 0, "%.2f")) setMatrixValue(app, *slot, r, c, v);
          ImGui::PopID();
        } else {
          ImGui::TextUnformatted(formatFixed(m(r, c), decimals).c_str());
        }
      }
    }
  }
  ImGui::EndTable();
}

// A vision model's input: the picture's file (its labels are in the predictions view).
void imageInput(AppState& app) {
  ImGui::TextUnformatted("image (the model's input)");
  ImGui::TextWrapped("%s", std::filesystem::path(app.doc.session.tokens.image).filename().string().c_str());
  if (ImGui::Button("Open image…")) openFileChooser(app, FileChooser::Purpose::OpenImage, "");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("A PNG or JPEG (or drop one on the window)");
  // The built-in scenes the built-in vision model was trained on.
  const std::filesystem::path scenes = std::filesystem::path(dataDirectory()) / "samples" / "scenes";
  for (const char* scene : {"red-circle", "red-square", "red-triangle", "red-cross"}) {
    ImGui::SameLine();
    if (ImGui::GetContentRegionAvail().x < ImGui::CalcTextSize(scene + 4).x + 2 * ImGui::GetStyle().FramePadding.x)
      ImGui::NewLine();
    if (ImGui::SmallButton(scene + 4)) openImage(app, (scenes / (std::string(scene) + ".png")).string());
  }
}

void tokensMode(AppState& app) {
  Document& d = app.doc;
  TokenConfig& t = d.session.tokens;
  ImGui::TextUnformatted("model");
  drawModelPicker(app);
  const bool model = !t.model.empty();
  if (!t.image.empty()) {
    imageInput(app);
  } else {
    std::string text = t.text;
    ImGui::TextUnformatted(model ? "text (the model's input)" : "sequence (queries)");
    if (ImGui::InputTextMultiline("##text", &text, ImVec2(-1, ImGui::GetTextLineHeight() * 3.2f))) setTokensText(app, text);
    recordItemRect(app, "tokens-text");
    const model::ModelShape* shape = d.prepared.loadedModel ? &d.prepared.loadedModel->shape : nullptr;
    if ((model && shape && !shape->causal) || !t.textPair.empty()) {
      std::string pair = t.textPair;
      ImGui::TextUnformatted("sentence B (empty: one text)");
      if (ImGui::InputTextMultiline("##text-pair", &pair, ImVec2(-1, ImGui::GetTextLineHeight() * 2.2f)))
        setTextPair(app, pair);
      recordItemRect(app, "tokens-text-pair");
    }
  }
  if (!model) {
  std::string source = t.source;
  ImGui::TextWrapped("source for cross-attention (keys, values; empty = self-attention)");
  if (ImGui::InputTextMultiline("##source", &source, ImVec2(-1, ImGui::GetTextLineHeight() * 2.2f))) setSourceText(app, source);

  ImGui::PushItemWidth(110);
  int tok = int(t.tokenizer);
  if (ImGui::Combo("tokenizer", &tok, "words\0chars\0")) setTokenizer(app, TokenizerKind(tok));
  sameLineIfFits(radioWidth("positional"));
  bool pos = t.positional;
  if (ImGui::Checkbox("positional", &pos)) setPositional(app, pos);
  int dModel = t.dModel;
  if (ImGui::InputInt("d_model", &dModel, 4, 16) && dModel != t.dModel) setDModel(app, dModel);
  int seed = int(t.seed);
  if (ImGui::InputInt("seed", &seed, 1, 10)) setSeed(app, std::uint64_t(std::max(0, seed)));
  ImGui::PopItemWidth();
  }

  if (d.prepared.model) {
    ImGui::Text("query tokens (%zu)", d.prepared.queryLabels.size());
    tokenChips(app, d.prepared.queryLabels, true);
    if (d.prepared.model->cross) {
      ImGui::Text("key tokens (%zu)", d.prepared.keyLabels.size());
      tokenChips(app, d.prepared.keyLabels, false);
    }
    ImGui::SetNextItemOpen(true, ImGuiCond_FirstUseEver);  // the names of what can be checked, at a glance
    if (ImGui::TreeNode("X and projections")) {
      const TokenModel& m = *d.prepared.model;
      ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
      const bool rms = model && d.prepared.block && d.prepared.block->norm == ModelBlock::Norm::RmsNorm;
      const auto& shape = d.prepared.loadedModel ? d.prepared.loadedModel->shape : model::ModelShape();
      const bool encoder = model && shape.input == model::InputKind::Text && !shape.causal;
      const bool vision = model && shape.input == model::InputKind::Image;
      ImGui::TextWrapped("%s", !model  ? "X = embedding + positional encoding; Q = X W_Q, K = X W_K, V = X W_V"
                               : rms    ? "X = RMSNorm of the residual stream (input_layernorm); Q = X W_Q (q_proj), "
                                          "then RoPE; W_O = o_proj"
                               : encoder ? "X = the residual stream itself (post-norm: LayerNorm comes after each add); "
                                           "Q = X W_Q + b_Q (query), W_O = attention.output.dense"
                               : vision  ? "X = layernorm_before of the residual stream; Q = X W_Q + b_Q (query), "
                                           "W_O = attention.output.dense"
                                         : "X = ln_1 of the residual stream; Q = X W_Q + b_Q (c_attn), W_O = c_proj");
      ImGui::PopStyleColor();
      // Q, K and V themselves too, so a score can be checked by hand from the numbers shown.
      const AttentionInputs& in = d.prepared.inputs;
      const std::pair<const char*, const Matrix*> shown[] = {
          {"X (queries)", &m.xQuery}, {"W_Q", &m.wQ}, {"W_K", &m.wK}, {"W_V", &m.wV}, {"W_O", &m.wO},
          {"Q = X W_Q", &in.q},       {"K = X W_K", &in.k}, {"V = X W_V", &in.v}};
      for (const auto& [name, mat] : shown) {
        const bool open = ImGui::TreeNode(name, "%s  %ld×%ld", name, long(mat->rows()), long(mat->cols()));
        recordItemRect(app, (std::string("inputs:") + name).c_str());
        if (open) {
          matrixGrid(app, name, *mat, nullptr);
          ImGui::TreePop();
        }
      }
      ImGui::TreePop();
    }
  }
}

void matricesMode(AppState& app) {
  Session& s = app.doc.session;
  AttentionInputs& in = s.matrices;
  static int sizes[4] = {0, 0, 0, 0};
  const int current[4] = {int(in.q.rows()), int(in.k.rows()), int(in.q.cols()), int(in.v.cols())};
  if (!ImGui::IsAnyItemActive()) std::copy(current, current + 4, sizes);
  ImGui::SetNextItemWidth(-(ImGui::CalcTextSize("n m d_k d_v").x + ImGui::GetStyle().ItemInnerSpacing.x + 2));
  ImGui::InputInt4("n m d_k d_v", sizes);
  if (!std::equal(sizes, sizes + 4, current)) {
    if (ImGui::Button("resize")) resizeMatrices(app, sizes[0], sizes[1], sizes[2], sizes[3]);
    ImGui::SameLine();
    ImGui::TextDisabled("new cells are 0");
  }
  static int seed = 1;
  for (MatrixSlot slot : {MatrixSlot::Q, MatrixSlot::K, MatrixSlot::V}) {
    const Matrix& m = slot == MatrixSlot::Q ? in.q : slot == MatrixSlot::K ? in.k : in.v;
    ImGui::PushID(int(slot));
    if (ImGui::CollapsingHeader((std::string(slotName(slot)) + "  " + std::to_string(m.rows()) + "×" +
                                 std::to_string(m.cols()) + "###hdr").c_str(), ImGuiTreeNodeFlags_DefaultOpen)) {
      if (ImGui::SmallButton("random")) fillMatrix(app, slot, FillKind::Random, std::uint64_t(seed++));
      sameLineIfFits(ImGui::CalcTextSize("identity").x + 2 * ImGui::GetStyle().FramePadding.x);
      if (ImGui::SmallButton("identity")) fillMatrix(app, slot, FillKind::Identity, 0);
      sameLineIfFits(ImGui::CalcTextSize("zeros").x + 2 * ImGui::GetStyle().FramePadding.x);
      if (ImGui::SmallButton("zeros")) fillMatrix(app, slot, FillKind::Zeros, 0);
      sameLineIfFits(ImGui::CalcTextSize("paste").x + 2 * ImGui::GetStyle().FramePadding.x);
      if (ImGui::SmallButton("paste")) {
        const char* clip = ImGui::GetClipboardText();
        pasteMatrix(app, slot, clip ? clip : "");
      }
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("CSV, TSV, whitespace or a NumPy-printed array");
      sameLineIfFits(ImGui::CalcTextSize("load…").x + 2 * ImGui::GetStyle().FramePadding.x);
      if (ImGui::SmallButton("load…")) {
        chooseFile(app, slot == MatrixSlot::Q   ? FileChooser::Purpose::LoadMatrixQ
                        : slot == MatrixSlot::K ? FileChooser::Purpose::LoadMatrixK
                                                : FileChooser::Purpose::LoadMatrixV);
      }
      if (m.size() > kEditableCells) ImGui::TextDisabled("large: shown read-only; load or paste to change");
      MatrixSlot sl = slot;
      matrixGrid(app, slotName(slot), m, &sl);
    }
    ImGui::PopID();
  }
}

}  // namespace

void drawTokenChips(AppState& app, const std::vector<std::string>& tokens, bool queries) {
  tokenChips(app, tokens, queries);
}

void drawInputsPanel(AppState& app) {
  Session& s = app.doc.session;
  if (!s.bundle.path.empty()) {  // an attention bundle: its inputs come from the file
    drawBundleInputs(app);
    return;
  }
  if (ImGui::RadioButton("tokens", s.mode == InputMode::Tokens)) setInputMode(app, InputMode::Tokens);
  sameLineIfFits(radioWidth("matrices Q, K, V"));
  if (ImGui::RadioButton("matrices Q, K, V", s.mode == InputMode::Matrices)) setInputMode(app, InputMode::Matrices);
  sameLineIfFits(ImGui::CalcTextSize("samples…").x + 2 * ImGui::GetStyle().FramePadding.x);
  if (ImGui::SmallButton("samples…")) showSamplesBrowser(app, true);
  recordItemRect(app, "samples");
  if (!s.name.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.6f, 0.8f, 1, 1));
    ImGui::TextWrapped("%s", s.name.c_str());
    ImGui::PopStyleColor();
  }
  if (!s.description.empty() && ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(420);
    ImGui::TextUnformatted(s.description.c_str());
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
  ImGui::Separator();
  if (s.mode == InputMode::Tokens) tokensMode(app);
  else matricesMode(app);
}

}  // namespace attnviz::gui
