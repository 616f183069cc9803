#include "document.hpp"

#include <thread>

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
  p.setOptions(doc.session.options);
}

void bumpRevisions(Document& doc, Stage from) {
  if (from <= Stage::Scores) ++doc.scoresRev;
  if (from <= Stage::Scale) ++doc.scaleRev;
  if (from <= Stage::Output) ++doc.outputRev;
}

void afterRun(Document& doc) {
  const AttentionTrace& t = doc.front->trace();
  if (doc.prepared.model && !t.head.empty())
    doc.projected = outputProjection(*doc.prepared.model, t);
  else
    doc.projected.resize(0, 0);
  doc.hasTrace = true;
  doc.lastComputeMs = t.timings.totalMs;
}

}  // namespace

void replaceSession(Document& doc, Session session, std::string path) {
  finishComputation(doc);
  doc.session = std::move(session);
  doc.path = std::move(path);
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

bool isComputing(const Document& doc) { return doc.job.valid(); }

void finishComputation(Document& doc) {
  if (doc.job.valid()) doc.job.wait();
  updateDocument(doc);
}

bool updateDocument(Document& doc) {
  bool changed = false;
  if (doc.job.valid()) {
    if (doc.job.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
    WorkerResult r = doc.job.get();
    doc.error = r.error;
    if (r.error.empty()) {
      std::swap(doc.front, r.pipeline);
      std::swap(doc.frontInputsGen, doc.backInputsGen);
      std::swap(doc.frontValuesGen, doc.backValuesGen);
      bumpRevisions(doc, Stage::Scores);  // the other buffer: every texture is out of date
      afterRun(doc);
      doc.lastComputeMs = r.ms;
    }
    doc.back = std::move(r.pipeline);
    doc.stale = doc.needsRun;
    changed = true;
  }
  if (!doc.needsRun) return changed;
  doc.needsRun = false;
  try {
    if (doc.needsPrepare) {
      doc.prepared = prepare(doc.session);
      doc.needsPrepare = false;
    }
    const long n = doc.prepared.inputs.q.rows(), m = doc.prepared.inputs.k.rows();
    if (n <= kSyncLimit && m <= kSyncLimit) {
      syncPipeline(doc, *doc.front, doc.frontInputsGen, doc.frontValuesGen);
      doc.front->run();
      bumpRevisions(doc, doc.front->lastRecomputedFrom());
      afterRun(doc);
      doc.error.clear();
      doc.stale = false;
      return true;
    }
    syncPipeline(doc, *doc.back, doc.backInputsGen, doc.backValuesGen);
    doc.stale = doc.hasTrace;
    doc.jobStart = std::chrono::steady_clock::now();
    doc.job = std::async(std::launch::async, [p = std::move(doc.back)]() mutable {
      WorkerResult r;
      const auto start = std::chrono::steady_clock::now();
      try {
        p->run();
      } catch (const std::exception& e) {
        r.error = e.what();
      }
      r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      r.pipeline = std::move(p);
      return r;
    });
  } catch (const std::exception& e) {
    doc.error = e.what();
    changed = true;
  }
  return changed;
}

}  // namespace attnviz::gui
