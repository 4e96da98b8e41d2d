// Q4_K slot, 36 words (the file's bytes): [d f16][dmin f16][scales 12][qs 128].
// Element i: chunk j = i / 64, sub-block s = i / 32, l = i % 32: nibble (s % 2) of qs[32j + l].
// Scale and min of sub-block s are 6-bit, packed in the 12 scale bytes (ggml's get_scale_min_k4).
// x = d * sc * q - dmin * m.
#include "quant_common.glsl"
const uint QBLOCK_ELEMS = 256u;
const uint QBLOCK_WORDS = 36u;

vec4 qload4(uint base, uint i) {
    vec2 dm = unpackHalf2x16(QW[base]);
    uint s = i >> 5, l = i & 31u;
    uint w = QW[base + 4u + 8u * (i >> 6) + (l >> 2)];
    vec4 q = vec4((qbytes4(w) >> ((s & 1u) * 4u)) & 0xFu);
    uvec2 sm = qscale_min_k4(base, 4u, s);
    float d1 = dm.x * float(sm.x);
    float m1 = dm.y * float(sm.y);
    return d1 * q - m1;
}
