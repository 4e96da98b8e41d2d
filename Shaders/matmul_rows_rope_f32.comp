#version 450
// [q | k | v] = W X (X normalised by the rmsnorm kernel before it), with W in F32, 4 floats per texel, one lane per row; q and k rotated
// (rotate-half pairs) by each token's position, q written to Y, k and v appended to the layer's caches. See include/matmul_rows.glsl.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define ROPE
const uint TEXEL_ELEMS = 4;
void unpackTexel(uvec4 t, out vec4 lo, out vec4 hi) {
    lo = uintBitsToFloat(t);
    hi = vec4(0.0);
}
#include "matmul_rows.glsl"
