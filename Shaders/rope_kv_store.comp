#version 450
// Rotary position embedding of the new tokens' q and k heads, and the append of their k and v to one layer's caches,
// in one dispatch. Rows of qkv are [q heads | k heads | v] (tokenStride floats); token t has position step.pos0 + t.
//   q: each rotation pair (2i, 2i+1) or (i, i + headDim/2) rotated in place in qkv by one invocation
//   k, v: each invocation writes two adjacent cache elements (one packed word of an f16 cache): k rotated, v copied
// Pair i of a head rotates by angle pos * freqBase^(-2i/headDim). neox = 0: GGUF / llama.cpp "normal" layout,
// pairs (2i, 2i+1); neox = 1: Hugging Face rotate-half, pairs (i, i + headDim/2). Caches are f32 or f16 (F16_CACHE).
// bindings: 0 = qkv [nTokens, tokenStride] f32, 1 = kCache [ctx, nKvHeads * headDim], 2 = vCache (same), 3 = step { pos0 }
// push: { uint nHeads; uint nKvHeads; uint tokenStride; float freqBase; uint neox; }
// spec: 0 = WG, 1 = F16_CACHE, 2 = HEAD_DIM   grid: (ceil((nHeads + 2 nKvHeads) * HEAD_DIM / 2 / WG), nTokens)
// The head size is a specialization constant and the token the workgroup's y: CPUs have no vector integer division,
// so every division by a run-time value costs one scalar divide per lane (lavapipe, tipo-200m pp512: 411-435 ms in 20
// dispatches, against 445-469 with the head size in the push constants and the token divided out of a 1-D index).
#include "common.glsl"
#define STEP_BINDING 3
#include "step.glsl"
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const bool F16_CACHE = false;
layout(constant_id = 2) const uint HEAD_DIM = 64;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) buffer QKV { float qkv[]; };
#define K_BINDING 1
#define V_BINDING 2
#include "rope.glsl"
layout(push_constant) uniform Push { uint nHeads; uint nKvHeads; uint tokenStride; float freqBase; uint neox; } pc;

vec2 rotation(uint i, uint pos) { return ropeRotation(i, pos, pc.freqBase, HEAD_DIM); }

// Element d of the head starting at qkv[b], rotated for position pos (read-only: for k, which goes to the cache).
float ropedElement(uint b, uint d, uint pos) {
    const uint halfD = HEAD_DIM / 2u;
    const bool first = pc.neox != 0u ? d < halfD : (d & 1u) == 0u;
    const uint partner = pc.neox != 0u ? (first ? d + halfD : d - halfD) : (d ^ 1u);
    const vec2 cs = rotation(pc.neox != 0u ? d % halfD : d / 2u, pos);
    const float x = qkv[b + d], y = qkv[b + partner];
    return first ? x * cs.x - y * cs.y : y * cs.y + x * cs.x;
}

void main() {
    const uint halfD = HEAD_DIM / 2u;
    const uint kvDim = pc.nKvHeads * HEAD_DIM;
    const uint qPairs = pc.nHeads * halfD, kvWords = kvDim / 2u;
    const uint t = gl_WorkGroupID.y;
    const uint item = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    if (item >= qPairs + 2u * kvWords) return;
    const uint row = t * pc.tokenStride;
    const uint pos = step.pos0 + t;
    const uint qDim = pc.nHeads * HEAD_DIM;
    if (item < qPairs) {
        // q: rotate pair i of head h in place
        const uint h = item / halfD, i = item - h * halfD;
        const uint b = row + h * HEAD_DIM;
        const uint i0 = pc.neox != 0u ? b + i : b + 2u * i;
        const uint i1 = pc.neox != 0u ? b + i + halfD : b + 2u * i + 1u;
        const vec2 r = ropeRotate(vec2(qkv[i0], qkv[i1]), rotation(i, pos));
        qkv[i0] = r.x;
        qkv[i1] = r.y;
    } else if (item < qPairs + kvWords) {
        // k: elements e, e + 1 of the row's k, rotated, into the cache
        const uint e = 2u * (item - qPairs);
        const uint kh = e / HEAD_DIM, d = e - kh * HEAD_DIM;
        const uint b = row + qDim + kh * HEAD_DIM;
        storeK(pos * kvWords + e / 2u, vec2(ropedElement(b, d, pos), ropedElement(b, d + 1u, pos)));
    } else {
        // v: elements e, e + 1 copied
        const uint e = 2u * (item - qPairs - kvWords);
        const uint src = row + qDim + kvDim + e;
        storeV(pos * kvWords + e / 2u, vec2(qkv[src], qkv[src + 1u]));
    }
}
