// Shared helpers of the quantised matmul kernels (matmul_<type>.comp).
// The including shader defines QW as the name of its weight array (uint words, binding 0), laid out by
// Tipo.Models.Quantization.QuantGpuLayout: the file's blocks byte for byte, each in a slot of a multiple
// of 4 bytes (QBLOCK_WORDS words). Each quant_<type>.glsl then defines, for the slot starting at word
// `base` and the element index i within its block (i % 4 == 0):
//   vec4 qload4(uint base, uint i)   the 4 weights i..i+3
// and the constants QBLOCK_ELEMS (32 or 256) and QBLOCK_WORDS.
#ifndef QUANT_COMMON_GLSL
#define QUANT_COMMON_GLSL

// Byte `off` of the slot starting at word `base`.
uint qbyte(uint base, uint off) {
    return (QW[base + (off >> 2)] >> ((off & 3u) * 8u)) & 0xFFu;
}

// The 4 bytes of a word, lowest first.
uvec4 qbytes4(uint w) {
    return uvec4(w, w >> 8, w >> 16, w >> 24) & 0xFFu;
}

// Signed byte `off` of the slot (int8 scales).
int qsbyte(uint base, uint off) {
    return bitfieldExtract(int(QW[base + (off >> 2)]), int((off & 3u) * 8u), 8);
}

// 6-bit scale (x) and min (y) of sub-block s (0..7) of a Q4_K or Q5_K block, packed as ggml's get_scale_min_k4;
// the 12 scale bytes start at byte `off` of the slot.
uvec2 qscale_min_k4(uint base, uint off, uint s) {
    if (s < 4u)
        return uvec2(qbyte(base, off + s) & 63u, qbyte(base, off + s + 4u) & 63u);
    uint b = qbyte(base, off + s + 4u);
    return uvec2((b & 0xFu) | ((qbyte(base, off + s - 4u) >> 6) << 4),
                 (b >> 4) | ((qbyte(base, off + s) >> 6) << 4));
}

// One weight: element i of the block at `base` (any i).
#define QLOAD1(base, i) (qload4((base), (i) & ~3u)[(i) & 3u])

#endif
