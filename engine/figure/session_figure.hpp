#pragma once
// A session's figure exactly as `attnviz export` makes it. The command line and the desktop
// app both build their requests here, so the same state gives byte-identical files.
#include <cmath>
#include <string>

#include "figure/figure.hpp"
#include "figure/picture_overlay.hpp"
#include "image/image.hpp"
#include "model.hpp"
#include "session.hpp"

namespace attnviz {

// How the input was given; the figure's title names it after this.
struct FigureInput {
  std::string sample;       // a built-in sample: named by its name
  std::string sessionFile;  // a session file: named by its path as given
  InputMode mode = InputMode::Matrices;  // anything else: "tokens" or "matrices"
};

inline std::string figureInputName(const FigureInput& input) {
  if (!input.sample.empty()) return input.sample;
  if (!input.sessionFile.empty()) return input.sessionFile;
  return input.mode == InputMode::Tokens ? "tokens" : "matrices";
}

// Computes the session on the CPU engine (the reference, whatever backend a caller shows) and
// builds the request for the stage and head in `options`. Throws Error.
inline FigureRequest makeSessionFigure(const Session& session, const FigureInput& input,
                                       const FigureOptions& options) {
  const PreparedSession prepared = prepare(session);
  // A model layer runs with its own mask (a sliding window shorter than the text included).
  const AttentionTrace trace = computeSessionTrace(prepared, modelLayerOptions(prepared, session.options));
  std::string name = figureInputName(input);
  if (session.mode == InputMode::Tokens && !session.tokens.model.empty()) {
    // A model's figure says which model and layer it shows (the head is in the panel titles).
    if (input.sample.empty() && input.sessionFile.empty()) name = session.tokens.model;
    else name += " (" + session.tokens.model + ")";
    name += ", layer " + std::to_string(session.view.layer);
  }
  if (!session.bundle.path.empty() && input.sessionFile.empty()) {
    // An attention bundle's figure names the file and the layer.
    const size_t slash = session.bundle.path.find_last_of('/');
    name = session.bundle.path.substr(slash == std::string::npos ? 0 : slash + 1) + ", layer " +
           std::to_string(session.view.layer);
  }
  return makeFigureRequest(trace, prepared, name, options);
}

// Every layer of a model (or bundle) in one figure: a row per layer, a panel per head (or the
// one head of options.head), one colour scale, captions "L2 H5". Throws Error without layers.
inline FigureRequest makeLayersFigure(const Session& session, const FigureInput& input,
                                      const FigureOptions& options) {
  Session layerSession = session;
  layerSession.view.layer = 0;
  FigureRequest all;
  int layers = 1, columns = 1;
  for (int layer = 0; layer < layers; ++layer) {
    layerSession.view.layer = layer;
    const PreparedSession prepared = prepare(layerSession);
    if (prepared.modelLayers <= 0)
      throw Error("--layer all needs a model or an attention bundle (--model, --bundle, or a model sample)");
    layers = prepared.modelLayers;
    const AttentionTrace trace = computeSessionTrace(prepared, layerSession.options);
    FigureRequest part = makeFigureRequest(trace, prepared, "", options);
    columns = int(part.panels.size());
    const bool perHead = stageIsPerHead(options.stage);
    for (std::size_t k = 0; k < part.panels.size(); ++k) {
      const int head = options.head == kAllHeads ? int(k) : options.head;
      part.panels[k].caption = "L" + std::to_string(layer) + (perHead ? " H" + std::to_string(head) : "");
      all.panels.push_back(std::move(part.panels[k]));
    }
    if (layer == 0) {
      all.rowLabels = part.rowLabels;
      all.colLabels = part.colLabels;
      all.rowAxis = part.rowAxis;
      all.colAxis = part.colAxis;
      all.mask = part.mask;
      all.rowDivider = part.rowDivider;
      all.colDivider = part.colDivider;
    }
  }
  all.gridColumns = columns;
  applyStageColours(all, options);
  const StageInfo& info = stageInfo(options.stage);
  std::string name = figureInputName(input);
  if (!session.tokens.model.empty())
    name = input.sample.empty() && input.sessionFile.empty() ? session.tokens.model : name + " (" + session.tokens.model + ")";
  if (options.title) {
    all.title = *options.title;
  } else {
    all.title = name + ": " + info.label + " " + info.title + ", every layer" +
                (options.head == kAllHeads ? " and head" : ", head " + std::to_string(options.head));
    all.subtitle = std::to_string(layers) + " layers \u00D7 " + std::to_string(columns) +
                   (columns == 1 ? " panel" : " heads") + " \u00B7 one colour scale";
  }
  all.cellPx = options.cellPx;
  all.values = options.values;
  all.labels = options.labels;
  all.scale = options.scale;
  return all;
}

// A vision model's attention drawn on its picture (the app's picture view, `export --overlay`):
// the viewed layer's heads as the step-through computes them, or the rollout up to it.
struct PictureFigureOptions {
  PictureSelection selection;
  OverlayOptions overlay;
  bool allLayers = false;            // a row of panels per layer, one colour scale
  std::optional<std::string> title;  // replaces the generated title and options line
  int cellPx = 0;                    // pixels per picture pixel (0: automatic)
  float scale = 1;
};

inline FigureRequest makeSessionPictureFigure(const Session& session, const FigureInput& input,
                                              const PictureFigureOptions& o) {
  Session layerSession = session;
  std::vector<PicturePanel> panels;
  std::shared_ptr<const model::RgbImage> picture;
  std::optional<model::PatchGrid> grid;
  int layer = session.view.layer, layers = 1, columns = 1;
  // One layer's panels, from the pass prepare() keeps between layers of one session.
  auto addLayer = [&](int l) {
    layerSession.view.layer = l;
    const PreparedSession prepared = prepare(layerSession);
    if (!prepared.picture || !prepared.forward || !prepared.forward->grid)
      throw Error("the overlay needs a vision model and a picture (--model NAME --image FILE, or a scene sample)");
    const AttentionTrace trace = computeSessionTrace(prepared, modelLayerOptions(prepared, layerSession.options));
    layer = prepared.viewedLayer;
    layers = prepared.modelLayers;
    picture = prepared.picture;
    grid = *prepared.forward->grid;
    Matrix rollout;
    if (o.selection.rollout)
      rollout = model::attentionRollout(*prepared.forward, rolloutFirstLayer(o.selection, layer), layer, o.selection.fusion);
    std::vector<PicturePanel> part = picturePanels(trace, *grid, o.selection, o.selection.rollout ? &rollout : nullptr, layer);
    columns = int(part.size());
    for (PicturePanel& p : part) {
      if (o.allLayers && !o.selection.rollout) p.caption = "L" + std::to_string(layer) + " " + (p.head >= 0 ? "H" + std::to_string(p.head) : p.caption);
      panels.push_back(std::move(p));
    }
  };
  if (o.allLayers) {
    for (int l = 0; l < layers; ++l) addLayer(l);
  } else {
    addLayer(session.view.layer);
  }
  std::string name = figureInputName(input);
  if (input.sample.empty() && input.sessionFile.empty()) {
    const std::size_t slash = session.tokens.image.find_last_of('/');
    name = session.tokens.image.substr(slash == std::string::npos ? 0 : slash + 1);
  }
  name += " (" + session.tokens.model + ")";
  std::string title, subtitle;
  if (o.title) {
    title = *o.title;
  } else {
    const std::string who = grid->tokenName(o.selection.query);
    if (o.allLayers)
      title = name + ": where " + who + " looks, every layer" +
              (o.selection.rollout ? " (rollout from layer " + std::to_string(o.selection.rolloutFrom) + ")" : "");
    else
      title = o.selection.rollout ? name + ": where " + who + " looks, rollout of layers " +
                                        std::to_string(rolloutFirstLayer(o.selection, layer)) + "\u2013" + std::to_string(layer)
                                  : name + ", layer " + std::to_string(layer) + ": where " + who + " looks";
    subtitle = (panels.size() == 1 ? panels.front().caption : std::to_string(panels.size()) + (o.allLayers ? " panels" : " heads") + ", one colour scale") +
               " \u00B7 " + std::to_string(grid->rows) + "\u00D7" + std::to_string(grid->cols) + " patches of " +
               std::to_string(grid->patch) + " px \u00B7 opacity " + std::to_string(int(std::lround(o.overlay.opacity * 100))) + "%";
    if (o.overlay.keep > 0 && o.overlay.keep < 1)
      subtitle += " \u00B7 the patches holding " + std::to_string(int(std::lround(o.overlay.keep * 100))) + "% of the weight";
    if (o.overlay.smooth) subtitle += " \u00B7 smooth";
  }
  FigureRequest figure = makePictureFigure(*picture, *grid, panels, o.overlay, title, subtitle, o.cellPx, o.scale);
  if (o.allLayers) figure.gridColumns = columns > 1 ? columns : 0;  // one panel a layer: a square-ish grid
  return figure;
}

}  // namespace attnviz
