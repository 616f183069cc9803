// One 64×64 block of C = A·B per 16×16 workgroup, each thread keeping a 4×4 block of C in
// registers; A and B pass through shared memory 16 deep. The including shader defines
//   float loadA(uint row, uint depth)   and   float loadB(uint depth, uint column),
// both returning 0 outside the matrices, and GEMM_B_DEPTH_CONTIGUOUS (1 when B's depth index
// is the fast one in memory, as for Kᵀ) so tile loads read memory in order.
#define GEMM_TILE 64u
#define GEMM_DEPTH 16u
#define GEMM_THREADS 256u

// The +1 keeps threads that store one depth column from landing in the same memory bank.
shared float tileA[GEMM_DEPTH][GEMM_TILE + 1u];
shared float tileB[GEMM_DEPTH][GEMM_TILE + 1u];
float gemmAccumulator[4][4];

void gemmTile(uint rowBase, uint columnBase, uint depth) {
  const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  const uint thread = gl_LocalInvocationIndex;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) gemmAccumulator[a][b] = 0.0;
  for (uint depthBase = 0u; depthBase < depth; depthBase += GEMM_DEPTH) {
    for (uint e = thread; e < GEMM_TILE * GEMM_DEPTH; e += GEMM_THREADS) {
      // A is row-major with depth fastest: neighbouring threads read neighbouring depths.
      const uint aRow = e / GEMM_DEPTH, aDepth = e % GEMM_DEPTH;
      tileA[aDepth][aRow] = loadA(rowBase + aRow, depthBase + aDepth);
#if GEMM_B_DEPTH_CONTIGUOUS
      const uint bColumn = e / GEMM_DEPTH, bDepth = e % GEMM_DEPTH;
#else
      const uint bDepth = e / GEMM_TILE, bColumn = e % GEMM_TILE;
#endif
      tileB[bDepth][bColumn] = loadB(depthBase + bDepth, columnBase + bColumn);
    }
    barrier();
    for (uint d = 0u; d < GEMM_DEPTH; ++d) {
      float a[4], b[4];
      for (int i = 0; i < 4; ++i) {
        a[i] = tileA[d][ty + 16u * uint(i)];
        b[i] = tileB[d][tx + 16u * uint(i)];
      }
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) gemmAccumulator[i][j] += a[i] * b[j];
    }
    barrier();
  }
}

// The C row and column that thread (tx, ty)'s accumulator [i][j] holds; threads of a row of
// the workgroup own neighbouring columns so their stores coalesce.
uint gemmRow(uint rowBase, int i) { return rowBase + gl_LocalInvocationID.y + 16u * uint(i); }
uint gemmColumn(uint columnBase, int j) { return columnBase + gl_LocalInvocationID.x + 16u * uint(j); }
