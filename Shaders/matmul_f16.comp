#version 450
// Y (+)= W X with W in F16 (two halves per uint; cols must be even). See include/matmul.glsl.
#extension GL_GOOGLE_include_directive : require
#include "matmul.glsl"
layout(std430, binding = 0) readonly buffer Weights { uint w[]; };   // [rows, cols] f16, packed in pairs
vec4 loadW4(uint row, uint k) {
    uint i = (row * pc.cols + k) >> 1;
    return vec4(unpackHalf2x16(w[i]), unpackHalf2x16(w[i + 1]));
}
float loadW1(uint row, uint k) {
    uint e = row * pc.cols + k;
    vec2 pair = unpackHalf2x16(w[e >> 1]);
    return (e & 1u) == 0u ? pair.x : pair.y;
}
#include "matmul_main.glsl"
