#version 430
// S = Q_h·K_hᵀ for a chunk of query rows and heads (head = headBegin + workgroup z). Writes
// the three score stages of the trace as S leaves the registers: raw, scaled (raw·scale, the
// same single rounding as the CPU) and masked (scaled, or -inf where the mask hides the key).
layout(local_size_x = 16, local_size_y = 16) in;

#include "attention_common.glsl"
#include "mask.glsl"

layout(std430, binding = 0) readonly buffer Queries { float queries[]; };
layout(std430, binding = 1) readonly buffer Keys { float keys[]; };
layout(std430, binding = 3) writeonly buffer Scores { float scores[]; };
layout(std430, binding = 4) writeonly buffer Scaled { float scaled[]; };
layout(std430, binding = 5) writeonly buffer Masked { float masked[]; };

uniform uint headWidth;  // d_k of one head
uniform uint rowStride;  // d_k of all heads: Q and K rows hold every head side by side
uniform uint rowBegin;
uniform uint rowCount;
uniform uint headBegin;
uniform float scale;

uint head() { return headBegin + gl_WorkGroupID.z; }

float loadA(uint row, uint depth) {
  if (row >= rowCount || depth >= headWidth) return 0.0;
  return queries[(rowBegin + row) * rowStride + head() * headWidth + depth];
}

float loadB(uint depth, uint key) {
  if (key >= m || depth >= headWidth) return 0.0;
  return keys[key * rowStride + head() * headWidth + depth];
}

#define GEMM_B_DEPTH_CONTIGUOUS 1
#include "gemm_tile.glsl"

void main() {
  const uint rowBase = gl_WorkGroupID.y * GEMM_TILE;
  const uint keyBase = gl_WorkGroupID.x * GEMM_TILE;
  gemmTile(rowBase, keyBase, headWidth);
  for (int i = 0; i < 4; ++i) {
    const uint row = gemmRow(rowBase, i);
    if (row >= rowCount) continue;
    const uint rowOffset = (gl_WorkGroupID.z * rowCount + row) * m;
    for (int j = 0; j < 4; ++j) {
      const uint key = gemmColumn(keyBase, j);
      if (key >= m) continue;
      const float raw = gemmAccumulator[i][j];
      const float value = raw * scale;
      scores[rowOffset + key] = raw;
      scaled[rowOffset + key] = value;
      masked[rowOffset + key] = isAllowed(rowBegin + row, key) ? value : negativeInfinity();
    }
  }
}
