#version 450
// A decode step's layer in one dispatch on CPU devices, F32 weights (4 floats per texel). See include/decode_layer_cpu.glsl.
#extension GL_GOOGLE_include_directive : require
const uint TEXEL_ELEMS = 4u;
void unpackWeights(uvec4 t, out vec4 lo, out vec4 hi) {
    lo = uintBitsToFloat(t);
    hi = vec4(0.0);
}
#include "decode_layer_cpu.glsl"
