// acc + w . (a, b) for a 16-byte texel w of 8 halves: eight fmas in element order (explicit, so every variant rounds the
// same way). Shared by the GPUs' F16 matmuls (matmul_wide.glsl, decode_layer.comp).
float dot8(uvec4 t, vec4 a, vec4 b, float acc) {
    vec2 w0 = unpackHalf2x16(t.x), w1 = unpackHalf2x16(t.y), w2 = unpackHalf2x16(t.z), w3 = unpackHalf2x16(t.w);
    acc = fma(w0.x, a.x, acc); acc = fma(w0.y, a.y, acc); acc = fma(w1.x, a.z, acc); acc = fma(w1.y, a.w, acc);
    acc = fma(w2.x, b.x, acc); acc = fma(w2.y, b.y, acc); acc = fma(w3.x, b.z, acc); acc = fma(w3.y, b.w, acc);
    return acc;
}
