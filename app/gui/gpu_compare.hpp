#pragma once
// The GPU backend inside the app. It is made on the window's GL context, so it runs on the UI
// thread only, after the CPU engine, for inputs up to kSyncLimit; its trace is compared with
// the CPU's stage by stage. Any failure falls back to the CPU with a note; nothing here throws.
#include <string>

#include "app_state.hpp"

namespace attnviz::gui {

// Makes the backend on the current (window) context, once; fills renderer and unavailable.
void probeGpu(Document& doc);
// Drops the backend (and its GL objects) so the next probe makes a new one, e.g. after the
// buffer limit changed. The window's context must be current.
void releaseGpu(Document& doc);

// After a CPU run on the UI thread: runs the GPU when it is selected and sets gpu.active,
// the timings and the per-stage differences; on failure selects the CPU again with a note.
void compareWithGpu(Document& doc);

// "GPU (llvmpipe …)" when the views show the GPU's trace, else "CPU (Eigen)".
std::string activeBackendName(const Document& doc);

// |CPU − GPU| of one step and head. Cells masked in both traces stay masked (−∞); a cell
// masked in only one of them is +∞. `worst` receives the largest finite difference and where.
struct StepDifference {
  Matrix values;
  float worst = 0;
  int worstRow = -1, worstCol = -1;
  long maskMismatches = 0;
};
StepDifference stepDifference(const Document& doc, StageId step, int head);

}  // namespace attnviz::gui
