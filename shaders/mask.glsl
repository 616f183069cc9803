// Which keys a query may attend to. maskKind: 0 none, 1 causal (the last query sees the last
// key), 2 custom, 3 causal top-left (query i sees keys 0..i, PyTorch's is_causal). A custom mask is
// one bit per cell (bit j%32 of word j/32 of its row), so even a 16384×16384 mask fits in
// one 32 MiB buffer.
uniform int maskKind;
uniform uint maskWordsPerRow;
layout(std430, binding = 2) readonly buffer CustomMask { uint maskBits[]; };

bool isAllowed(uint query, uint key) {
  if (maskKind == 1) return int(key) <= int(query) + (int(m) - int(n));  // causal, keys end-aligned
  if (maskKind == 3) return key <= query;  // causal, keys start-aligned
  if (maskKind == 2) return ((maskBits[query * maskWordsPerRow + key / 32u] >> (key % 32u)) & 1u) != 0u;
  return true;
}
