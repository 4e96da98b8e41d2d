#version 450
// Causal attention of queries over a KV cache, grouped-query aware. One workgroup per (head, token).
// Query t of the dispatch is token firstQuery + t (q row firstQuery + t, position step.pos0 + firstQuery + t): it attends
// cache rows 0 .. pos0 + firstQuery + t inclusive and writes output row t; head h uses kv head h / (nHeads / nKvHeads).
// Single pass over the keys in tiles of WG with an online (running max) softmax.
// bindings: 0 = q [firstQuery + nTokens, qStride] f32 (heads at the start of each row), 1 = K cache [ctx, nKvHeads * headDim], 2 = V cache (same),
//           3 = out [nTokens, nHeads * headDim] f32, 4 = step { pos0 }.  K/V are f32, or f16 as packed uint words when KV_F16 = 1.
// push: { uint nTokens; uint nHeads; uint nKvHeads; uint headDim; uint qStride; float scale; uint firstQuery; }
// spec: 0 = WG (power of two, >= 64), 1 = KV_F16 (0/1)   grid: (nHeads, nTokens, 1), the rows in causalTile order
// (common.glsl). headDim <= 4 * WG and <= 256, even.
#include "common.glsl"
#define STEP_BINDING 4
#include "step.glsl"
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint KV_F16 = 0;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 1) readonly buffer KF { float kf[]; };
layout(std430, set = 0, binding = 1) readonly buffer KH { uint kh[]; };
layout(std430, set = 0, binding = 2) readonly buffer VF { float vf[]; };
layout(std430, set = 0, binding = 2) readonly buffer VH { uint vh[]; };
layout(std430, set = 0, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { uint nTokens; uint nHeads; uint nKvHeads; uint headDim; uint qStride; float scale; uint firstQuery; } pc;

const uint MAX_HEAD_DIM = 256;
const uint MAX_DIMS_PER_THREAD = 4;
const float NEG_BIG = -3.0e38;
shared float qs[MAX_HEAD_DIM];
shared float p[WG];
shared float red_buf[WG];
#include "reduce.glsl"

float k_at(uint e) { return KV_F16 != 0u ? HALF_AT(kh, e) : kf[e]; }
float v_at(uint e) { return KV_F16 != 0u ? HALF_AT(vh, e) : vf[e]; }

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.x;
    const uint t = causalTile(gl_WorkGroupID.y, gl_NumWorkGroups.y);
    const uint hd = pc.headDim;
    const uint kvh = h / (pc.nHeads / pc.nKvHeads);
    const uint kvStride = pc.nKvHeads * hd;
    const uint kvBase = kvh * hd;
    const uint qBase = (pc.firstQuery + t) * pc.qStride + h * hd;
    const uint oBase = (t * pc.nHeads + h) * hd;
    const uint len = step.pos0 + pc.firstQuery + t + 1u;

    for (uint d = tid; d < hd; d += WG) qs[d] = q[qBase + d] * pc.scale;
    barrier();

    float acc[MAX_DIMS_PER_THREAD];
    for (uint k = 0; k < MAX_DIMS_PER_THREAD; k++) acc[k] = 0.0;
    float runMax = NEG_BIG;
    float runSum = 0.0;

    for (uint start = 0; start < len; start += WG) {
        const uint j = start + tid;
        float s = NEG_BIG;
        if (j < len) {
            const uint kb = j * kvStride + kvBase;
            s = 0.0;
            for (uint d = 0; d < hd; d++) s += qs[d] * k_at(kb + d);
        }
        const float newMax = max(runMax, wg_max(s));
        const float pj = j < len ? exp(s - newMax) : 0.0;
        const float corr = exp(runMax - newMax);
        runSum = runSum * corr + wg_sum(pj);
        p[tid] = pj;
        barrier();
        const uint n = min(WG, len - start);
        for (uint k = 0; k < MAX_DIMS_PER_THREAD; k++) {
            const uint d = tid + k * WG;
            if (d < hd) {
                float a = acc[k] * corr;
                for (uint jj = 0; jj < n; jj++) a += p[jj] * v_at((start + jj) * kvStride + kvBase + d);
                acc[k] = a;
            }
        }
        runMax = newMax;
        barrier();
    }
    const float inv = 1.0 / runSum;
    for (uint k = 0; k < MAX_DIMS_PER_THREAD; k++) {
        const uint d = tid + k * WG;
        if (d < hd) o[oBase + d] = acc[k] * inv;
    }
}
