// Attention bundles as .npz bytes (zip archive, libzip, then each .npy and the bundle checks).
// A parse either throws a one-line Error or returns a bundle whose every number is finite and
// whose shapes agree with each other and with the labels.
#include "bundle.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (const bool allowUnnormalised : {false, true}) {
    attnviz::fuzz::parseOrError([&] {
      attnviz::BundleReadOptions options;
      options.allowUnnormalised = allowUnnormalised;
      const attnviz::AttentionBundle b = attnviz::parseNpzBundle(bytes, "fuzz.npz", options);
      if (b.layers < 1 || b.heads < 1 || b.n < 1 || b.m < 1) attnviz::fuzz::violated("empty bundle returned");
      if (b.attention.size() != size_t(b.layers) * size_t(b.heads)) attnviz::fuzz::violated("attention count");
      for (const attnviz::Matrix& w : b.attention) {
        if (w.rows() != b.n || w.cols() != b.m) attnviz::fuzz::violated("attention shape");
        attnviz::fuzz::checkMatrix(w);
      }
      if (int(b.queryTokens.size()) != b.n || int(b.keyTokens.size()) != b.m) attnviz::fuzz::violated("label count");
      if (b.hasQK && (b.q.size() != size_t(b.layers) || b.k.size() != size_t(b.layers) || b.q[0].rows() != b.n ||
                      b.k[0].rows() != b.m || b.q[0].cols() != b.k[0].cols() || !b.q[0].allFinite()))
        attnviz::fuzz::violated("q/k shapes");
      if (b.mask.size() && (b.mask.rows() != b.n || b.mask.cols() != b.m)) attnviz::fuzz::violated("mask shape");
    });
  }
  return 0;
}
