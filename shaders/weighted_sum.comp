#version 430
// O_h = W_h·V_h for a chunk of query rows and heads, written straight into the n×d_v output
// where the heads sit side by side (as the CPU's concatenated matrix).
layout(local_size_x = 16, local_size_y = 16) in;

#include "attention_common.glsl"

layout(std430, binding = 0) readonly buffer Weights { float weights[]; };
layout(std430, binding = 1) readonly buffer Values { float values[]; };
layout(std430, binding = 3) writeonly buffer Output { float outputs[]; };

uniform uint headWidth;  // d_v of one head
uniform uint rowStride;  // d_v of all heads
uniform uint rowBegin;
uniform uint rowCount;
uniform uint headBegin;

uint head() { return headBegin + gl_WorkGroupID.z; }

float loadA(uint row, uint key) {
  if (row >= rowCount || key >= m) return 0.0;
  return weights[(gl_WorkGroupID.z * rowCount + row) * m + key];
}

float loadB(uint key, uint column) {
  if (key >= m || column >= headWidth) return 0.0;
  return values[key * rowStride + head() * headWidth + column];
}

#define GEMM_B_DEPTH_CONTIGUOUS 0
#include "gemm_tile.glsl"

void main() {
  const uint rowBase = gl_WorkGroupID.y * GEMM_TILE;
  const uint columnBase = gl_WorkGroupID.x * GEMM_TILE;
  gemmTile(rowBase, columnBase, m);
  for (int i = 0; i < 4; ++i) {
    const uint row = gemmRow(rowBase, i);
    if (row >= rowCount) continue;
    for (int j = 0; j < 4; ++j) {
      const uint column = gemmColumn(columnBase, j);
      if (column < headWidth)
        outputs[(rowBegin + row) * rowStride + head() * headWidth + column] = gemmAccumulator[i][j];
    }
  }
}
