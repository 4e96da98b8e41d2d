#version 450
// Y (+)= W n, n = rmsnorm(X) * g (the norm fused) with W in F16, 16-byte loads (cols % 8 == 0): the GPU matmul. See include/matmul_wide.glsl.
#extension GL_GOOGLE_include_directive : require
#define NORM 1
#define GLU 0
#define ROPE 0
#include "matmul_wide.glsl"
