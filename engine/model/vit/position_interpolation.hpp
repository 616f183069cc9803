#pragma once
// Position embeddings on a patch grid of another size, as PyTorch's
// interpolate(mode="bicubic", align_corners=False) computes them (what transformers'
// interpolate_pos_encoding calls), in float32.
#include "types.hpp"

namespace attnviz::model {

// `grid`: one row per cell of a rows × cols grid, row-major, one column per channel. Returns
// newRows · newCols rows. antialias=false: the cubic convolution with a = −0.75 and clamped
// taps; antialias=true: torch's antialiased kernel (a = −0.5, its support widened by the scale
// when shrinking, weights normalised over the taps inside the grid).
Matrix interpolateBicubic(const Matrix& grid, int rows, int cols, int newRows, int newCols, bool antialias);

}  // namespace attnviz::model
