// Q2_K slot, 21 words (the file's bytes): [scales 16][qs 64][d f16][dmin f16].
// Element i: half n = i / 128, group g = (i % 128) / 32, l = i % 32: bits 2g of qs[32n + l];
// scales[i / 16]: low nibble scale, high nibble min. x = d * sc * q - dmin * m.
#include "quant_common.glsl"
const uint QBLOCK_ELEMS = 256u;
const uint QBLOCK_WORDS = 21u;
vec4 qload4(uint base, uint i) {
    vec2 dm = unpackHalf2x16(QW[base + 20u]);
    uint n = i >> 7, g = (i >> 5) & 3u, l = i & 31u;
    uint w = QW[base + 4u + 8u * n + (l >> 2)];
    vec4 q = vec4((qbytes4(w) >> (2u * g)) & 3u);
    uint sc = qbyte(base, i >> 4);
    float dl = dm.x * float(sc & 0xFu);
    float ml = dm.y * float(sc >> 4);
    return dl * q - ml;
}
