#include <unistd.h>

#include <cstdlib>

#include "cli.hpp"
#include "desktop.hpp"

namespace {

// A model's trace is large (SmolLM-135M at n = 1024 keeps 1 GiB of attention weights) and made
// layer by layer: with glibc's defaults each layer's freed scores, and the previous pass's trace,
// go back to the system and are faulted in again, 4 KiB at a time and zeroed by the kernel, and
// the forward pass spent a third of its time in page faults. Transparent huge pages on what
// malloc maps and a heap that keeps up to 4 GiB it has freed took SmolLM's n = 1024 pass from
// 3.6 to 1.8 s and GPT-2's from 1.9 to about 1.1 s (a limit of 1 GiB, below SmolLM's trace, had
// it faulted in again on every pass: 2.1 s). glibc reads these settings only at start-up,
// from GLIBC_TUNABLES, so the first start sets them and executes itself again (the same process,
// so the same PID); a GLIBC_TUNABLES already set, the user's or our own, is kept.
void tuneAllocator(char** argv) {
  if (std::getenv("GLIBC_TUNABLES")) return;
  setenv("GLIBC_TUNABLES",
         "glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: run on with the defaults
}

}  // namespace

int main(int argc, char** argv) {
  tuneAllocator(argv);
  if (attnviz::cli::isCommand(argc, argv)) return attnviz::cli::run(argc, argv);
  return attnviz::runDesktopApp(argc, argv);
}
