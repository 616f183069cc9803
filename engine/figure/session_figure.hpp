#pragma once
// A session's figure exactly as `attnviz export` makes it. The command line and the desktop
// app both build their requests here, so the same state gives byte-identical files.
#include <string>

#include "figure/figure.hpp"
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

}  // namespace attnviz
