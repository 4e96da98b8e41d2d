// Q4_1 slot, 5 words (the file's bytes): [d f16][m f16][qs 16]. Nibbles as Q4_0. x = d * q + m.
#include "quant_common.glsl"
const uint QBLOCK_ELEMS = 32u;
const uint QBLOCK_WORDS = 5u;
vec4 qload4(uint base, uint i) {
    vec2 dm = unpackHalf2x16(QW[base]);
    uint w = QW[base + 1u + ((i & 15u) >> 2)];
    vec4 q = vec4((qbytes4(w) >> ((i >> 4) * 4u)) & 0xFu);
    return q * dm.x + dm.y;
}
