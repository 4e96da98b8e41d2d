// One 16-byte texel of a KV cache, for the attention kernels that read the caches as texels (attention_keys.comp,
// attention_groups.comp, decode_layer.comp). The including file defines CACHE_F16, a constant expression: true for an
// f16 cache (8 elements a texel), false for an f32 one (4).

// The 8 (f16) or 4 (f32, hi = 0) elements of texel t.
void unpackTexel(uvec4 t, out vec4 lo, out vec4 hi) {
    if (CACHE_F16) {
        lo = vec4(unpackHalf2x16(t.x), unpackHalf2x16(t.y));
        hi = vec4(unpackHalf2x16(t.z), unpackHalf2x16(t.w));
    } else {
        lo = uintBitsToFloat(t);
        hi = vec4(0.0);
    }
}
