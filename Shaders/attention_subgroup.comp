#version 450
// Causal grouped-query attention for CPU devices (lavapipe): one workgroup of exactly one subgroup per (head, token),
// no shared memory and no barrier() (each costs a coroutine switch of every lane group on llvmpipe), and the caches
// read through texel buffers (16-byte texels: 4 f32 or 8 f16), 8x faster on llvmpipe than its bounds-checked
// storage-buffer gathers. Same push constants and result as attention.comp; bindings 1 and 2 are R32G32B32A32_UINT
// texel buffers. Lane l owns texels l, l + S, l + 2S, ... of the head (S = the subgroup size): a key's score is a
// subgroupAdd of the lanes' partial dot products, and a single pass with an online (running max) softmax
// accumulates the values. headDim must be a multiple of the texel's elements.
// Query t (position step.pos0 + t) attends cache rows 0 .. pos0 + t; head h uses kv head h / (nHeads / nKvHeads).
// A workgroup serves QUERIES consecutive tokens of one head (prefill): each K and V texel fetched is used by all of
// them (each stops at its own causal length).
// spec: 0 = WG (the device's subgroup size; the host picks this kernel only where a workgroup of that size is one
//       subgroup), 1 = KV_F16 (0/1), 2 = TEXELS_PER_LANE, 3 = QUERIES   grid: (nHeads, ceil(nTokens / QUERIES), 1).
//       headDim <= 256, even.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#define STEP_BINDING 4
#include "step.glsl"
layout(constant_id = 0) const uint WG = 8;
layout(constant_id = 1) const uint KV_F16 = 0;
layout(constant_id = 2) const uint TEXELS_PER_LANE = 1;   // ceil(headDim / texel elements / WG): fixed, so the loops unroll
layout(constant_id = 3) const uint QUERIES = 1;           // consecutive query tokens per workgroup, sharing each K and V fetch
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(set = 0, binding = 1) uniform utextureBuffer K;   // [ctx, nKvHeads * headDim] f32 or f16, as 16-byte texels
layout(set = 0, binding = 2) uniform utextureBuffer V;   // [ctx, nKvHeads * headDim] f32 or f16, as 16-byte texels
layout(std430, set = 0, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { uint nTokens; uint nHeads; uint nKvHeads; uint headDim; uint qStride; float scale; } pc;

const uint TEXEL_ELEMS = KV_F16 != 0u ? 8u : 4u;
const float NEG_BIG = -3.0e38;

// The 8 (f16) or 4 (f32, hi = 0) elements of one texel.
void unpackTexel(uvec4 t, out vec4 lo, out vec4 hi) {
    if (KV_F16 != 0u) {
        lo = vec4(unpackHalf2x16(t.x), unpackHalf2x16(t.y));
        hi = vec4(unpackHalf2x16(t.z), unpackHalf2x16(t.w));
    } else {
        lo = uintBitsToFloat(t);
        hi = vec4(0.0);
    }
}

void main() {
    const uint lane = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.x;
    const uint t0 = gl_WorkGroupID.y * QUERIES;
    const uint hd = pc.headDim;
    const uint texelsPerHead = hd / TEXEL_ELEMS;
    const uint kvh = h / (pc.nHeads / pc.nKvHeads);
    const uint rowTexels = pc.nKvHeads * texelsPerHead;
    const uint headTexel = kvh * texelsPerHead;
    const uint nQueries = min(QUERIES, pc.nTokens - t0);

    vec4 qlo[QUERIES * TEXELS_PER_LANE], qhi[QUERIES * TEXELS_PER_LANE], alo[QUERIES * TEXELS_PER_LANE], ahi[QUERIES * TEXELS_PER_LANE];
    float runMax[QUERIES], runSum[QUERIES];
    [[unroll]] for (uint qi = 0; qi < QUERIES; qi++) {
        const uint qBase = min(t0 + qi, pc.nTokens - 1u) * pc.qStride + h * hd;
        [[unroll]] for (uint i = 0; i < TEXELS_PER_LANE; i++) {
            const uint tx = lane + i * WG;
            const uint d = tx * TEXEL_ELEMS;
            const bool on = tx < texelsPerHead;
            const uint k = qi * TEXELS_PER_LANE + i;
            qlo[k] = on ? vec4(q[qBase + d], q[qBase + d + 1], q[qBase + d + 2], q[qBase + d + 3]) * pc.scale : vec4(0.0);
            qhi[k] = on && TEXEL_ELEMS == 8u ? vec4(q[qBase + d + 4], q[qBase + d + 5], q[qBase + d + 6], q[qBase + d + 7]) * pc.scale : vec4(0.0);
            alo[k] = vec4(0.0);
            ahi[k] = vec4(0.0);
        }
        runMax[qi] = NEG_BIG;
        runSum[qi] = 0.0;
    }
    const uint len0 = step.pos0 + t0 + 1u;            // query qi sees cache rows 0 .. len0 + qi - 1
    const uint lenMax = len0 + nQueries - 1u;
    for (uint j = 0; j < lenMax; j++) {
        const int rowBase = int(j * rowTexels + headTexel);
        vec4 klo[TEXELS_PER_LANE], khi[TEXELS_PER_LANE], vlo[TEXELS_PER_LANE], vhi[TEXELS_PER_LANE];
        [[unroll]] for (uint i = 0; i < TEXELS_PER_LANE; i++) {
            const uint tx = lane + i * WG;
            const int at = rowBase + int(min(tx, texelsPerHead - 1u));
            unpackTexel(texelFetch(K, at), klo[i], khi[i]);
            unpackTexel(texelFetch(V, at), vlo[i], vhi[i]);
            if (tx >= texelsPerHead) { klo[i] = vec4(0.0); khi[i] = vec4(0.0); vlo[i] = vec4(0.0); vhi[i] = vec4(0.0); }
        }
        [[unroll]] for (uint qi = 0; qi < QUERIES; qi++) {
            if (j >= len0 + qi) continue;             // past this query's causal length (uniform: no divergence)
            float partial = 0.0;
            [[unroll]] for (uint i = 0; i < TEXELS_PER_LANE; i++) {
                const uint k = qi * TEXELS_PER_LANE + i;
                partial += dot(qlo[k], klo[i]) + dot(qhi[k], khi[i]);
            }
            const float s = subgroupAdd(partial);
            const float newMax = max(runMax[qi], s);
            const float corr = exp(runMax[qi] - newMax);
            const float p = exp(s - newMax);
            runSum[qi] = runSum[qi] * corr + p;
            [[unroll]] for (uint i = 0; i < TEXELS_PER_LANE; i++) {
                const uint k = qi * TEXELS_PER_LANE + i;
                alo[k] = alo[k] * corr + p * vlo[i];
                ahi[k] = ahi[k] * corr + p * vhi[i];
            }
            runMax[qi] = newMax;
        }
    }
    [[unroll]] for (uint qi = 0; qi < QUERIES; qi++) {
        if (qi >= nQueries) break;
        const float inv = 1.0 / runSum[qi];
        const uint oBase = ((t0 + qi) * pc.nHeads + h) * hd;
        [[unroll]] for (uint i = 0; i < TEXELS_PER_LANE; i++) {
            const uint tx = lane + i * WG;
            const uint k = qi * TEXELS_PER_LANE + i;
            if (tx < texelsPerHead) {
                const uint d = oBase + tx * TEXEL_ELEMS;
                for (uint e = 0; e < 4u; e++) o[d + e] = alo[k][e] * inv;
                if (TEXEL_ELEMS == 8u) for (uint e = 0; e < 4u; e++) o[d + 4 + e] = ahi[k][e] * inv;
            }
        }
    }
}
