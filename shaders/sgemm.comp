#version 430
// A plain batched C = A·B (row-major, batch = workgroup z): the yardstick the attention
// kernels are measured against, built from the same tile code.
layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) readonly buffer MatrixA { float matrixA[]; };
layout(std430, binding = 1) readonly buffer MatrixB { float matrixB[]; };
layout(std430, binding = 3) writeonly buffer MatrixC { float matrixC[]; };

uniform uint rows;
uniform uint columns;
uniform uint depth;

float loadA(uint row, uint d) {
  if (row >= rows || d >= depth) return 0.0;
  return matrixA[(gl_WorkGroupID.z * rows + row) * depth + d];
}

float loadB(uint d, uint column) {
  if (d >= depth || column >= columns) return 0.0;
  return matrixB[(gl_WorkGroupID.z * depth + d) * columns + column];
}

#define GEMM_B_DEPTH_CONTIGUOUS 0
#include "gemm_tile.glsl"

void main() {
  const uint rowBase = gl_WorkGroupID.y * GEMM_TILE;
  const uint columnBase = gl_WorkGroupID.x * GEMM_TILE;
  gemmTile(rowBase, columnBase, depth);
  for (int i = 0; i < 4; ++i) {
    const uint row = gemmRow(rowBase, i);
    if (row >= rows) continue;
    for (int j = 0; j < 4; ++j) {
      const uint column = gemmColumn(columnBase, j);
      if (column < columns) matrixC[(gl_WorkGroupID.z * rows + row) * columns + column] = gemmAccumulator[i][j];
    }
  }
}
