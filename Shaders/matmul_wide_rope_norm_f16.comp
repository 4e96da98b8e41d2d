#version 450
// [q | k | v] = W n with n = rmsnorm(X) * g (the norm fused), W in F16, 16-byte loads (cols % 8 == 0); q and k rotated
// (GGUF's interleaved pairs) by each token's position, q written to Y, k and v appended to the layer's caches.
// See include/matmul_wide.glsl.
#extension GL_GOOGLE_include_directive : require
#define NORM 1
#define GLU 0
#define ROPE 1
#include "matmul_wide.glsl"
