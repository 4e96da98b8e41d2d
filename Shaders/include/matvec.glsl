// y[t, rowOffset + r] (+)= sum_c W[r, c] * x[t, c]   for r < rows, t < nTokens.
// Define before including: W_F16 (0: f32 weights, 1: f16 weights read as packed uint words), USE_SUBGROUP (0/1).
// bindings: 0 = W [rows, cols] (this chunk of rows), 1 = x [nTokens, xStride] f32, 2 = y [nTokens, yStride] f32
// push: { uint rows, cols, rowOffset, accumulate, xStride, yStride, nTokens; }
// spec: 0 = WG (workgroup size, power of two), 1 = ROWS (rows per workgroup), 2 = WIDE (16-byte loads)
//       3 = TOK (tokens per workgroup: each weight load is used for TOK tokens; 1 for decode)
// grid: x*y = ceil(rows / ROWS) workgroups (linear), z = ceil(nTokens / TOK).
#include "common.glsl"
#if USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint ROWS = 2;
// 1: 16-byte loads per invocation (GPUs); 0: 4-byte loads, consecutive invocations on consecutive words (may suit CPU drivers)
layout(constant_id = 2) const uint WIDE = 1;
layout(constant_id = 3) const uint TOK = 1;
layout(local_size_x_id = 0) in;

#if W_F16
layout(std430, set = 0, binding = 0) readonly buffer WV { uvec4 w4[]; };  // 8 halves per element
layout(std430, set = 0, binding = 0) readonly buffer WS { uint w1[]; };   // 2 halves per element
#else
layout(std430, set = 0, binding = 0) readonly buffer WV { vec4 w4[]; };
layout(std430, set = 0, binding = 0) readonly buffer WS { float w1[]; };
#endif
layout(std430, set = 0, binding = 1) readonly buffer XV { vec4 x4[]; };
layout(std430, set = 0, binding = 1) readonly buffer XS { float x1[]; };
layout(std430, set = 0, binding = 2) buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint rows;
    uint cols;
    uint rowOffset;
    uint accumulate;
    uint xStride;
    uint yStride;
    uint nTokens;
} pc;

shared float red_buf[ROWS * TOK * WG];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint row0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * ROWS;
    const uint t0 = gl_WorkGroupID.z * TOK;
    if (row0 >= pc.rows) return;  // uniform across the workgroup
    const uint cols = pc.cols;

    float acc[ROWS * TOK];
    uint rowIdx[ROWS];
    uint xb[TOK];
    for (uint r = 0; r < ROWS; r++)
        rowIdx[r] = min(row0 + r, pc.rows - 1u);  // clamp: extra rows compute garbage that is never stored
    for (uint k = 0; k < TOK; k++)
        xb[k] = min(t0 + k, pc.nTokens - 1u) * pc.xStride;  // clamp likewise
    for (uint s = 0; s < ROWS * TOK; s++) acc[s] = 0.0;

#if W_F16
    if (WIDE == 0u && (cols & 1u) == 0u && (pc.xStride & 1u) == 0u) {
        const uint c2 = cols >> 1;
        for (uint i = tid; i < c2; i += WG) {
            for (uint r = 0; r < ROWS; r++) {
                const vec2 wv = unpackHalf2x16(w1[rowIdx[r] * c2 + i]);
                for (uint k = 0; k < TOK; k++)
                    acc[r * TOK + k] += dot(wv, vec2(x1[xb[k] + 2u * i], x1[xb[k] + 2u * i + 1u]));
            }
        }
    } else if ((cols & 7u) == 0u && (pc.xStride & 3u) == 0u) {
        const uint c8 = cols >> 3;
        for (uint i = tid; i < c8; i += WG) {
            for (uint r = 0; r < ROWS; r++) {
                const uvec4 wv = w4[rowIdx[r] * c8 + i];
                const vec4 wa = vec4(unpackHalf2x16(wv.x), unpackHalf2x16(wv.y));
                const vec4 wc = vec4(unpackHalf2x16(wv.z), unpackHalf2x16(wv.w));
                for (uint k = 0; k < TOK; k++) {
                    const uint xi = (xb[k] >> 2) + 2u * i;
                    acc[r * TOK + k] += dot(wa, x4[xi]) + dot(wc, x4[xi + 1u]);
                }
            }
        }
    } else {
        for (uint c = tid; c < cols; c += WG) {
            for (uint r = 0; r < ROWS; r++) {
                const float wv = HALF_AT(w1, rowIdx[r] * cols + c);
                for (uint k = 0; k < TOK; k++) acc[r * TOK + k] += wv * x1[xb[k] + c];
            }
        }
    }
#else
    if (WIDE != 0u && (cols & 3u) == 0u && (pc.xStride & 3u) == 0u) {
        const uint c4 = cols >> 2;
        for (uint i = tid; i < c4; i += WG) {
            for (uint r = 0; r < ROWS; r++) {
                const vec4 wv = w4[rowIdx[r] * c4 + i];
                for (uint k = 0; k < TOK; k++) acc[r * TOK + k] += dot(wv, x4[(xb[k] >> 2) + i]);
            }
        }
    } else {
        for (uint c = tid; c < cols; c += WG) {
            for (uint r = 0; r < ROWS; r++) {
                const float wv = w1[rowIdx[r] * cols + c];
                for (uint k = 0; k < TOK; k++) acc[r * TOK + k] += wv * x1[xb[k] + c];
            }
        }
    }
#endif

    const uint SLOTS = ROWS * TOK;
#if USE_SUBGROUP
    for (uint s = 0; s < SLOTS; s++) {
        const float v = subgroupAdd(acc[s]);
        if (subgroupElect()) red_buf[s * WG + gl_SubgroupID] = v;
    }
    barrier();
    for (uint s = tid; s < SLOTS; s += WG) {
        float v = 0.0;
        for (uint i = 0; i < gl_NumSubgroups; i++) v += red_buf[s * WG + i];
        red_buf[s * WG] = v;
    }
    barrier();
#else
    for (uint s = 0; s < SLOTS; s++) red_buf[s * WG + tid] = acc[s];
    barrier();
    for (uint h = WG / 2u; h > 0u; h >>= 1u) {
        if (tid < h)
            for (uint s = 0; s < SLOTS; s++) red_buf[s * WG + tid] += red_buf[s * WG + tid + h];
        barrier();
    }
#endif
    for (uint s = tid; s < SLOTS; s += WG) {
        const uint r = s / TOK;
        const uint t = t0 + (s - r * TOK);
        if (row0 + r < pc.rows && t < pc.nTokens) {
            const float v = red_buf[s * WG];
            const uint o = t * pc.yStride + pc.rowOffset + row0 + r;
            y[o] = pc.accumulate != 0u ? y[o] + v : v;
        }
    }
}
