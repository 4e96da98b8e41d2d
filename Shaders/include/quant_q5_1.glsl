// Q5_1 slot, 6 words (the file's bytes): [d f16][m f16][qh u32][qs 16]. x = d * q + m.
#include "quant_common.glsl"
const uint QBLOCK_ELEMS = 32u;
const uint QBLOCK_WORDS = 6u;
vec4 qload4(uint base, uint i) {
    vec2 dm = unpackHalf2x16(QW[base]);
    uint qh = QW[base + 1u] >> i;
    uint w = QW[base + 2u + ((i & 15u) >> 2)];
    uvec4 lo = (qbytes4(w) >> ((i >> 4) * 4u)) & 0xFu;
    uvec4 hi = (uvec4(qh, qh >> 1, qh >> 2, qh >> 3) & 1u) << 4;
    return vec4(lo | hi) * dm.x + dm.y;
}
