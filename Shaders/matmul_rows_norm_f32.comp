#version 450
// Y (+)= W X with W in F32, 4 floats per texel (cols % 4 == 0), one lane per row, then the RMSNorm of Y into NORMED (NORM_AFTER). See include/matmul_rows_decl.glsl.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define NORM_AFTER
const uint TEXEL_ELEMS = 4;
void unpackTexel(uvec4 t, out vec4 lo, out vec4 hi) {
    lo = uintBitsToFloat(t);
    hi = vec4(0.0);
}
#include "matmul_rows.glsl"
