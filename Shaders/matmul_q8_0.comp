#version 450
// Y (+)= W X with W in Q8_0, repacked at upload into two aligned arrays holding the same bytes as GGUF's
// 34-byte blocks: int8 quants [rows, cols] four per uint, then f16 scales [rows, cols / 32] two per uint
// right after the quants. cols % 32 == 0. See include/matmul.glsl.
#extension GL_GOOGLE_include_directive : require
#include "matmul.glsl"
layout(std430, binding = 0) readonly buffer Weights { uint w[]; };
float scaleOf(uint row, uint k) {
    uint s = row * (pc.cols >> 5) + (k >> 5);
    uint scaleBase = (pc.rows * pc.cols) >> 2;   // the quants take rows*cols bytes
    vec2 pair = unpackHalf2x16(w[scaleBase + (s >> 1)]);
    return (s & 1u) == 0u ? pair.x : pair.y;
}
vec4 loadW4(uint row, uint k) {
    int q = int(w[(row * pc.cols + k) >> 2]);
    vec4 v = vec4(bitfieldExtract(q, 0, 8), bitfieldExtract(q, 8, 8), bitfieldExtract(q, 16, 8), bitfieldExtract(q, 24, 8));
    return v * scaleOf(row, k);
}
float loadW1(uint row, uint k) {
    uint e = row * pc.cols + k;
    int q = int(w[e >> 2]);
    return float(bitfieldExtract(q, int(8u * (e & 3u)), 8)) * scaleOf(row, k);
}
#include "matmul_main.glsl"
