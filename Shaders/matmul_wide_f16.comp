#version 450
// Y (+)= W X with W in F16, 16-byte loads (cols % 8 == 0): the GPU matmul. See include/matmul_wide.glsl.
#extension GL_GOOGLE_include_directive : require
#define NORM 0
#define GLU 0
#define ROPE 0
#include "matmul_wide.glsl"
