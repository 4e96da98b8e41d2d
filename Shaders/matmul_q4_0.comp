#version 450
// Y (+)= W X with W in Q4_0, read directly from its blocks (QuantGpuLayout: the GGUF bytes, each block in a
// word-aligned slot). The block layout and decoding are in include/quant_q4_0.glsl; see include/matmul.glsl.
#extension GL_GOOGLE_include_directive : require
#include "matmul.glsl"
layout(std430, binding = 0) readonly buffer Weights { uint w[]; };
#define QW w
#include "quant_q4_0.glsl"
#include "quant_matmul.glsl"
#include "matmul_main.glsl"
