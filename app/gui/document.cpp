#include "document.hpp"

#include <optional>
#include <thread>

#include "gpu_compare.hpp"
#include "tokens.hpp"

namespace attnviz::gui {

namespace {

using Clock = std::chrono::steady_clock;

void touched(Document& doc) {
  doc.needsRun = true;
  doc.unsaved = true;
  doc.recoveryWritten = false;
  doc.lastEdit = Clock::now();
}

// Brings `p` up to date with the document's inputs and options, using the cheapest setter.
void syncPipeline(Document& doc, AttentionPipeline& p, std::uint64_t& inputsGen,
                  std::uint64_t& valuesGen) {
  if (inputsGen != doc.inputsGen) {
    p.setInputs(doc.prepared.inputs);
  } else if (valuesGen != doc.valuesGen) {
    p.setValues(doc.prepared.inputs.v);
  }
  inputsGen = doc.inputsGen;
  valuesGen = doc.valuesGen;
  // A model layer's own mask: a sliding window shorter than the text (Mistral, Qwen2).
  p.setOptions(modelLayerOptions(doc.prepared, doc.session.options));
}

void bumpRevisions(Document& doc, Stage from) {
  if (from <= Stage::Scores) ++doc.scoresRev;
  if (from <= Stage::Scale) ++doc.scaleRev;
  if (from <= Stage::Output) ++doc.outputRev;
}

void afterRun(Document& doc) {
  doc.hasTrace = true;
  doc.lastComputeMs = doc.gpu.active ? doc.gpu.gpuMs : doc.front->trace().timings.totalMs;
  doc.givenDifference = WeightsDifference{-1};
  if (doc.prepared.bundle && doc.prepared.bundle->hasQK && doc.prepared.viewedLayer >= 0)
    doc.givenDifference = compareWithGiven(doc.front->trace(), *doc.prepared.bundle, doc.prepared.viewedLayer);
}

// A bundle of weights alone: its trace was made when the layer was prepared; nothing runs.
void showGivenTrace(Document& doc) {
  doc.givenTrace = doc.prepared.givenTrace;
  doc.gpu.active = false;
  bumpRevisions(doc, Stage::Scores);
  doc.hasTrace = true;
  doc.lastComputeMs = 0;
  doc.givenDifference = WeightsDifference{-1};
  doc.error.clear();
  doc.stale = false;
}

}  // namespace

// n and m without projecting tokens: tokenising is cheap, projecting thousands of them is not.
std::pair<long, long> sessionShape(const Document& doc) {
  if (!doc.needsPrepare) return {long(doc.prepared.inputs.q.rows()), long(doc.prepared.inputs.k.rows())};
  const Session& s = doc.session;
  if (s.mode == InputMode::Matrices) return {long(s.matrices.q.rows()), long(s.matrices.k.rows())};
  const long n = long(tokenize(s.tokens.text, s.tokens.tokenizer).size());
  const long m = s.tokens.source.empty() ? n : long(tokenize(s.tokens.source, s.tokens.tokenizer).size());
  return {n, m};
}

namespace {

void collectWorkerResult(Document& doc) {
  WorkerResult r = doc.job.get();
  Document::WorkerRun& run = doc.workerRuns.back();
  run.endFrame = doc.frame;
  run.ms = r.ms;
  doc.error = r.error;
  if (r.error.empty()) {
    std::swap(doc.front, r.pipeline);
    doc.backInputsGen = doc.frontInputsGen;
    doc.backValuesGen = doc.frontValuesGen;
    doc.frontInputsGen = r.inputsGen;
    doc.frontValuesGen = r.valuesGen;
    if (r.prepared) {
      doc.prepared = std::move(*r.prepared);
      doc.givenTrace.reset();  // workers never prepare a bundle of weights alone (its n, m read 0)
      // A V edit made meanwhile went into the previous prepared inputs: prepare again.
      if (doc.valuesGen != r.valuesGen) doc.needsPrepare = true;
    }
    const bool large = r.pipeline && (doc.front->trace().n > kSyncLimit || doc.front->trace().m > kSyncLimit);
    // A model's forward pass ran there for its own sake: small layers still get the GPU's run
    // (and its comparison) on the UI thread, from the prepared inputs.
    if (!large && doc.gpu.selected == BackendKind::Gpu) doc.needsRun = true;
    if (large && doc.gpu.selected == BackendKind::Gpu)
      doc.gpu.note = "n or m above " + std::to_string(kSyncLimit) +
                     ": computed by the CPU on a worker thread (the GPU shares the window's context, "
                     "so it runs only on the UI thread, for inputs up to " + std::to_string(kSyncLimit) + ")";
    doc.gpu.active = false;
    doc.gpu.cpuMs = r.ms;
    bumpRevisions(doc, Stage::Scores);  // the other buffer: every texture is out of date
    afterRun(doc);
    doc.lastComputeMs = r.ms;
  } else {
    // Whatever the failed job did to its pipeline, the next one gives it all inputs again.
    doc.backInputsGen = doc.backValuesGen = 0;
    if (r.prepared) doc.needsPrepare = true;
  }
  doc.back = std::move(r.pipeline);
  doc.stale = doc.needsRun;
}

void startWorker(Document& doc, long n, long m) {
  std::optional<Session> session;
  if (doc.needsPrepare) session = doc.session;
  doc.needsPrepare = false;
  const bool newInputs = session || doc.backInputsGen != doc.inputsGen;
  const bool newValues = doc.backValuesGen != doc.valuesGen;
  AttentionInputs inputs = session ? AttentionInputs{} : doc.prepared.inputs;
  WorkerResult base;
  base.inputsGen = doc.inputsGen;
  base.valuesGen = doc.valuesGen;
  doc.stale = doc.hasTrace;
  doc.jobStart = Clock::now();
  doc.workerRuns.push_back({doc.frame, -1, 0, n, m});
  // A layer prepared here runs with its own mask (sliding window); one prepared there, below.
  AttentionOptions runOptions = session ? doc.session.options : modelLayerOptions(doc.prepared, doc.session.options);
  doc.job = std::async(std::launch::async, [p = std::move(doc.back), session = std::move(session),
                                            inputs = std::move(inputs), options = std::move(runOptions),
                                            newInputs, newValues, r = std::move(base)]() mutable {
    const auto start = Clock::now();
    try {
      if (session) {
        r.prepared = prepare(*session);
        inputs = r.prepared->inputs;
      }
      if (newInputs) p->setInputs(std::move(inputs));
      else if (newValues) p->setValues(std::move(inputs.v));
      p->setOptions(r.prepared ? modelLayerOptions(*r.prepared, options) : options);
      p->run();
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    r.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    r.pipeline = std::move(p);
    return std::move(r);
  });
}

bool update(Document& doc) {
  bool changed = false;
  if (doc.job.valid()) {
    if (doc.job.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
    collectWorkerResult(doc);
    changed = true;
  }
  if (!doc.needsRun) return changed;
  doc.needsRun = false;
  try {
    const auto [n, m] = sessionShape(doc);
    // Loading a model and its forward pass take seconds for a large checkpoint or a long text:
    // they run on the worker whatever n is, and the views keep the previous result meanwhile.
    if (n > kSyncLimit || m > kSyncLimit || modelPassPending(doc)) {
      startWorker(doc, n, m);
      return changed;
    }
    if (doc.needsPrepare) {
      doc.prepared = prepare(doc.session);
      doc.needsPrepare = false;
    }
    if (doc.prepared.givenTrace) {
      showGivenTrace(doc);
      return true;
    }
    doc.givenTrace.reset();
    syncPipeline(doc, *doc.front, doc.frontInputsGen, doc.frontValuesGen);
    doc.front->run();
    bumpRevisions(doc, doc.front->lastRecomputedFrom());
    const bool gpuBefore = doc.gpu.active;
    doc.gpu.note.clear();
    compareWithGpu(doc);
    if (doc.gpu.active || gpuBefore) bumpRevisions(doc, Stage::Scores);  // another trace is shown
    afterRun(doc);
    doc.error.clear();
    doc.stale = false;
    return true;
  } catch (const std::exception& e) {
    doc.error = e.what();
    changed = true;
  }
  return changed;
}

}  // namespace

void replaceSession(Document& doc, Session session, std::string path) {
  finishComputation(doc);
  doc.session = std::move(session);
  doc.path = std::move(path);
  doc.sample.clear();
  doc.givenTrace.reset();  // the previous bundle's weights are not the new document's
  markInputsChanged(doc);
  doc.unsaved = false;
  doc.recoveryWritten = true;
}

void markInputsChanged(Document& doc) {
  ++doc.inputsGen;
  doc.needsPrepare = true;
  touched(doc);
}

void markValuesChanged(Document& doc) {
  ++doc.valuesGen;
  doc.prepared.inputs.v = doc.session.matrices.v;
  touched(doc);
}

void markOptionsChanged(Document& doc) { touched(doc); }

void markBackendChanged(Document& doc) { doc.needsRun = true; }

bool isComputing(const Document& doc) { return doc.job.valid(); }

bool modelPassPending(const Document& doc) {
  return doc.needsRun && doc.needsPrepare && doc.session.mode == InputMode::Tokens && !doc.session.tokens.model.empty();
}

bool resultPending(const Document& doc) {
  if (!doc.needsRun) return false;
  if (modelPassPending(doc)) return true;
  try {
    const auto [n, m] = sessionShape(doc);
    return n <= kSyncLimit && m <= kSyncLimit;
  } catch (const std::exception&) {
    return true;  // the next update reports the error
  }
}

void finishComputation(Document& doc) {
  if (doc.job.valid()) doc.job.wait();
  update(doc);
}

void bringUpToDate(Document& doc) {
  while (doc.needsRun || doc.job.valid()) finishComputation(doc);
}

bool updateDocument(Document& doc) {
  ++doc.frame;
  return update(doc);
}

}  // namespace attnviz::gui
