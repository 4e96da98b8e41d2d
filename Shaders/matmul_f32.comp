#version 450
// Y (+)= W X with W in F32. See include/matmul.glsl.
#extension GL_GOOGLE_include_directive : require
#include "matmul.glsl"
layout(std430, binding = 0) readonly buffer Weights { float w[]; };   // [rows, cols] f32
vec4 loadW4(uint row, uint k) { uint i = row * pc.cols + k; return vec4(w[i], w[i + 1], w[i + 2], w[i + 3]); }
float loadW1(uint row, uint k) { return w[row * pc.cols + k]; }
#include "matmul_main.glsl"
