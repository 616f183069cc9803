#version 430
// Row softmax of the masked scores, one workgroup per (row, head) of a chunk: the row max and
// sum are reduced in shared memory, then the weights and the row's statistics are written.
// A row with every key masked has no max; like the CPU it gets zero weights and argmax -1.
#define SOFTMAX_THREADS 128u
layout(local_size_x = 128) in;

#include "attention_common.glsl"

layout(std430, binding = 0) readonly buffer Masked { float masked[]; };
layout(std430, binding = 1) buffer ExpValues { float expValues[]; };
layout(std430, binding = 3) writeonly buffer Weights { float weights[]; };
// Per row: max, sum, entropy, max weight.
layout(std430, binding = 4) writeonly buffer RowStats { vec4 rowStats[]; };
layout(std430, binding = 5) writeonly buffer RowArgmax { int rowArgmax[]; };

uniform uint rowCount;

shared float reduced[SOFTMAX_THREADS];
shared uint reducedIndex[SOFTMAX_THREADS];

float reduceMax(float value) {
  const uint t = gl_LocalInvocationIndex;
  reduced[t] = value;
  barrier();
  for (uint stride = SOFTMAX_THREADS / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) reduced[t] = max(reduced[t], reduced[t + stride]);
    barrier();
  }
  const float result = reduced[0];
  barrier();
  return result;
}

float reduceSum(float value) {
  const uint t = gl_LocalInvocationIndex;
  reduced[t] = value;
  barrier();
  for (uint stride = SOFTMAX_THREADS / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) reduced[t] += reduced[t + stride];
    barrier();
  }
  const float result = reduced[0];
  barrier();
  return result;
}

// The largest weight and its first index, as Eigen's maxCoeff reports ties.
void reduceArgmax(inout float value, inout uint index) {
  const uint t = gl_LocalInvocationIndex;
  reduced[t] = value;
  reducedIndex[t] = index;
  barrier();
  for (uint stride = SOFTMAX_THREADS / 2u; stride > 0u; stride /= 2u) {
    if (t < stride) {
      const float other = reduced[t + stride];
      const uint otherIndex = reducedIndex[t + stride];
      if (other > reduced[t] || (other == reduced[t] && otherIndex < reducedIndex[t])) {
        reduced[t] = other;
        reducedIndex[t] = otherIndex;
      }
    }
    barrier();
  }
  value = reduced[0];
  index = reducedIndex[0];
  barrier();
}

void main() {
  const uint slot = gl_WorkGroupID.y * rowCount + gl_WorkGroupID.x;
  const uint base = slot * m;
  const uint t = gl_LocalInvocationIndex;
  const float negInf = negativeInfinity();

  float localMax = negInf;
  for (uint j = t; j < m; j += SOFTMAX_THREADS) localMax = max(localMax, masked[base + j]);
  const float rowMax = reduceMax(localMax);

  if (rowMax == negInf) {  // the whole row is masked (uniform across the workgroup)
    for (uint j = t; j < m; j += SOFTMAX_THREADS) {
      expValues[base + j] = 0.0;
      weights[base + j] = 0.0;
    }
    if (t == 0u) {
      rowStats[slot] = vec4(negInf, 0.0, 0.0, 0.0);
      rowArgmax[slot] = -1;
    }
    return;
  }

  // Masked cells are skipped rather than relying on exp(-inf), which GLSL leaves undefined.
  float localSum = 0.0;
  for (uint j = t; j < m; j += SOFTMAX_THREADS) {
    const float s = masked[base + j];
    const float e = s == negInf ? 0.0 : exp(s - rowMax);
    expValues[base + j] = e;
    localSum += e;
  }
  const float rowSum = reduceSum(localSum);
  const float inverseSum = 1.0 / rowSum;

  float localEntropy = 0.0;
  float bestWeight = -1.0;
  uint bestIndex = 0xffffffffu;
  for (uint j = t; j < m; j += SOFTMAX_THREADS) {
    const float w = expValues[base + j] * inverseSum;  // this thread's own store, read back
    weights[base + j] = w;
    if (w > 0.0) localEntropy -= w * log(w);
    if (w > bestWeight) {
      bestWeight = w;
      bestIndex = j;
    }
  }
  const float entropy = reduceSum(localEntropy);
  reduceArgmax(bestWeight, bestIndex);
  if (t == 0u) {
    rowStats[slot] = vec4(rowMax, rowSum, entropy, bestWeight);
    rowArgmax[slot] = int(bestIndex);
  }
}
