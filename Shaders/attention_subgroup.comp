#version 450
// Causal grouped-query attention for CPU devices (lavapipe): one workgroup of exactly one subgroup per (head, token),
// no shared memory and no barrier() (each costs a coroutine switch of every lane group on llvmpipe), and the caches
// read through texel buffers (16-byte texels: 4 f32 or 8 f16), 8x faster on llvmpipe than its bounds-checked
// storage-buffer gathers. Same push constants and result as attention.comp; bindings 1 and 2 are R32G32B32A32_UINT
// texel buffers. Lane l owns texels l, l + S, l + 2S, ... of the head (S = the subgroup size): a key's score is a
// subgroupAdd of the lanes' partial dot products, and a single pass with an online (running max) softmax
// accumulates the values. headDim must be a multiple of the texel's elements.
// Query t (position step.pos0 + t) attends cache rows 0 .. pos0 + t; head h uses kv head h / (nHeads / nKvHeads).
// spec: 0 = WG (the device's subgroup size; the host picks this kernel only where a workgroup of that size is one
//       subgroup), 1 = KV_F16 (0/1), 2 = TEXELS_PER_LANE   grid: (nHeads, nTokens, 1). headDim <= 256, even.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_samplerless_texture_functions : require
#include "common.glsl"
#define STEP_BINDING 4
#include "step.glsl"
layout(constant_id = 0) const uint WG = 8;
layout(constant_id = 1) const uint KV_F16 = 0;
layout(constant_id = 2) const uint TEXELS_PER_LANE = 1;   // ceil(headDim / texel elements / WG): fixed, so the loops unroll
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
    const uint t = gl_WorkGroupID.y;
    const uint hd = pc.headDim;
    const uint texelsPerHead = hd / TEXEL_ELEMS;
    const uint kvh = h / (pc.nHeads / pc.nKvHeads);
    const uint rowTexels = pc.nKvHeads * texelsPerHead;
    const uint headTexel = kvh * texelsPerHead;
    const uint qBase = t * pc.qStride + h * hd;
    const uint len = step.pos0 + t + 1u;

    vec4 qlo[TEXELS_PER_LANE], qhi[TEXELS_PER_LANE], alo[TEXELS_PER_LANE], ahi[TEXELS_PER_LANE];
    for (uint i = 0; i < TEXELS_PER_LANE; i++) {
        uint tx = lane + i * WG;
        uint d = tx * TEXEL_ELEMS;
        bool on = tx < texelsPerHead;
        qlo[i] = on ? vec4(q[qBase + d], q[qBase + d + 1], q[qBase + d + 2], q[qBase + d + 3]) * pc.scale : vec4(0.0);
        qhi[i] = on && TEXEL_ELEMS == 8u ? vec4(q[qBase + d + 4], q[qBase + d + 5], q[qBase + d + 6], q[qBase + d + 7]) * pc.scale : vec4(0.0);
        alo[i] = vec4(0.0);
        ahi[i] = vec4(0.0);
    }
    float runMax = NEG_BIG, runSum = 0.0;
    for (uint j = 0; j < len; j++) {
        const int rowBase = int(j * rowTexels + headTexel);
        float partial = 0.0;
        for (uint i = 0; i < TEXELS_PER_LANE; i++) {
            uint tx = lane + i * WG;
            if (tx < texelsPerHead) {
                vec4 lo, hi;
                unpackTexel(texelFetch(K, rowBase + int(tx)), lo, hi);
                partial += dot(qlo[i], lo) + dot(qhi[i], hi);
            }
        }
        const float s = subgroupAdd(partial);
        const float newMax = max(runMax, s);
        const float corr = exp(runMax - newMax);
        const float p = exp(s - newMax);
        runSum = runSum * corr + p;
        for (uint i = 0; i < TEXELS_PER_LANE; i++) {
            uint tx = lane + i * WG;
            if (tx < texelsPerHead) {
                vec4 lo, hi;
                unpackTexel(texelFetch(V, rowBase + int(tx)), lo, hi);
                alo[i] = alo[i] * corr + p * lo;
                ahi[i] = ahi[i] * corr + p * hi;
            }
        }
        runMax = newMax;
    }
    const float inv = 1.0 / runSum;
    const uint oBase = (t * pc.nHeads + h) * hd;
    for (uint i = 0; i < TEXELS_PER_LANE; i++) {
        uint tx = lane + i * WG;
        if (tx < texelsPerHead) {
            uint d = oBase + tx * TEXEL_ELEMS;
            for (uint e = 0; e < 4u; e++) o[d + e] = alo[i][e] * inv;
            if (TEXEL_ELEMS == 8u) for (uint e = 0; e < 4u; e++) o[d + 4 + e] = ahi[i][e] * inv;
        }
    }
}
