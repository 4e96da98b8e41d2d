// Q5_K slot, 44 words (the file's bytes): [d f16][dmin f16][scales 12][qh 32][qs 128].
// As Q4_K, plus the 5th bit of element i: bit s = i / 32 of qh[i % 32]. x = d * sc * q - dmin * m.
#include "quant_common.glsl"
const uint QBLOCK_ELEMS = 256u;
const uint QBLOCK_WORDS = 44u;

vec4 qload4(uint base, uint i) {
    vec2 dm = unpackHalf2x16(QW[base]);
    uint s = i >> 5, l = i & 31u;
    uvec4 lo = (qbytes4(QW[base + 12u + 8u * (i >> 6) + (l >> 2)]) >> ((s & 1u) * 4u)) & 0xFu;
    uvec4 hi = ((qbytes4(QW[base + 4u + (l >> 2)]) >> s) & 1u) << 4;
    vec4 q = vec4(lo | hi);
    uvec2 sm = qscale_min_k4(base, 4u, s);
    float d1 = dm.x * float(sm.x);
    float m1 = dm.y * float(sm.y);
    return d1 * q - m1;
}
