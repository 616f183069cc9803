#version 430
// Fused attention for output-only runs: the n×m matrix never exists. Each invocation owns
// FLASH_ROWS_PER_THREAD query rows of one head (workgroup y) and keeps their Q slices, their
// O accumulators and their running max and sum in registers; the workgroup streams K and V
// through shared memory FLASH_KEYS keys at a time and every invocation walks the same keys.
//
// Why this shape (the previous kernel spread a row over 8 invocations with 16 rows per group):
// - Every shared-memory read in the inner loops has the same address in all invocations
//   (key k, column i), so it is a broadcast: free of bank conflicts on a GPU, and on llvmpipe,
//   which runs a workgroup's invocations as SIMD lanes of one CPU thread, the loads that
//   dominate the cost are amortised over more FMAs. The old layout read one shared value
//   per FMA and reduced each tile's max and sum across lanes through shared memory, with
//   six barriers per 32 keys; this one needs no reductions and two barriers per tile.
// - The online softmax rescales O once per group of 4 keys whose scores sit in one vec4,
//   always (factor 1 when the max did not grow): llvmpipe executes both sides of a branch
//   under a mask anyway, and on a GPU a branch-free update cannot diverge.
// - The cost on a real GPU is registers: d_k + d_v floats of Q and O per row per invocation
//   (128 at d = 64, one row per invocation), so fewer warps fit an SM than with a split row;
//   that is what FlashAttention-style kernels trade for keeping O out of shared memory. Wide
//   heads (d up to 256) spill on a GPU; they are correct, but the full trace suits them.
//
// Set by the host: FLASH_CHUNKS = ceil(max(d_k, d_v) per head / 64), so narrow heads do not
// pay for the widest; FLASH_THREADS (invocations per workgroup); FLASH_ROWS_PER_THREAD.
#define WIDTH4 (FLASH_CHUNKS * 16u)       // vec4s in one head's row of Q, K, V or O
#define FLASH_KEYS (32u / FLASH_CHUNKS)    // keys per tile: K and V tiles take 16 KiB together
#define FLASH_ROWS (FLASH_THREADS * FLASH_ROWS_PER_THREAD)
layout(local_size_x = FLASH_THREADS) in;

#include "attention_common.glsl"
#include "mask.glsl"

layout(std430, binding = 0) readonly buffer Queries { float queries[]; };
layout(std430, binding = 1) readonly buffer Keys { float keys[]; };
layout(std430, binding = 3) readonly buffer Values { float values[]; };
layout(std430, binding = 4) writeonly buffer Output { float outputs[]; };

uniform uint keyWidth;        // d_k of one head
uniform uint valueWidth;      // d_v of one head
uniform uint keyRowStride;    // d_k of all heads
uniform uint valueRowStride;  // d_v of all heads
uniform float scale;

// Zero-padded past the head's width, so the unrolled dot products need no bounds.
shared vec4 keyTile[FLASH_KEYS][WIDTH4];
shared vec4 valueTile[FLASH_KEYS][WIDTH4];

// Four consecutive elements of a row, zeros past `width`.
vec4 loadRow4(uint which, uint base, uint column, uint width) {
  vec4 v = vec4(0.0);
  for (uint c = 0u; c < 4u; ++c) {
    if (column + c < width) {
      if (which == 0u) v[c] = queries[base + column + c];
      else if (which == 1u) v[c] = keys[base + column + c];
      else v[c] = values[base + column + c];
    }
  }
  return v;
}

void main() {
  const uint thread = gl_LocalInvocationIndex;
  const uint head = gl_WorkGroupID.y;
  const uint rowBase = gl_WorkGroupID.x * FLASH_ROWS;
  const float negInf = negativeInfinity();

  vec4 q[FLASH_ROWS_PER_THREAD][WIDTH4];
  vec4 o[FLASH_ROWS_PER_THREAD][WIDTH4];
  float runningMax[FLASH_ROWS_PER_THREAD], runningSum[FLASH_ROWS_PER_THREAD];
  uint query[FLASH_ROWS_PER_THREAD];
  for (uint r = 0u; r < FLASH_ROWS_PER_THREAD; ++r) {
    // Rows of one invocation are FLASH_THREADS apart so neighbouring lanes own neighbouring rows.
    query[r] = rowBase + thread + FLASH_THREADS * r;
    const uint base = query[r] * keyRowStride + head * keyWidth;
    for (uint i = 0u; i < WIDTH4; ++i) {
      // Scale is applied to the finished dot product, as on the CPU (raw·scale, one rounding).
      q[r][i] = query[r] < n ? loadRow4(0u, base, 4u * i, keyWidth) : vec4(0.0);
      o[r][i] = vec4(0.0);
    }
    runningMax[r] = negInf;
    runningSum[r] = 0.0;
  }

  // Under a causal mask no row of this group sees keys past the last row's diagonal.
  uint keyEnd = m;
  if (maskKind == 1) {
    const int lastVisible = int(min(rowBase + FLASH_ROWS, n)) - 1 + (int(m) - int(n));
    keyEnd = uint(clamp(lastVisible + 1, 0, int(m)));
  }

  for (uint keyBase = 0u; keyBase < keyEnd; keyBase += FLASH_KEYS) {
    barrier();  // the previous tile has been read by every invocation
    for (uint e = thread; e < FLASH_KEYS * WIDTH4; e += FLASH_THREADS) {
      const uint k = e / WIDTH4, i = e % WIDTH4, key = keyBase + k;
      keyTile[k][i] = key < m ? loadRow4(1u, key * keyRowStride + head * keyWidth, 4u * i, keyWidth) : vec4(0.0);
      valueTile[k][i] =
          key < m ? loadRow4(2u, key * valueRowStride + head * valueWidth, 4u * i, valueWidth) : vec4(0.0);
    }
    barrier();

    for (uint k4 = 0u; k4 < FLASH_KEYS; k4 += 4u) {
      // Each shared value read below serves every row of this invocation.
      vec4 s[FLASH_ROWS_PER_THREAD];
      for (uint u = 0u; u < 4u; ++u) {
        // Four partial sums, so the adds of one dot product do not wait on each other.
        vec4 partial[FLASH_ROWS_PER_THREAD];
        for (uint r = 0u; r < FLASH_ROWS_PER_THREAD; ++r) partial[r] = vec4(0.0);
        for (uint i = 0u; i < WIDTH4; ++i) {
          const vec4 k = keyTile[k4 + u][i];
          for (uint r = 0u; r < FLASH_ROWS_PER_THREAD; ++r) partial[r] += q[r][i] * k;
        }
        const uint key = keyBase + k4 + u;
        for (uint r = 0u; r < FLASH_ROWS_PER_THREAD; ++r) {
          const bool visible = query[r] < n && key < m && isAllowed(query[r], key);
          s[r][u] = visible ? ((partial[r].x + partial[r].y) + (partial[r].z + partial[r].w)) * scale : negInf;
        }
      }
      vec4 p[FLASH_ROWS_PER_THREAD];
      float factor[FLASH_ROWS_PER_THREAD];
      for (uint r = 0u; r < FLASH_ROWS_PER_THREAD; ++r) {
        const bvec4 visible = notEqual(s[r], vec4(negInf));
        const float newMax = max(runningMax[r], max(max(s[r].x, s[r].y), max(s[r].z, s[r].w)));
        // While every key so far is masked the sum and O are zero and any factor keeps them so;
        // masked cells are selected away, never computed as exp(-inf).
        factor[r] = runningMax[r] == negInf ? 0.0 : exp(runningMax[r] - newMax);
        p[r] = mix(vec4(0.0), exp(mix(vec4(0.0), s[r] - newMax, visible)), visible);
        runningSum[r] = runningSum[r] * factor[r] + ((p[r].x + p[r].y) + (p[r].z + p[r].w));
        runningMax[r] = newMax;
      }
      for (uint i = 0u; i < WIDTH4; ++i) {
        const vec4 v0 = valueTile[k4][i], v1 = valueTile[k4 + 1u][i];
        const vec4 v2 = valueTile[k4 + 2u][i], v3 = valueTile[k4 + 3u][i];
        for (uint r = 0u; r < FLASH_ROWS_PER_THREAD; ++r)
          o[r][i] = o[r][i] * factor[r] + p[r].x * v0 + p[r].y * v1 + p[r].z * v2 + p[r].w * v3;
      }
    }
  }

  for (uint r = 0u; r < FLASH_ROWS_PER_THREAD; ++r) {
    if (query[r] >= n) continue;
    const float inverseSum = runningSum[r] > 0.0 ? 1.0 / runningSum[r] : 0.0;  // fully masked row: zeros
    const uint base = query[r] * valueRowStride + head * valueWidth;
    for (uint i = 0u; i < WIDTH4; ++i)
      for (uint c = 0u; c < 4u; ++c)
        if (4u * i + c < valueWidth) outputs[base + 4u * i + c] = o[r][i][c] * inverseSum;
  }
}
