#version 430
// Cosine scores: each head's slice of each row scaled to unit length, a zero slice left zero,
// exactly as the CPU engine normalises Q_h and K_h before multiplying.
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Source { float source[]; };
layout(std430, binding = 1) writeonly buffer Normalized { float normalized[]; };

uniform uint rows;
uniform uint headWidth;
uniform uint rowStride;

void main() {
  const uint row = gl_GlobalInvocationID.x;
  if (row >= rows) return;
  const uint begin = row * rowStride + gl_WorkGroupID.y * headWidth;
  // Divided by the largest entry first, as the CPU's double norm: in float the sum of squares
  // overflows for entries above about 1e19 and underflows to 0 below about 1e-19.
  float largest = 0.0;
  for (uint c = 0u; c < headWidth; ++c) largest = max(largest, abs(source[begin + c]));
  float squares = 0.0;
  for (uint c = 0u; c < headWidth; ++c) {
    const float x = largest > 0.0 ? source[begin + c] / largest : 0.0;
    squares += x * x;
  }
  const float norm = sqrt(squares);
  for (uint c = 0u; c < headWidth; ++c)
    normalized[begin + c] = largest > 0.0 ? (source[begin + c] / largest) / norm : source[begin + c];
}
