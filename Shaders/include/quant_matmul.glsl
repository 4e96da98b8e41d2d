// loadW4 / loadW1 of the quantised matmul kernels (see matmul.glsl) over QuantGpuLayout's block slots:
// row r of W is cols / QBLOCK_ELEMS consecutive slots of QBLOCK_WORDS words. Include after quant_<type>.glsl.
uint qslot(uint row, uint k) {
    return (row * (pc.cols / QBLOCK_ELEMS) + k / QBLOCK_ELEMS) * QBLOCK_WORDS;
}
vec4 loadW4(uint row, uint k) {
    return qload4(qslot(row, k), k % QBLOCK_ELEMS);
}
float loadW1(uint row, uint k) {
    return QLOAD1(qslot(row, k), k % QBLOCK_ELEMS);
}
