#include "script.hpp"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "actions.hpp"
#include "model_actions.hpp"
#include "model_download.hpp"
#include "document.hpp"
#include "matrix_io.hpp"
#include "recovery.hpp"
#include "replace.hpp"

namespace attnviz::gui {

namespace {

MatrixSlot parseSlot(const std::string& s) {
  if (s == "Q" || s == "q") return MatrixSlot::Q;
  if (s == "K" || s == "k") return MatrixSlot::K;
  if (s == "V" || s == "v") return MatrixSlot::V;
  throw Error("expected Q, K or V, got \"" + s + "\"");
}

std::string rest(std::istringstream& in) {
  std::string r;
  std::getline(in >> std::ws, r);
  return r;
}

}  // namespace

std::vector<std::string> readScript(const std::string& path) {
  std::istringstream in(readFile(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    lines.push_back(line.substr(first));
  }
  return lines;
}

bool runScriptLine(AppState& app, const std::string& line) {
  std::istringstream in(line);
  std::string op;
  in >> op;
  try {
    if (op == "sample") return loadSample(app, rest(in));
    if (op == "open") return openFile(app, rest(in));
    if (op == "open-bundle") {  // open-bundle [--allow-unnormalised] PATH
      std::string path = rest(in);
      const std::string flag = "--allow-unnormalised ";
      const bool allow = path.rfind(flag, 0) == 0;
      return openBundle(app, allow ? path.substr(flag.size()) : path, allow);
    }
    if (op == "save") return saveSessionAs(app, rest(in));
    if (op == "load") {
      std::string what;
      in >> what;
      return what == "mask" ? loadMask(app, rest(in)) : loadMatrix(app, parseSlot(what), rest(in));
    }
    if (op == "paste") {
      std::string what;
      in >> what;
      std::string text = rest(in);
      for (char& c : text) if (c == ';') c = '\n';  // rows separated by ';' on one script line
      return pasteMatrix(app, parseSlot(what), text);
    }
    if (op == "set") {
      std::string key;
      in >> key;
      return setOption(app, key, rest(in));
    }
    if (op == "step") {
      std::string dir;
      in >> dir;
      if (dir == "next") stepNext(app);
      else if (dir == "prev") stepPrev(app);
      else throw Error("step next|prev");
      return true;
    }
    if (op == "next") { stepNext(app); return true; }
    if (op == "prev") { stepPrev(app); return true; }
    if (op == "goto") {  // a stage's name, or its number in stages.hpp's StageId
      std::string which;
      if (!(in >> which)) throw Error("goto STAGE (a name: " + stageNames() + ")");
      if (const auto named = findStage(which)) stepGoto(app, *named);
      else if (!which.empty() && std::isdigit(static_cast<unsigned char>(which[0])))
        stepGoto(app, StageId(std::clamp(std::stoi(which), 0, kStageCount - 1)));
      else throw Error("goto: unknown stage " + which + " (expected one of " + stageNames() + ")");
      return true;
    }
    if (op == "play") { togglePlay(app); return true; }
    if (op == "generate") {  // generate N: N tokens with the sampling settings (set sample-…)
      std::string n;
      int count = 1;
      if (in >> n) {
        std::size_t used = 0;
        try {
          count = std::stoi(n, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != n.size() || count < 1) throw Error("generate N: a whole number of tokens, at least 1 (got " + n + ")");
      }
      return generateTokens(app, count);
    }
    if (op == "clear-generated") { clearGenerated(app); return true; }
    if (op == "patch") return runPatching(app);  // set corrupted TEXT first
    if (op == "model") return setModel(app, rest(in));  // "model" alone: the random toy model
    if (op == "ablate" || op == "restore") {
      int l, h;
      if (!(in >> l >> h)) throw Error(op + " LAYER HEAD");
      setHeadAblated(app, l, h, op == "ablate");
      return true;
    }
    if (op == "layer") {
      int l;
      if (!(in >> l)) throw Error("layer L");
      setLayer(app, l);
      return true;
    }
    if (op == "head") {
      std::string h;
      in >> h;
      selectHead(app, h == "all" ? -1 : std::stoi(h));
      return true;
    }
    if (op == "hover") {
      int r = -1, c = -1, h = -1;
      in >> r >> c;
      if (!(in >> h)) h = app.doc.session.view.head;
      hoverCell(app, r, c, h, true);
      return true;
    }
    if (op == "unhover") { clearHover(app); return true; }
    if (op == "samples") { showSamplesBrowser(app, rest(in) != "close"); return true; }  // the samples browser
    if (op == "pin") { int r = -1, c = -1; in >> r >> c; pinCell(app, r, c); return true; }
    if (op == "unpin") { pinCell(app, -1, -1); return true; }
    if (op == "mask-toggle") { int r = -1, c = -1; in >> r >> c; toggleMaskCell(app, r, c); return true; }
    if (op == "resize") {
      int n, m, dk, dv;
      if (!(in >> n >> m >> dk >> dv)) throw Error("resize N M DK DV");
      return resizeMatrices(app, n, m, dk, dv);
    }
    if (op == "fill") {
      std::string what, kind;
      std::uint64_t seed = 1;
      in >> what >> kind >> seed;
      const FillKind k = kind == "random" ? FillKind::Random : kind == "identity" ? FillKind::Identity
                         : kind == "zeros" ? FillKind::Zeros : throw Error("fill random|identity|zeros");
      fillMatrix(app, parseSlot(what), k, seed);
      return true;
    }
    if (op == "fit") { fitView(app); return true; }
    if (op == "zoom") {
      float f = 1;
      in >> f;
      zoomView(app, f, app.camera.originCol, app.camera.originRow);
      return true;
    }
    if (op == "export-png" || op == "export-svg") return exportFigure(app, rest(in));
    if (op == "export-picture") return exportPictureFigure(app, rest(in));
    if (op == "export-numbers") {
      std::string dir, fmt = "npy";
      in >> dir >> fmt;
      return exportNumbers(app, dir, fmt);
    }
    if (op == "export-series") return exportSeries(app, rest(in));
    if (op == "screenshot") {
      std::string path;
      std::array<int, 4> crop{};
      in >> path >> crop[0] >> crop[1] >> crop[2] >> crop[3];  // optional region x y w h
      screenshot(app, path, crop);
      return true;
    }
    if (op == "wait-frames") { in >> app.automation.waitFrames; return true; }
    if (op == "dump-state") { dumpState(app, rest(in)); return true; }
    if (op == "quit") { quit(app); return true; }
    if (op == "quit-answer") {
      std::string a;
      in >> a;
      answerQuit(app, a == "save" ? QuitAnswer::Save : a == "dont-save" ? QuitAnswer::DontSave
                      : a == "cancel" ? QuitAnswer::Cancel : throw Error("quit-answer save|dont-save|cancel"));
      return true;
    }
    if (op == "replace-answer") {
      std::string a, file;
      in >> a >> file;
      if (!app.replace.asking) throw Error("no sample or session is waiting to replace the document");
      const ReplaceAnswer answer = a == "save" ? ReplaceAnswer::Save : a == "dont-save" ? ReplaceAnswer::DontSave
                                   : a == "cancel" ? ReplaceAnswer::Cancel
                                   : throw Error("replace-answer save [FILE]|dont-save|cancel");
      if (!answerReplace(app, answer, file)) throw Error("the session has no file yet: replace-answer save FILE");
      return !app.messageIsError;
    }
    if (op == "recovery") {
      std::string a;
      in >> a;
      if (!app.recovery.offer) throw Error("no recovery file is on offer");
      if (a == "restore") restoreRecovery(app);
      else if (a == "discard") discardRecovery(app);
      else throw Error("recovery restore|discard");
      return true;
    }
    if (op == "get-model") {  // the dialog's Download button
      showDownloadDialog(app, true);
      return startModelDownload(app, rest(in));
    }
    if (op == "cancel-download") { cancelModelDownload(app); return true; }
    if (op == "wait-download") {  // until the download has finished and its model opened (or failed)
      if (isDownloading(app)) {
        --app.automation.nextLine;
        app.automation.waitFrames = 1;
      }
      return true;
    }
    if (op == "wait-for-file") {
      // A test outside the app says when to go on (after it has seen the recovery file, say).
      std::error_code ec;
      if (!std::filesystem::exists(rest(in), ec)) {
        --app.automation.nextLine;
        app.automation.waitFrames = 1;
      }
      return true;
    }
    if (op == "loop-until") {
      // Long unattended runs (scripts/soak.sh): start the script over until a wall-clock time.
      long long deadline = 0;
      if (!(in >> deadline)) throw Error("loop-until UNIX_SECONDS");
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch()).count();
      if (now < deadline) {
        app.automation.nextLine = 0;
        app.automation.waitFrames = 1;  // at least one frame per pass, never a busy loop
      }
      return true;
    }
    throw Error("unknown action \"" + op + "\"");
  } catch (const std::exception& e) {
    report(app, "script: " + line + ": " + e.what(), true);
    return false;
  }
}

void runScript(AppState& app) {
  Automation& a = app.automation;
  while (a.nextLine < a.script.size() && !app.quitRequested) {
    if (a.waitFrames > 0) { --a.waitFrames; return; }
    if (!a.pendingScreenshot.empty()) return;
    if (isComputing(app.doc)) return;  // let a worker result arrive before the next action
    // A screenshot, dump or export records the result of every edit before it, and goto, hover
    // and pin act on the steps and cells that result has: such a line waits for the frame that
    // computes it (edits in a row still make one computation). A large input's computation is
    // not waited for: its views show the previous result, marked stale, as a user sees them.
    const std::string& next = a.script[a.nextLine];
    const std::string op = next.substr(0, next.find(' '));
    if (resultPending(app.doc) && (op == "screenshot" || op == "dump-state" || op == "save" || op == "goto" ||
                             op == "hover" || op == "pin" || op.rfind("export", 0) == 0))
      return;
    const std::string line = a.script[a.nextLine++];
    if (!runScriptLine(app, line)) {
      std::cerr << "attnviz: " << app.message << "\n";
      a.failed = true;
    }
  }
}

}  // namespace attnviz::gui
