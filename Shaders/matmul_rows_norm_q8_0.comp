#version 450
// Y (+)= W X with W in Q8_0, one lane per row, then the RMSNorm of Y into NORMED (NORM_AFTER). See include/matmul_rows_q8_0.glsl and include/matmul_rows_decl.glsl.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define NORM_AFTER
#include "matmul_rows_q8_0.glsl"
