#version 450
// Appends the K and V rows of nTokens new tokens to one layer's caches, converting to the cache type:
//   kCache[pos0 + t, i] = src[t * srcStride + kOffset + i],  vCache[pos0 + t, i] = src[t * srcStride + kOffset + rowSize + i]
// for t < nTokens, i < rowSize (even), pos0 = step.pos0. K and V are adjacent in a fused QKV row.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool F16_CACHE = false;   // false: f32 cache, true: f16 cache
#define STEP_BINDING 3
#include "step.glsl"

layout(std430, binding = 0) readonly buffer Source { vec2 src[]; };          // [nTokens, srcStride] f32, read in pairs
layout(std430, binding = 1) writeonly buffer KF32 { vec2 kF32[]; };          // [ctx, rowSize] f32 (F16_CACHE false)
layout(std430, binding = 1) writeonly buffer KF16 { uint kF16[]; };          // [ctx, rowSize] f16 pairs (F16_CACHE true)
layout(std430, binding = 2) writeonly buffer VF32 { vec2 vF32[]; };
layout(std430, binding = 2) writeonly buffer VF16 { uint vF16[]; };

layout(push_constant) uniform KvStorePush {
    uint rowSize;    // nKvHeads * headDim, even
    uint nTokens;
    uint srcStride;  // floats between tokens in src (even)
    uint kOffset;    // float offset of K in a src row (even); V follows at kOffset + rowSize
} pc;

void main() {
    uint pair = gl_GlobalInvocationID.x;          // index over nTokens * rowSize / 2
    uint pairsPerRow = pc.rowSize >> 1;
    if (pair >= pc.nTokens * pairsPerRow) return;
    uint t = pair / pairsPerRow;
    uint i = pair - t * pairsPerRow;
    uint s = (t * pc.srcStride + pc.kOffset) / 2 + i;
    uint dst = (step.pos0 + t) * pairsPerRow + i;
    vec2 k = src[s], v = src[s + pairsPerRow];
    if (F16_CACHE) { kF16[dst] = packHalf2x16(k); vF16[dst] = packHalf2x16(v); }
    else { kF32[dst] = k; vF32[dst] = v; }
}
