#pragma once
// Keeps the trace in step with the session: recomputes only dirty stages, on the UI thread for
// n, m ≤ kSyncLimit and on a worker thread above that.
#include <utility>

#include "app_state.hpp"

namespace attnviz::gui {

void replaceSession(Document& doc, Session session, std::string path);
void markInputsChanged(Document& doc);   // Q, K, V shapes/values or token settings
void markValuesChanged(Document& doc);   // V only (matrices mode): softmax stays cached
void markOptionsChanged(Document& doc);  // options: from Scale on (or all for heads/score)
void markBackendChanged(Document& doc);  // CPU/GPU choice: run again, nothing unsaved

// Called once per frame before the views: collects a finished worker result and starts or runs
// the next computation. Returns true when the trace changed.
bool updateDocument(Document& doc);
// n and m of the current inputs, which the trace catches up with only at the next update (a
// script's line right after `sample` would otherwise size a painted mask for the old document).
std::pair<long, long> sessionShape(const Document& doc);
bool isComputing(const Document& doc);
// An edit awaits a model's forward pass (or loading), which runs on the worker whatever the size.
bool modelPassPending(const Document& doc);
// An edit awaits a result the views will show once computed: one computed in the next frame, or
// a model's pass. Not a large input's, whose views show the previous result, marked stale.
bool resultPending(const Document& doc);
// Waits for a running worker (automation does this before screenshots).
void finishComputation(Document& doc);
// Computes whatever is pending, waiting for workers: exports write the current inputs' numbers.
void bringUpToDate(Document& doc);

}  // namespace attnviz::gui
