// Q5_0 slot, 6 words: [2 pad][d f16][qh u32][qs 16]. Bit i of qh is the 5th bit of element i.
// x = d * (q - 16).
#include "quant_common.glsl"
const uint QBLOCK_ELEMS = 32u;
const uint QBLOCK_WORDS = 6u;
vec4 qload4(uint base, uint i) {
    float d = unpackHalf2x16(QW[base]).y;
    uint qh = QW[base + 1u] >> i;
    uint w = QW[base + 2u + ((i & 15u) >> 2)];
    uvec4 lo = (qbytes4(w) >> ((i >> 4) * 4u)) & 0xFu;
    uvec4 hi = (uvec4(qh, qh >> 1, qh >> 2, qh >> 3) & 1u) << 4;
    return (vec4(lo | hi) - 16.0) * d;
}
