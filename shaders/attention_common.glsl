// Shared by the attention kernels. n and m are the whole problem's query and key counts; a
// kernel that works on a chunk of rows also gets the chunk's bounds.
uniform uint n;
uniform uint m;

// Masked cells hold -inf, as in the CPU engine; GLSL has no literal for it.
float negativeInfinity() { return uintBitsToFloat(0xff800000u); }
