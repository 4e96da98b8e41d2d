// y[t, rowOffset + r] (+)= sum_c W[r, c] * x[t, c]   for r < rows, t < nTokens.
// Define before including: W_F16 (0: f32 weights, 1: f16 weights read as packed uint words), USE_SUBGROUP (0/1).
// bindings: 0 = W [rows, cols] (this chunk of rows), 1 = x [nTokens, xStride] f32, 2 = y [nTokens, yStride] f32
// push: { uint rows, cols, rowOffset, accumulate, xStride, yStride; }
// spec: 0 = WG (workgroup size, power of two), 1 = ROWS (rows per workgroup)
// grid: x*y = ceil(rows / ROWS) workgroups (linear), z = token.
#include "common.glsl"
#if USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint ROWS = 2;
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
} pc;

shared float red_buf[ROWS * WG];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint row0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * ROWS;
    const uint t = gl_WorkGroupID.z;
    if (row0 >= pc.rows) return;  // uniform across the workgroup
    const uint cols = pc.cols;
    const uint xb = t * pc.xStride;

    float acc[ROWS];
    uint rowIdx[ROWS];
    for (uint r = 0; r < ROWS; r++) {
        acc[r] = 0.0;
        rowIdx[r] = min(row0 + r, pc.rows - 1u);  // clamp: extra rows compute garbage that is never stored
    }

#if W_F16
    if ((cols & 7u) == 0u && (xb & 3u) == 0u) {
        const uint c8 = cols >> 3;
        const uint xb4 = xb >> 2;
        for (uint i = tid; i < c8; i += WG) {
            const vec4 xa = x4[xb4 + 2u * i];
            const vec4 xc = x4[xb4 + 2u * i + 1u];
            for (uint r = 0; r < ROWS; r++) {
                const uvec4 wv = w4[rowIdx[r] * c8 + i];
                acc[r] += dot(vec4(unpackHalf2x16(wv.x), unpackHalf2x16(wv.y)), xa)
                        + dot(vec4(unpackHalf2x16(wv.z), unpackHalf2x16(wv.w)), xc);
            }
        }
    } else {
        for (uint c = tid; c < cols; c += WG) {
            const float xv = x1[xb + c];
            for (uint r = 0; r < ROWS; r++)
                acc[r] += HALF_AT(w1, rowIdx[r] * cols + c) * xv;
        }
    }
#else
    if ((cols & 3u) == 0u && (xb & 3u) == 0u) {
        const uint c4 = cols >> 2;
        const uint xb4 = xb >> 2;
        for (uint i = tid; i < c4; i += WG) {
            const vec4 xv = x4[xb4 + i];
            for (uint r = 0; r < ROWS; r++)
                acc[r] += dot(w4[rowIdx[r] * c4 + i], xv);
        }
    } else {
        for (uint c = tid; c < cols; c += WG) {
            const float xv = x1[xb + c];
            for (uint r = 0; r < ROWS; r++)
                acc[r] += w1[rowIdx[r] * cols + c] * xv;
        }
    }
#endif

#if USE_SUBGROUP
    for (uint r = 0; r < ROWS; r++) {
        const float s = subgroupAdd(acc[r]);
        if (subgroupElect()) red_buf[r * WG + gl_SubgroupID] = s;
    }
    barrier();
    if (tid < ROWS) {
        float s = 0.0;
        for (uint i = 0; i < gl_NumSubgroups; i++) s += red_buf[tid * WG + i];
        red_buf[tid * WG] = s;
    }
    barrier();
#else
    for (uint r = 0; r < ROWS; r++) red_buf[r * WG + tid] = acc[r];
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s)
            for (uint r = 0; r < ROWS; r++) red_buf[r * WG + tid] += red_buf[r * WG + tid + s];
        barrier();
    }
#endif
    if (tid < ROWS && row0 + tid < pc.rows) {
        const float v = red_buf[tid * WG];
        const uint o = t * pc.yStride + pc.rowOffset + row0 + tid;
        y[o] = pc.accumulate != 0u ? y[o] + v : v;
    }
}
