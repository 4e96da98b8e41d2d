#version 450
// Y = silu(W_gate X) * (W_up X), SwiGLU gate and up in one pass, with W in F32, 4 floats per texel (cols % 4 == 0), one lane per row. See include/matmul_rows.glsl.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define GLU
const uint TEXEL_ELEMS = 4;
void unpackTexel(uvec4 t, out vec4 lo, out vec4 hi) {
    lo = uintBitsToFloat(t);
    hi = vec4(0.0);
}
#include "matmul_rows.glsl"
