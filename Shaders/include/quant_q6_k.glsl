// Q6_K slot, 53 words: [ql 128][qh 64][scales 16 int8][d f16][2 pad].
// Element i: n = i / 128, g = (i % 128) / 32, l = i % 32: low 4 bits are nibble (g / 2) of ql[64n + 32 (g % 2) + l],
// high 2 bits are bits 2g of qh[32n + l]; scale int8 scales[i / 16]. x = d * sc * (q - 32).
#include "quant_common.glsl"
const uint QBLOCK_ELEMS = 256u;
const uint QBLOCK_WORDS = 53u;
vec4 qload4(uint base, uint i) {
    float d = unpackHalf2x16(QW[base + 52u]).x;
    uint n = i >> 7, g = (i >> 5) & 3u, l = i & 31u;
    uvec4 lo = (qbytes4(QW[base + ((64u * n + 32u * (g & 1u) + l) >> 2)]) >> ((g >> 1) * 4u)) & 0xFu;
    uvec4 hi = (qbytes4(QW[base + 32u + ((32u * n + l) >> 2)]) >> (2u * g)) & 3u;
    vec4 q = vec4(ivec4(lo | (hi << 4)) - 32);
    float dl = d * float(qsbyte(base, 192u + (i >> 4)));
    return dl * q;
}
