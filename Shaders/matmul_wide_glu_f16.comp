#version 450
// Y = silu(W_gate X) * (W_up X) with W in F16, 16-byte loads (cols % 8 == 0): the GPU matmul. See include/matmul_wide.glsl.
#extension GL_GOOGLE_include_directive : require
#define NORM 0
#define GLU 1
#define ROPE 0
#include "matmul_wide.glsl"
