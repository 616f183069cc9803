#version 430
// The full trace in two passes over the keys, with no softmax kernel between them and the
// weights never read back:
//   TRACE_PASS 1: S = Q_h·K_hᵀ, written as the raw, scaled and masked stages (the views need
//                 them), while each row's max and sum build up by online softmax.
//   TRACE_PASS 2: S recomputed, exp values and weights written once, O = W·V accumulated in
//                 registers, and the row statistics (entropy, max weight, argmax) finished.
// It trades a second QKᵀ for the stored-S path's softmax kernel (three passes over each row
// with reductions) and its weighted sum reading W back. S is still stored (the views need
// it), so what it saves is reading n×m stages back, not writing them. On llvmpipe it
// measured 1.3× (n = 1024, H = 8) to 1.7× (n = 4096, H = 1) faster than stored S and is the
// default; on a GPU, where re-reading S costs less than recomputing it at d = 64, the stored
// path may win: unmeasured (engine/gpu/README-section.md).
//
// The layout is the flash kernel's (see flash_attention.comp): each invocation owns
// TRACE_ROWS_PER_THREAD query rows of one head of the chunk (workgroup y), keeps their Q (and
// in pass 2 their O) in registers, and every invocation reads the same K and V tile cells
// from shared memory. Stores go one row per lane, so on a GPU they are strided; this path
// is meant for devices where arithmetic, not store bandwidth, is what the trace waits on.
//
// Set by the host: TRACE_PASS, TRACE_CHUNKS = ceil(max(d_k, d_v) per head / 64),
// TRACE_THREADS, TRACE_ROWS_PER_THREAD.
#define WIDTH4 (TRACE_CHUNKS * 16u)
#define TILE_KEYS (32u / TRACE_CHUNKS)
#define TRACE_ROWS (TRACE_THREADS * TRACE_ROWS_PER_THREAD)
layout(local_size_x = TRACE_THREADS) in;

#include "attention_common.glsl"
#include "mask.glsl"

layout(std430, binding = 0) readonly buffer Queries { float queries[]; };
layout(std430, binding = 1) readonly buffer Keys { float keys[]; };
layout(std430, binding = 3) readonly buffer Values { float values[]; };
// Eight blocks at most (GL 4.3's minimum for compute shaders), bindings 0–7.
// Pass 1: raw, scaled and masked scores. Pass 2: exp values, weights and the output.
layout(std430, binding = 4) writeonly buffer StageA { float stageA[]; };
layout(std430, binding = 5) writeonly buffer StageB { float stageB[]; };
#if TRACE_PASS == 1
layout(std430, binding = 6) writeonly buffer StageC { float stageC[]; };
#else
layout(std430, binding = 6) writeonly buffer Output { float outputs[]; };
#endif
// Per row of the chunk. Pass 1 writes (max, sum, 0, 0); pass 2 reads them and writes
// (max, sum, entropy, argmax as float bits; -1 for a fully masked row). The max weight is
// 1 / sum, which the host divides exactly as the CPU does.
layout(std430, binding = 7) buffer RowStats { vec4 rowStats[]; };

uniform uint keyWidth;        // d_k of one head
uniform uint valueWidth;      // d_v of one head
uniform uint keyRowStride;    // d_k of all heads
uniform uint valueRowStride;  // d_v of all heads
uniform uint rowBegin;
uniform uint rowCount;
uniform uint headBegin;
uniform float scale;

shared vec4 keyTile[TILE_KEYS][WIDTH4];
#if TRACE_PASS == 2
shared vec4 valueTile[TILE_KEYS][WIDTH4];
#endif

vec4 loadKey4(uint base, uint column) {
  vec4 v = vec4(0.0);
  for (uint c = 0u; c < 4u; ++c)
    if (column + c < keyWidth) v[c] = keys[base + column + c];
  return v;
}

vec4 loadValue4(uint base, uint column) {
  vec4 v = vec4(0.0);
  for (uint c = 0u; c < 4u; ++c)
    if (column + c < valueWidth) v[c] = values[base + column + c];
  return v;
}

void main() {
  const uint thread = gl_LocalInvocationIndex;
  const uint local = gl_WorkGroupID.y;  // head within the chunk
  const uint head = headBegin + local;
  const float negInf = negativeInfinity();

  vec4 q[TRACE_ROWS_PER_THREAD][WIDTH4];
  uint row[TRACE_ROWS_PER_THREAD];  // within the chunk
  for (uint r = 0u; r < TRACE_ROWS_PER_THREAD; ++r) {
    row[r] = gl_WorkGroupID.x * TRACE_ROWS + thread + TRACE_THREADS * r;
    const uint base = (rowBegin + row[r]) * keyRowStride + head * keyWidth;
    for (uint i = 0u; i < WIDTH4; ++i) {
      vec4 v = vec4(0.0);
      for (uint c = 0u; c < 4u; ++c)
        if (row[r] < rowCount && 4u * i + c < keyWidth) v[c] = queries[base + 4u * i + c];
      q[r][i] = v;
    }
  }

#if TRACE_PASS == 1
  float runningMax[TRACE_ROWS_PER_THREAD], runningSum[TRACE_ROWS_PER_THREAD];
  for (uint r = 0u; r < TRACE_ROWS_PER_THREAD; ++r) {
    runningMax[r] = negInf;
    runningSum[r] = 0.0;
  }
#else
  float rowMax[TRACE_ROWS_PER_THREAD], inverseSum[TRACE_ROWS_PER_THREAD];
  float weighted[TRACE_ROWS_PER_THREAD];  // Σ w·(x − max) over unmasked cells, for the entropy
  int argmax[TRACE_ROWS_PER_THREAD];
  float best[TRACE_ROWS_PER_THREAD];
  vec4 o[TRACE_ROWS_PER_THREAD][WIDTH4];
  for (uint r = 0u; r < TRACE_ROWS_PER_THREAD; ++r) {
    const vec4 stats = row[r] < rowCount ? rowStats[local * rowCount + row[r]] : vec4(negInf, 0.0, 0.0, 0.0);
    rowMax[r] = stats.x;
    inverseSum[r] = stats.y > 0.0 ? 1.0 / stats.y : 0.0;  // as the CPU: weights = exp · (1 / sum)
    weighted[r] = 0.0;
    argmax[r] = -1;
    best[r] = negInf;
    for (uint i = 0u; i < WIDTH4; ++i) o[r][i] = vec4(0.0);
  }
#endif

  for (uint keyBase = 0u; keyBase < m; keyBase += TILE_KEYS) {
    barrier();  // the previous tile has been read by every invocation
    for (uint e = thread; e < TILE_KEYS * WIDTH4; e += TRACE_THREADS) {
      const uint k = e / WIDTH4, i = e % WIDTH4, key = keyBase + k;
      keyTile[k][i] = key < m ? loadKey4(key * keyRowStride + head * keyWidth, 4u * i) : vec4(0.0);
#if TRACE_PASS == 2
      valueTile[k][i] = key < m ? loadValue4(key * valueRowStride + head * valueWidth, 4u * i) : vec4(0.0);
#endif
    }
    barrier();

    const uint tileEnd = min(TILE_KEYS, m - keyBase);
    for (uint k = 0u; k < tileEnd; ++k) {
      const uint key = keyBase + k;
      float raw[TRACE_ROWS_PER_THREAD];
      {
        // Each shared value read serves every row of this invocation.
        vec4 partial[TRACE_ROWS_PER_THREAD];
        for (uint r = 0u; r < TRACE_ROWS_PER_THREAD; ++r) partial[r] = vec4(0.0);
        for (uint i = 0u; i < WIDTH4; ++i) {
          const vec4 kv = keyTile[k][i];
          for (uint r = 0u; r < TRACE_ROWS_PER_THREAD; ++r) partial[r] += q[r][i] * kv;
        }
        for (uint r = 0u; r < TRACE_ROWS_PER_THREAD; ++r)
          raw[r] = (partial[r].x + partial[r].y) + (partial[r].z + partial[r].w);
      }
#if TRACE_PASS == 2
      vec4 p[TRACE_ROWS_PER_THREAD];
#endif
      for (uint r = 0u; r < TRACE_ROWS_PER_THREAD; ++r) {
        const bool inside = row[r] < rowCount;
        const uint cell = (local * rowCount + row[r]) * m + key;
        const float scaled = raw[r] * scale;  // one rounding, as the CPU
        const bool visible = isAllowed(rowBegin + row[r], key);
        const float masked = visible ? scaled : negInf;
#if TRACE_PASS == 1
        if (inside) {
          stageA[cell] = raw[r];
          stageB[cell] = scaled;
          stageC[cell] = masked;
        }
        // Per key rather than per tile: the trace's stores dominate this pass anyway.
        const float newMax = max(runningMax[r], masked);
        const float factor = runningMax[r] == negInf ? 0.0 : exp(runningMax[r] - newMax);
        runningSum[r] = runningSum[r] * factor + (visible ? exp(masked - newMax) : 0.0);
        runningMax[r] = newMax;
#else
        // Masked cells are selected away, never computed as exp(-inf).
        const float shifted = visible ? masked - rowMax[r] : 0.0;
        const float e = visible ? exp(shifted) : 0.0;
        const float w = e * inverseSum[r];
        if (inside) {
          stageA[cell] = e;
          stageB[cell] = w;
        }
        if (w > 0.0) weighted[r] += w * shifted;
        // The largest weight is at the row's largest score; the first such key, as the CPU.
        if (visible && masked > best[r]) {
          best[r] = masked;
          argmax[r] = int(key);
        }
        p[r] = vec4(w);
#endif
      }
#if TRACE_PASS == 2
      for (uint i = 0u; i < WIDTH4; ++i) {
        const vec4 v = valueTile[k][i];
        for (uint r = 0u; r < TRACE_ROWS_PER_THREAD; ++r) o[r][i] += p[r] * v;
      }
#endif
    }
  }

  for (uint r = 0u; r < TRACE_ROWS_PER_THREAD; ++r) {
    if (row[r] >= rowCount) continue;
    const uint slot = local * rowCount + row[r];
#if TRACE_PASS == 1
    rowStats[slot] = vec4(runningMax[r], runningSum[r], 0.0, 0.0);
#else
    const vec4 stats = rowStats[slot];
    // A fully masked row (max -inf) keeps sum 0, entropy 0 and argmax -1, as the CPU.
    const float entropy = stats.x == negInf ? 0.0 : max(0.0, log(stats.y) - weighted[r]);
    rowStats[slot] = vec4(stats.x, stats.y, entropy, intBitsToFloat(argmax[r]));
    const uint base = (rowBegin + row[r]) * valueRowStride + head * valueWidth;
    for (uint i = 0u; i < WIDTH4; ++i)
      for (uint c = 0u; c < 4u; ++c)
        if (4u * i + c < valueWidth) outputs[base + 4u * i + c] = o[r][i][c];
#endif
  }
}
