// Q4_0 slot, 5 words: [2 pad][d f16][qs 16]. Element j < 16 is the low nibble of qs[j], j + 16 its high nibble.
// x = d * (q - 8).
#include "quant_common.glsl"
const uint QBLOCK_ELEMS = 32u;
const uint QBLOCK_WORDS = 5u;
vec4 qload4(uint base, uint i) {
    float d = unpackHalf2x16(QW[base]).y;
    uint w = QW[base + 1u + ((i & 15u) >> 2)];
    vec4 q = vec4((qbytes4(w) >> ((i >> 4) * 4u)) & 0xFu);
    return (q - 8.0) * d;
}
