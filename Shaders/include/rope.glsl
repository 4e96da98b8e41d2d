// RoPE and the KV-cache append, shared by rope_kv_store.comp and the QKV epilogues of the wide split-k and the
// rows-per-lane matmuls (matmul_wide.glsl, matmul_rows_decl.glsl; their spec constants in qkv_rope.glsl).
// The including file declares `const bool F16_CACHE` and defines K_BINDING and V_BINDING before including this (and
// ROPE_ELEMENT_STORES for storeK1/storeV1).

// (cos, sin) of rotation pair i of a head of headDim elements at position pos: the angle is
// pos * freqBase^(-2i/headDim), as llama.cpp's rope.
vec2 ropeRotation(uint i, uint pos, float freqBase, uint headDim) {
    const float angle = float(pos) * pow(freqBase, -2.0 * float(i) / float(headDim));
    return vec2(cos(angle), sin(angle));
}

// The pair (a, b) rotated by (cos, sin) = cs.
vec2 ropeRotate(vec2 ab, vec2 cs) { return vec2(ab.x * cs.x - ab.y * cs.y, ab.x * cs.y + ab.y * cs.x); }

// The layer's caches [ctx, nKvHeads * headDim], f32, or f16 in packed pairs (F16_CACHE); each store writes two adjacent
// elements (one word of an f16 cache). A kernel that reads them back in the same dispatch from other workgroups defines
// CACHE_ACCESS as coherent (decode_layer.comp).
#ifndef CACHE_ACCESS
#define CACHE_ACCESS writeonly
#endif
layout(std430, binding = K_BINDING) CACHE_ACCESS buffer KF32 { vec2 kF32[]; };
layout(std430, binding = K_BINDING) CACHE_ACCESS buffer KF16 { uint kF16[]; };
layout(std430, binding = V_BINDING) CACHE_ACCESS buffer VF32 { vec2 vF32[]; };
layout(std430, binding = V_BINDING) CACHE_ACCESS buffer VF16 { uint vF16[]; };
void storeK(uint word, vec2 v) { if (F16_CACHE) kF16[word] = packHalf2x16(v); else kF32[word] = v; }
void storeV(uint word, vec2 v) { if (F16_CACHE) vF16[word] = packHalf2x16(v); else vF32[word] = v; }

#ifdef ROPE_ELEMENT_STORES
// One element per store, for kernels whose lanes hold elements far apart (the rows-per-lane QKV epilogue); an f16
// cache is written as 16-bit elements (storageBuffer16BitAccess; the kernel tests find them equal to packHalf2x16's).
#extension GL_EXT_shader_16bit_storage : require
layout(std430, binding = K_BINDING) writeonly buffer KF16e { float16_t kF16e[]; };
layout(std430, binding = V_BINDING) writeonly buffer VF16e { float16_t vF16e[]; };
void storeK1(uint e, float v) { if (F16_CACHE) kF16e[e] = float16_t(v); else kF32[e >> 1][e & 1u] = v; }
void storeV1(uint e, float v) { if (F16_CACHE) vF16e[e] = float16_t(v); else vF32[e >> 1][e & 1u] = v; }
#endif
