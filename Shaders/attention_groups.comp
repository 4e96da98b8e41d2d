#version 450
// Causal grouped-query attention for GPUs, keys across lane groups: one workgroup per (head, token), WG lanes in
// groups of HEAD_TEXELS, one lane per 16-byte texel of the head (8 halves of an f16 cache, 4 floats of an f32 one).
// Group g scores keys g, g + GROUPS, g + 2 GROUPS, ... (UNROLL of them in flight): each lane loads its texel of the key
// and of the value row (neighbouring lanes, neighbouring texels: coalesced storage-buffer loads), the group sums the
// partial dot products with subgroupShuffleXor and keeps its own online softmax (running max, sum, and each lane its
// texel of the weighted sum of values); the groups merge once at the end through shared memory. With WG = 256 and a
// 64-wide f16 head that is 32 keys at a time per head where attention_keys (one subgroup per head, texel buffers) had
// 32 lanes each walking its keys one after the other: on an H200 it took 34 us a layer at position 576, 37 % of a
// tipo-500m decode step (tipo bench --profile).
// Every (head, token) is one workgroup whatever the batch, with a fixed order of sums: decode and prefill give a token
// the same bits. Query t of the dispatch is token firstQuery + t (q row firstQuery + t, position step.pos0 + firstQuery
// + t): it attends cache rows 0 .. pos0 + firstQuery + t and writes output row t; head h uses kv head h / (nHeads /
// nKvHeads). Same bindings and push constants as attention.comp, every binding a storage buffer.
// spec: 0 = WG (a multiple of the subgroup size), 1 = KV_F16 (0/1), 2 = HEAD_TEXELS (headDim / texel elements; a power
//       of two no larger than the subgroup size, so a group is part of one subgroup), 3 = UNROLL (keys per group in flight)
// grid: (nHeads, nTokens, 1). qStride and headDim multiples of 4.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#define STEP_BINDING 4
#include "step.glsl"
layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint KV_F16 = 1;
layout(constant_id = 2) const uint HEAD_TEXELS = 8;
layout(constant_id = 3) const uint UNROLL = 2;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };    // [firstQuery + nTokens, qStride] f32, the heads first in a row
layout(std430, binding = 1) readonly buffer K { uvec4 k[]; };   // [ctx, nKvHeads * headDim] f32 or f16, as 16-byte texels
layout(std430, binding = 2) readonly buffer V { uvec4 v[]; };   // [ctx, nKvHeads * headDim] f32 or f16, as 16-byte texels
layout(std430, binding = 3) writeonly buffer O { float o[]; };  // [nTokens, nHeads * headDim] f32
layout(push_constant) uniform Push { uint nTokens; uint nHeads; uint nKvHeads; uint headDim; uint qStride; float scale; uint firstQuery; } pc;

const uint TEXEL_ELEMS = KV_F16 != 0u ? 8u : 4u;
const uint HEAD_DIM = HEAD_TEXELS * TEXEL_ELEMS;
const uint GROUPS = WG / HEAD_TEXELS;
const float NEG_BIG = -3.0e38;

shared float groupOut[WG * TEXEL_ELEMS];   // [GROUPS, HEAD_DIM]: each group's weighted sum of values
shared float groupMax[GROUPS];
shared float groupSum[GROUPS];

#define CACHE_F16 (KV_F16 != 0u)
#include "cache_texel.glsl"

void main() {
    // Lanes numbered subgroup by subgroup, so the HEAD_TEXELS lanes of a group are neighbours in one subgroup.
    const uint lane = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;
    const uint group = lane / HEAD_TEXELS, tx = lane % HEAD_TEXELS;
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    const uint kvh = h / (pc.nHeads / pc.nKvHeads);
    const uint rowTexels = pc.nKvHeads * HEAD_TEXELS;
    const uint texel = kvh * HEAD_TEXELS + tx;   // this lane's texel within a cache row
    const uint len = step.pos0 + pc.firstQuery + t + 1u;

    // This lane's elements of the query, scaled.
    const uint qBase = ((pc.firstQuery + t) * pc.qStride + h * HEAD_DIM + tx * TEXEL_ELEMS) / 4u;
    const vec4 qlo = q[qBase] * pc.scale;
    const vec4 qhi = TEXEL_ELEMS == 8u ? q[qBase + 1u] * pc.scale : vec4(0.0);

    float runMax = NEG_BIG, runSum = 0.0;
    vec4 olo = vec4(0.0), ohi = vec4(0.0);
    // Every lane runs every round (the group sums need their whole group); keys past len are masked.
    for (uint j0 = 0; j0 < len; j0 += GROUPS * UNROLL) {
        float s[UNROLL];
        uvec4 vt[UNROLL];
        [[unroll]] for (uint u = 0; u < UNROLL; u++) {
            const uint row = min(j0 + u * GROUPS + group, len - 1u);
            vec4 klo, khi;
            unpackTexel(k[row * rowTexels + texel], klo, khi);
            vt[u] = v[row * rowTexels + texel];
            s[u] = dot(qlo, klo) + dot(qhi, khi);
        }
        [[unroll]] for (uint u = 0; u < UNROLL; u++)
            [[unroll]] for (uint d = 1; d < HEAD_TEXELS; d <<= 1) s[u] += subgroupShuffleXor(s[u], d);
        [[unroll]] for (uint u = 0; u < UNROLL; u++) {
            const bool visible = j0 + u * GROUPS + group < len;
            const float newMax = visible ? max(runMax, s[u]) : runMax;
            const float corr = visible ? exp(runMax - newMax) : 1.0;
            const float p = visible ? exp(s[u] - newMax) : 0.0;
            vec4 vlo, vhi;
            unpackTexel(vt[u], vlo, vhi);
            runSum = runSum * corr + p;
            olo = olo * corr + p * vlo;
            ohi = ohi * corr + p * vhi;
            runMax = newMax;
        }
    }

    // Merge the groups: each output element rescales every group's sum to the common max, in group order.
    const uint outBase = group * HEAD_DIM + tx * TEXEL_ELEMS;
    [[unroll]] for (uint e = 0; e < 4u; e++) groupOut[outBase + e] = olo[e];
    if (TEXEL_ELEMS == 8u) [[unroll]] for (uint e = 0; e < 4u; e++) groupOut[outBase + 4u + e] = ohi[e];
    if (tx == 0u) {
        groupMax[group] = runMax;
        groupSum[group] = runSum;
    }
    barrier();
    const uint oBase = (t * pc.nHeads + h) * HEAD_DIM;
    for (uint d = gl_LocalInvocationID.x; d < HEAD_DIM; d += WG) {
        float m = NEG_BIG;
        for (uint g = 0; g < GROUPS; g++) m = max(m, groupMax[g]);
        float sum = 0.0, acc = 0.0;
        for (uint g = 0; g < GROUPS; g++) {
            const float f = exp(groupMax[g] - m);
            sum += groupSum[g] * f;
            acc += groupOut[g * HEAD_DIM + d] * f;
        }
        o[oBase + d] = acc / sum;
    }
}
