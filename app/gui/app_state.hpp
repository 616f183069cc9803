#pragma once
// The desktop app's state: one plain struct the views read and the actions (actions.hpp) change.
// No GL and no ImGui here, so actions and scripts can be reasoned about on their own.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "attention.hpp"
#include "backend.hpp"
#include "figure/colormap.hpp"
#include "bundle_session.hpp"
#include "generation.hpp"
#include "patching.hpp"
#include "session.hpp"
#include "stages.hpp"

namespace attnviz::gui {

// The step-through is the engine's stage registry (stages.hpp); Session.view.step is a StageId.

enum class ColormapId { Viridis, Magma, Cividis, RdBu };
inline constexpr int kColormapCount = 4;

// Result of a computation done off the UI thread. Tokens are prepared there too, since
// projecting thousands of tokens is as slow as the attention itself.
struct WorkerResult {
  std::unique_ptr<AttentionPipeline> pipeline;
  std::optional<PreparedSession> prepared;  // set when the job had to prepare the session
  std::uint64_t inputsGen = 0, valuesGen = 0;  // the edits the job saw
  std::string error;
  double ms = 0;
};

enum class BackendKind { Cpu, Gpu };

// The GPU backend beside the CPU engine. It runs on the window's GL context, so only on the UI
// thread; the CPU engine still runs on every update as the reference the GPU is compared with.
struct GpuCompare {
  BackendKind selected = BackendKind::Cpu;
  std::unique_ptr<Backend> backend;  // made on the window's context at the first probe
  bool probed = false;
  std::string renderer;              // GL_RENDERER, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
  std::string unavailable;           // why the GPU cannot run here; "" when it can
  std::string note;                  // why the current result comes from the CPU after all
  std::uint64_t bufferLimit = 0;     // GpuSettings::stageBufferLimitBytes (0: the driver's)
  bool active = false;               // the views show `trace` (the GPU's, for current inputs)
  AttentionTrace trace;
  double cpuMs = 0, gpuMs = 0;
  std::map<std::string, float> maxDiff;  // stage name → max |CPU − GPU| over all heads
  std::uint64_t rev = 0;             // bumped with every GPU result
};

// The document, in three parts that change for different reasons: what the user edits
// (EditModel), what the engine made of it (ComputeJob, document.hpp keeps it in step) and
// where it lives on disk (FileState, with the recovery file: recovery.hpp, replace.hpp).
struct EditModel {
  Session session;
  PreparedSession prepared;  // labels, token model, Q/K/V (and W_O in token mode)
  std::uint64_t inputsGen = 1, valuesGen = 1;  // bumped by every edit of the inputs / of V
  bool needsPrepare = true;  // session inputs changed: rebuild tokens / projections
  bool needsRun = true;      // inputs or options changed since the last computation
};

struct ComputeJob {
  // Two pipelines so a large input can be computed off the UI thread while the views keep
  // showing the previous result; each remembers which edits it has seen (generations).
  std::unique_ptr<AttentionPipeline> front = std::make_unique<AttentionPipeline>();
  std::unique_ptr<AttentionPipeline> back = std::make_unique<AttentionPipeline>();
  std::uint64_t frontInputsGen = 0, frontValuesGen = 0, backInputsGen = 0, backValuesGen = 0;
  bool hasTrace = false;
  std::string error;         // the last engine error, shown instead of silently keeping old views
  // Bumped whenever a stage group was recomputed; textures re-upload only when these move.
  std::uint64_t scoresRev = 0, scaleRev = 0, outputRev = 0;
  double lastComputeMs = 0;
  // Off-thread computation (n or m above kSyncLimit).
  std::future<WorkerResult> job;
  std::chrono::steady_clock::time_point jobStart;
  bool stale = false;        // views show an older result than the inputs
  GpuCompare gpu;
  // Frames in which the main loop updated the document (one per frame, from 0), and the worker
  // runs by frame: --dump-state lists them so tests can check the UI kept drawing meanwhile.
  long frame = -1;
  struct WorkerRun { long startFrame = 0, endFrame = -1; double ms = 0; long n = 0, m = 0; };
  std::vector<WorkerRun> workerRuns;

  // An attention bundle of weights alone: the viewed layer's trace made from the given weights
  // (nothing to compute); null otherwise.
  std::shared_ptr<const AttentionTrace> givenTrace;
  // A bundle with Q and K: the largest |recomputed − given| weight of the viewed layer under the
  // current options (maxAbs < 0: nothing compared).
  WeightsDifference givenDifference{-1};

  // What the views show: the selected backend's trace (every stage, heads · W_O included).
  const AttentionTrace& trace() const { return givenTrace ? *givenTrace : gpu.active ? gpu.trace : front->trace(); }
  // The CPU engine's trace, the reference that files are written from.
  const AttentionTrace& cpuTrace() const { return givenTrace ? *givenTrace : front->trace(); }
};

struct FileState {
  std::string path;          // where the session was loaded from / saved to ("" for samples)
  std::string sample;        // the built-in sample it was loaded from (names it in figure titles)
  bool unsaved = false;
  std::chrono::steady_clock::time_point lastEdit;
  bool recoveryWritten = true;
};

struct Document : EditModel, ComputeJob, FileState {};

inline constexpr int kSyncLimit = 1024;

// Hovered and pinned cells; the pinned one is Session.view.selectedRow/Col.
struct Hover {
  int row = -1, col = -1;
  int head = -1;             // the head under the mouse in the all-heads grid
  bool fromScript = false;   // a scripted hover stays until replaced, the mouse one per frame
};

struct HeatmapCamera {
  bool fit = true;
  float cellPx = 24;          // size of one cell on screen when not fitted
  float originCol = 0, originRow = 0;  // matrix coordinate at the view's top-left corner
};

// Where the main heatmap landed on screen in the last frame (for the screenshot sidecar that
// the pixel tests read, and for scripted hovers).
struct HeatmapGeometry {
  bool valid = false;
  float x0 = 0, y0 = 0, cellW = 0, cellH = 0;  // screen position of cell (0,0)'s corner
  float clipX0 = 0, clipY0 = 0, clipX1 = 0, clipY1 = 0;
  int rows = 0, cols = 0;
  float vmin = 0, vmax = 1;
  ColormapId colormap = ColormapId::Viridis;
  int step = 0, head = 0;
};

struct ViewSettings {
  ColormapId sequential = ColormapId::Viridis;  // for weights and exp values
  bool divergingForSigned = true;
  bool probabilitiesZeroToOne = false;          // weights on [0, 1] instead of [0, max] for contrast               // scores and outputs use the RdBu map centred on 0
  bool showValues = true;                       // numbers inside cells large enough for them
  bool paintMask = false;                       // clicks on the Mask step toggle mask cells
  bool playing = false;
  float playStepsPerSecond = 1.0f;
  double playAccumulator = 0;
  float linesThreshold = 0.05f;
  // The lines view: the heads drawn (bit h: head h; 0: the focused head alone) and, for a
  // sentence pair, which lines: every line, or A→A, A→B, B→A, B→B (query's → key's sentence).
  std::uint64_t linesHeads = 0;
  enum class SentenceLines { All, AA, AB, BA, BB } linesSentences = SentenceLines::All;
  float exportScale = 1.0f;                     // figure size factor for PNG/SVG export
  int linesFilterQuery = -1, linesFilterKey = -1;
  bool showInputs = true, showLinked = true;
  int highlightKvHead = -1;                     // GQA: the K/V head whose query heads are outlined
  ColourScale colourScale = ColourScale::Linear;  // log or per-row colours for exp and weights
  bool allTerms = false;                        // derivations write out every term of a sum
};

struct FileChooser {
  bool open = false;
  enum class Purpose { OpenSession, OpenImage, ExportPicture, SaveSession, ExportPng, ExportSvg, ExportNumbers, ExportSeries,
                       LoadMatrixQ, LoadMatrixK, LoadMatrixV, LoadMask, OpenAttention } purpose = Purpose::OpenSession;
  std::string directory;
  std::string fileName;
  std::string error;
  bool allowUnnormalised = false;  // Open attention: rows that do not sum to 1 are shown as given
};

struct Automation {
  std::vector<std::string> script;      // remaining lines of --script
  std::size_t nextLine = 0;
  std::string scriptPath;
  int waitFrames = 0;
  int maxFrames = -1;                   // --frames N
  std::string screenshotAtExit;         // --screenshot FILE
  std::string frameStatsPath;           // --frame-stats FILE
  std::string dumpStatePath;            // --dump-state FILE: JSON of the state at quit
  std::vector<double> frameMs;
  // A screenshot waits one frame so auto-sized windows settle, then reads the back buffer.
  std::string pendingScreenshot;
  std::array<int, 4> screenshotCrop{0, 0, 0, 0};  // x, y, w, h in window pixels; w = 0: whole window
  int screenshotCountdown = -1;
  bool failed = false;
};

// Unsaved work survives a crash (the recovery file, a few seconds behind the edits), a quit and
// a replaced document (the question Save / Don't save / Cancel). All are off when path is empty
// (--no-recovery and automated runs without --recovery). recovery.hpp has the functions.
struct Recovery {
  std::string path;              // this process's own file, recovery-<pid>.json
  int lockFd = -1;               // held while running: tells other windows this file is alive
  double intervalSeconds = 2.0;  // the file is at most this far behind the edits
  bool offer = false;            // a file left by a run that ended awaits Restore or Discard
  std::string offerPath;         // that file
  int offerLockFd = -1;          // its lock, held so no other window offers it at the same time
  std::string offerWhen;         // when that file was written, for the question
  bool onDisk = false;           // this run's edits are in the file
  bool pending = false;          // edits not yet in the file, the oldest made at pendingSince
  std::chrono::steady_clock::time_point pendingSince;
  bool writeFailed = false;
  bool askQuit = false;          // quit requested with unsaved edits: the question is showing
  bool quitAfterSave = false;    // the question's Save opened the file chooser
};

// A sample or session that would replace a document with unsaved edits waits here while the
// question Save / Don't save / Cancel is showing (replace.hpp).
struct PendingReplace {
  bool asking = false;
  bool afterSave = false;          // the question's Save opened the file chooser
  std::optional<Session> session;  // already read, so a broken file is refused before asking
  std::string path;                // where it came from ("" for a sample)
  std::string sample;              // the sample's name, for figure titles
  std::string what;                // "sample “pronoun”" or the path, for the question
};

// "Get a model…": a download from the Hugging Face Hub on a worker thread (model_download.hpp).
struct ModelDownload {
  struct Progress {  // written by the worker, read by the dialog
    std::atomic<bool> cancel{false};
    std::atomic<std::uint64_t> done{0}, total{0};
    std::mutex fileMutex;
    std::string file;
  };
  struct Outcome {
    std::string repoId, folder, error;
  };
  bool dialogOpen = false;
  std::string name;  // the dialog's name box
  std::shared_ptr<Progress> progress;
  std::future<Outcome> job;  // valid while downloading
  std::string error;         // the last download's failure, one line
};

// "Next token" / "Generate N" (a decoder): the sampling settings and what the last press drew.
struct GenerationState {
  model::SamplingOptions sampling;
  int count = 8;                              // Generate N
  std::vector<model::SampledToken> lastSteps; // the last press's tokens, for the predictions panel
};

// Activation patching between the text (clean) and a corrupted prompt of the same length.
struct PatchingState {
  std::string corrupted;         // the corrupted prompt's text
  std::string target, contrast;  // tokens ("#ID" or one token's text); empty: the runs' top guesses
  std::optional<model::PatchingResult> result;
  std::vector<int> cleanIds;     // the ids the result is for (a changed text makes it stale)
  std::vector<std::string> cleanTokens;
};

struct AppState {
  Document doc;
  GenerationState generation;
  PatchingState patching;
  Hover hover;      // last frame's hovered cell (what the views show)
  Hover hoverNext;  // collected while drawing this frame
  HeatmapCamera camera;
  HeatmapGeometry geometry;
  ViewSettings view;
  FileChooser chooser;
  Automation automation;
  bool quitRequested = false;
  bool showSamples = false;
  bool showAbout = false;
  Recovery recovery;
  PendingReplace replace;
  ModelDownload download;
  long glErrors = -1;  // GL_DEBUG_TYPE_ERROR messages so far (gl_debug.hpp); -1: not counted
  std::string message;  // last action's outcome, shown in the status bar
  bool messageIsError = false;
  std::chrono::steady_clock::time_point messageTime;
  float uiScale = 1.0f;
  long frameIndex = 0;
  double lastFrameMs = 0;
  // Screen rectangles of a few widgets (x0, y0, x1, y1), written by --dump-state so the
  // xdotool test knows where to click without hard-coding the layout.
  std::map<std::string, std::array<float, 4>> widgetRects;
};

}  // namespace attnviz::gui
