// Q3_K slot, 28 words: [hmask 32][qs 64][scales 12][d f16][2 pad].
// Element i: n = i / 128, g = (i % 128) / 32, l = i % 32: low 2 bits are bits 2g of qs[32n + l], the high bit
// is bit 4n + g of hmask[l] (set: no offset, clear: -4). Sixteen 6-bit scales (offset 32), scale s: low
// 4 bits from byte s (s < 8, low nibble) or s - 8 (high nibble), top 2 bits from byte 8 + s % 4, bits 2 (s / 4).
// x = d * (sc - 32) * q.
#include "quant_common.glsl"
const uint QBLOCK_ELEMS = 256u;
const uint QBLOCK_WORDS = 28u;
vec4 qload4(uint base, uint i) {
    float d = unpackHalf2x16(QW[base + 27u]).x;
    uint n = i >> 7, g = (i >> 5) & 3u, l = i & 31u;
    uvec4 lo = (qbytes4(QW[base + 8u + 8u * n + (l >> 2)]) >> (2u * g)) & 3u;
    uvec4 hb = (qbytes4(QW[base + (l >> 2)]) >> (4u * n + g)) & 1u;
    vec4 q = vec4(ivec4(lo) - ivec4((1u - hb) * 4u));
    uint s = i >> 4;
    uint low = s < 8u ? qbyte(base, 96u + s) & 0xFu : qbyte(base, 88u + s) >> 4;
    uint high = (qbyte(base, 104u + (s & 3u)) >> (2u * (s >> 2))) & 3u;
    float dl = d * float(int(low | (high << 4)) - 32);
    return dl * q;
}
