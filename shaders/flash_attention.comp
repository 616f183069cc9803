#version 430
// Fused attention for output-only runs: each workgroup owns FLASH_ROWS query rows of one head
// (workgroup y) and streams K and V through shared memory FLASH_KEYS keys at a time, keeping a
// running max and sum per row (online softmax) and O in registers. The n×m matrix never exists.
//
// FLASH_CHUNKS (set by the host) = ceil(max(d_k, d_v) per head / 64): Q and O are held for
// that many 64-wide chunks, so narrow heads do not pay for the widest one.
#define FLASH_ROWS 16u
#define FLASH_KEYS 32u
#define FLASH_THREADS 128u
#define THREADS_PER_ROW 8u   // FLASH_THREADS / FLASH_ROWS
#define CHUNK 64u
layout(local_size_x = 128) in;

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

// Row strides one longer than the data so the rows a warp reads sit in different banks.
shared float queryTile[FLASH_ROWS][FLASH_CHUNKS * CHUNK + 1u];
shared float keyValueTile[FLASH_KEYS][CHUNK + 1u];
shared float probabilities[FLASH_ROWS][FLASH_KEYS + 1u];
// Each lane's partial max and sum for its row; every lane of a row then combines the same
// eight values in the same order, so all eight keep identical running statistics in registers.
shared float laneMax[FLASH_ROWS][THREADS_PER_ROW];
shared float laneSum[FLASH_ROWS][THREADS_PER_ROW];

void main() {
  const uint thread = gl_LocalInvocationIndex;
  const uint head = gl_WorkGroupID.y;
  const uint rowBase = gl_WorkGroupID.x * FLASH_ROWS;
  const uint localRow = thread / THREADS_PER_ROW;  // the row this thread scores and accumulates
  const uint lane = thread % THREADS_PER_ROW;
  const uint query = rowBase + localRow;
  const float negInf = negativeInfinity();

  for (uint e = thread; e < FLASH_ROWS * FLASH_CHUNKS * CHUNK; e += FLASH_THREADS) {
    const uint r = e / (FLASH_CHUNKS * CHUNK), c = e % (FLASH_CHUNKS * CHUNK);
    queryTile[r][c] = (rowBase + r < n && c < keyWidth)
                          ? queries[(rowBase + r) * keyRowStride + head * keyWidth + c] : 0.0;
  }
  float runningMax = negInf, runningSum = 0.0;
  float accumulator[FLASH_CHUNKS * 8u];
  for (uint a = 0u; a < FLASH_CHUNKS * 8u; ++a) accumulator[a] = 0.0;

  // Under a causal mask no row of this block sees keys past the last row's diagonal.
  uint keyEnd = m;
  if (maskKind == 1) {
    const int lastVisible = int(min(rowBase + FLASH_ROWS, n)) - 1 + (int(m) - int(n));
    keyEnd = uint(clamp(lastVisible + 1, 0, int(m)));
  }
  barrier();

  for (uint keyBase = 0u; keyBase < keyEnd; keyBase += FLASH_KEYS) {
    // Scores for this thread's row against keys lane, lane+8, lane+16, lane+24 of the tile.
    float score[4] = float[4](0.0, 0.0, 0.0, 0.0);
    for (uint depthBase = 0u; depthBase < keyWidth; depthBase += CHUNK) {
      for (uint e = thread; e < FLASH_KEYS * CHUNK; e += FLASH_THREADS) {
        const uint k = e / CHUNK, c = e % CHUNK;
        keyValueTile[k][c] = (keyBase + k < m && depthBase + c < keyWidth)
            ? keys[(keyBase + k) * keyRowStride + head * keyWidth + depthBase + c] : 0.0;
      }
      barrier();
      const uint depthEnd = min(CHUNK, keyWidth - depthBase);
      for (uint d = 0u; d < depthEnd; ++d) {
        const float q = queryTile[localRow][depthBase + d];
        for (uint u = 0u; u < 4u; ++u) score[u] += q * keyValueTile[lane + THREADS_PER_ROW * u][d];
      }
      barrier();
    }
    // Scaled like the CPU (raw·scale, one rounding), then masked.
    float localMax = negInf;
    for (uint u = 0u; u < 4u; ++u) {
      const uint key = keyBase + lane + THREADS_PER_ROW * u;
      const bool visible = query < n && key < m && isAllowed(query, key);
      score[u] = visible ? score[u] * scale : negInf;
      localMax = max(localMax, score[u]);
    }
    laneMax[localRow][lane] = localMax;
    barrier();

    float tileMax = negInf;
    for (uint l = 0u; l < THREADS_PER_ROW; ++l) tileMax = max(tileMax, laneMax[localRow][l]);
    const float newMax = max(runningMax, tileMax);
    // While every key so far is masked the sum and O are zero and need no rescaling.
    const float factor = runningMax == negInf ? 0.0 : exp(runningMax - newMax);
    float localSum = 0.0;
    for (uint u = 0u; u < 4u; ++u) {
      const float p = score[u] == negInf ? 0.0 : exp(score[u] - newMax);
      probabilities[localRow][lane + THREADS_PER_ROW * u] = p;
      localSum += p;
    }
    laneSum[localRow][lane] = localSum;
    barrier();
    float tileSum = 0.0;
    for (uint l = 0u; l < THREADS_PER_ROW; ++l) tileSum += laneSum[localRow][l];
    runningSum = runningSum * factor + tileSum;
    runningMax = newMax;

    // Constant loop bounds let the compiler unroll and keep the accumulator in registers.
    for (uint chunk = 0u; chunk < FLASH_CHUNKS; ++chunk) {
      const uint columnBase = chunk * CHUNK;
      if (columnBase >= valueWidth) continue;  // uniform: every thread sees the same widths
      for (uint e = thread; e < FLASH_KEYS * CHUNK; e += FLASH_THREADS) {
        const uint k = e / CHUNK, c = e % CHUNK;
        keyValueTile[k][c] = (keyBase + k < m && columnBase + c < valueWidth)
            ? values[(keyBase + k) * valueRowStride + head * valueWidth + columnBase + c] : 0.0;
      }
      barrier();
      for (uint w = 0u; w < 8u; ++w) {
        const uint column = lane + THREADS_PER_ROW * w;
        float sum = accumulator[chunk * 8u + w] * factor;
        for (uint k = 0u; k < FLASH_KEYS; ++k) sum += probabilities[localRow][k] * keyValueTile[k][column];
        accumulator[chunk * 8u + w] = sum;
      }
      barrier();
    }
  }

  if (query >= n) return;
  const float inverseSum = runningSum > 0.0 ? 1.0 / runningSum : 0.0;  // fully masked row: zeros
  for (uint chunk = 0u; chunk < FLASH_CHUNKS; ++chunk) {
    for (uint w = 0u; w < 8u; ++w) {
      const uint column = chunk * CHUNK + lane + THREADS_PER_ROW * w;
      if (column < valueWidth)
        outputs[query * valueRowStride + head * valueWidth + column] = accumulator[chunk * 8u + w] * inverseSum;
    }
  }
}
