#version 450
// Causal grouped-query attention for CPU devices (lavapipe), keys across the lanes: one workgroup of exactly one
// subgroup per (head, QUERIES consecutive tokens). Lane l scores keys l, l + S, l + 2S, ... (S = the subgroup size)
// against the whole head, KEYS of them at a time (keys j0 + b S + l, b < KEYS, j0 a multiple of KEYS S), keeps its own
// online softmax (running max, sum, weighted sum of values), updated and rescaled once per KEYS keys, and the lanes
// merge once at the end. Inside the key loop there is no cross-lane operation: llvmpipe runs subgroupAdd and
// subgroupMax as a scalar loop over the lanes, which cost more than the dot product when the lanes split the
// head dimension instead (the kernel this one replaced, attention_subgroup: 1.6 s of a 7.8 s tipo-200m pp512).
// q, K and V are read through texel buffers (16-byte texels: q 4 f32, the caches 4 f32 or 8 f16), llvmpipe's
// fastest loads; each K and V texel fetched serves every query of the workgroup, and the query tokens are the same
// in every lane. Same push constants and result as attention.comp.
// Query t of the dispatch is token firstQuery + t (q row firstQuery + t, position step.pos0 + firstQuery + t): it attends
// cache rows 0 .. pos0 + firstQuery + t and writes output row t; head h uses kv head h / (nHeads / nKvHeads).
// Keys past a query's causal length leave its state exactly as it was (p = 0, not in the max; a block of none of its
// keys: correction 1), so a token's output does not depend on how many queries share its workgroup: decode (QUERIES = 1)
// and prefill give identical bits.
// spec: 0 = WG (the device's subgroup size; the host picks this kernel only where a workgroup of that size is one
//       subgroup), 1 = KV_F16 (0/1), 2 = HEAD_TEXELS (headDim / the cache's texel elements), 3 = QUERIES, 4 = KEYS
//       (decode_layer_cpu.glsl's ATTN_KEYS must equal it: the blocks of keys fix the order of the sums)
//       grid: (nHeads, ceil(nTokens / QUERIES), 1), the rows in causalTile order (common.glsl). qStride and headDim
//       multiples of 4.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#define STEP_BINDING 4
#include "step.glsl"
layout(constant_id = 0) const uint WG = 8;
layout(constant_id = 1) const uint KV_F16 = 0;
layout(constant_id = 2) const uint HEAD_TEXELS = 16;  // cache texels per head: fixed, so the loops unroll
layout(constant_id = 3) const uint QUERIES = 1;       // consecutive query tokens per workgroup, sharing each K and V fetch
layout(constant_id = 4) const uint KEYS = 1;          // keys per lane per softmax update
layout(local_size_x_id = 0) in;
layout(set = 0, binding = 0) uniform utextureBuffer Q;   // [firstQuery + nTokens, qStride] f32 as 4-float texels, the heads first in a row
layout(set = 0, binding = 1) uniform utextureBuffer K;   // [ctx, nKvHeads * headDim] f32 or f16, as 16-byte texels
layout(set = 0, binding = 2) uniform utextureBuffer V;   // [ctx, nKvHeads * headDim] f32 or f16, as 16-byte texels
layout(std430, set = 0, binding = 3) writeonly buffer O { float o[]; };   // [nTokens, nHeads * headDim] f32
layout(push_constant) uniform Push { uint nTokens; uint nHeads; uint nKvHeads; uint headDim; uint qStride; float scale; uint firstQuery; } pc;

const uint TEXEL_ELEMS = KV_F16 != 0u ? 8u : 4u;
const uint HEAD_DIM = HEAD_TEXELS * TEXEL_ELEMS;
const uint STATE = QUERIES * HEAD_TEXELS;
const float NEG_BIG = -3.0e38;

#define CACHE_F16 (KV_F16 != 0u)
#include "cache_texel.glsl"
#define SOFTMAX_KEYS KEYS
#define SOFTMAX_STRIDE WG
#include "online_softmax.glsl"

vec4 q4(uint i) { return uintBitsToFloat(texelFetch(Q, int(i))); }

void main() {
    const uint lane = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.x;
    const uint t0 = causalTile(gl_WorkGroupID.y, gl_NumWorkGroups.y) * QUERIES;
    const uint kvh = h / (pc.nHeads / pc.nKvHeads);
    const uint rowTexels = pc.nKvHeads * HEAD_TEXELS;
    const uint headTexel = kvh * HEAD_TEXELS;
    const uint nQueries = min(QUERIES, pc.nTokens - t0);

    // The queries, scaled (the same values in every lane), and each lane's softmax state per query.
    vec4 qlo[STATE], qhi[STATE], olo[STATE], ohi[STATE];
    float runMax[QUERIES], runSum[QUERIES];
    [[unroll]] for (uint qi = 0; qi < QUERIES; qi++) {
        const uint qBase = ((pc.firstQuery + min(t0 + qi, pc.nTokens - 1u)) * pc.qStride + h * HEAD_DIM) / 4u;
        [[unroll]] for (uint tx = 0; tx < HEAD_TEXELS; tx++) {
            const uint k = qi * HEAD_TEXELS + tx;
            qlo[k] = q4(qBase + tx * (TEXEL_ELEMS / 4u)) * pc.scale;
            qhi[k] = TEXEL_ELEMS == 8u ? q4(qBase + tx * 2u + 1u) * pc.scale : vec4(0.0);
            olo[k] = vec4(0.0);
            ohi[k] = vec4(0.0);
        }
        runMax[qi] = NEG_BIG;
        runSum[qi] = 0.0;
    }

    const uint len0 = step.pos0 + pc.firstQuery + t0 + 1u;   // query qi sees cache rows 0 .. len0 + qi - 1
    const uint lenMax = len0 + nQueries - 1u;
    for (uint j0 = 0; j0 < lenMax; j0 += WG * KEYS) {
        // This lane's keys j0 + lane, j0 + WG + lane, ...: their scores for every query.
        int rowBase[KEYS];
        float s[QUERIES][KEYS];
        [[unroll]] for (uint b = 0; b < KEYS; b++) rowBase[b] = int(min(j0 + b * WG + lane, lenMax - 1u) * rowTexels + headTexel);
        [[unroll]] for (uint qi = 0; qi < QUERIES; qi++)
            [[unroll]] for (uint b = 0; b < KEYS; b++) s[qi][b] = 0.0;
        [[unroll]] for (uint tx = 0; tx < HEAD_TEXELS; tx++) {
            [[unroll]] for (uint b = 0; b < KEYS; b++) {
                vec4 klo, khi;
                unpackTexel(texelFetch(K, rowBase[b] + int(tx)), klo, khi);
                [[unroll]] for (uint qi = 0; qi < QUERIES; qi++)
                    s[qi][b] += dot(qlo[qi * HEAD_TEXELS + tx], klo) + dot(qhi[qi * HEAD_TEXELS + tx], khi);
            }
        }
        // One softmax update per query for the KEYS keys: a new running max, one correction of the state, a weight each.
        float p[QUERIES][KEYS], corr[QUERIES];
        [[unroll]] for (uint qi = 0; qi < QUERIES; qi++)
            corr[qi] = softmaxUpdate(s[qi], j0 + lane, len0 + qi, runMax[qi], runSum[qi], p[qi]);
        [[unroll]] for (uint tx = 0; tx < HEAD_TEXELS; tx++) {
            vec4 vlo[KEYS], vhi[KEYS];
            [[unroll]] for (uint b = 0; b < KEYS; b++) unpackTexel(texelFetch(V, rowBase[b] + int(tx)), vlo[b], vhi[b]);
            [[unroll]] for (uint qi = 0; qi < QUERIES; qi++) {
                const uint k = qi * HEAD_TEXELS + tx;
                olo[k] = softmaxAccumulate(olo[k], corr[qi], p[qi], vlo);
                if (TEXEL_ELEMS == 8u) ohi[k] = softmaxAccumulate(ohi[k], corr[qi], p[qi], vhi);
            }
        }
    }

    // Merge the lanes: rescale each lane's state to the common max, sum, normalise; lane l writes texels l, l + S, ...
    [[unroll]] for (uint qi = 0; qi < QUERIES; qi++) {
        if (qi >= nQueries) break;
        const float f = exp(runMax[qi] - subgroupMax(runMax[qi]));
        const float inv = 1.0 / subgroupAdd(runSum[qi] * f);
        const uint oBase = ((t0 + qi) * pc.nHeads + h) * HEAD_DIM;
        [[unroll]] for (uint tx = 0; tx < HEAD_TEXELS; tx++) {
            const uint k = qi * HEAD_TEXELS + tx;
            const vec4 lo = subgroupAdd(olo[k] * f) * inv;
            const vec4 hi = TEXEL_ELEMS == 8u ? subgroupAdd(ohi[k] * f) * inv : vec4(0.0);
            // `continue`, not `if (tx % WG == lane) { store }`: as in matmul_rows_epilogue.glsl, Mesa 25.0's llvmpipe
            // compiled the `if` form to slower code (tipo-200m pp512 attention 1194 -> 838 ms); Mesa 22.3 alike.
            if (tx % WG != lane) continue;
            const uint d = oBase + tx * TEXEL_ELEMS;
            [[unroll]] for (uint e = 0; e < 4u; e++) o[d + e] = lo[e];
            if (TEXEL_ELEMS == 8u) [[unroll]] for (uint e = 0; e < 4u; e++) o[d + 4u + e] = hi[e];
        }
    }
}
