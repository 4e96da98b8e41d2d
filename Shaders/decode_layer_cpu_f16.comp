#version 450
// A decode step's layer in one dispatch on CPU devices, F16 weights (8 halves per texel). See include/decode_layer_cpu.glsl.
#extension GL_GOOGLE_include_directive : require
const uint TEXEL_ELEMS = 8u;
void unpackWeights(uvec4 t, out vec4 lo, out vec4 hi) {
    lo = vec4(unpackHalf2x16(t.x), unpackHalf2x16(t.y));
    hi = vec4(unpackHalf2x16(t.z), unpackHalf2x16(t.w));
}
#include "decode_layer_cpu.glsl"
