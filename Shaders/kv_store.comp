#version 450
// Writes the K or V rows of nTokens new tokens into one layer's cache, converting to the cache type.
//   cache[pos0 + t, i] = src[t, i]      t < nTokens, i < rowSize (even)
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool F16_CACHE = false;   // false: f32 cache, true: f16 cache

layout(std430, binding = 0) readonly buffer Source { vec2 src[]; };   // [nTokens, rowSize] f32, read in pairs
layout(std430, binding = 1) writeonly buffer CacheF32 { vec2 cacheF32[]; };  // [ctx, rowSize] f32 (F16_CACHE false)
layout(std430, binding = 1) writeonly buffer CacheF16 { uint cacheF16[]; };  // [ctx, rowSize] f16 pairs (F16_CACHE true)

layout(push_constant) uniform KvStorePush {
    uint rowSize;   // nKvHeads * headDim, even
    uint nTokens;
    uint pos0;      // cache row of the first token
} pc;

void main() {
    uint pair = gl_GlobalInvocationID.x;          // index over nTokens * rowSize / 2
    uint pairsPerRow = pc.rowSize >> 1;
    if (pair >= pc.nTokens * pairsPerRow) return;
    uint dst = pc.pos0 * pairsPerRow + pair;      // rows are contiguous: token t lands on row pos0 + t
    vec2 v = src[pair];
    if (F16_CACHE) cacheF16[dst] = packHalf2x16(v);
    else cacheF32[dst] = v;
}
