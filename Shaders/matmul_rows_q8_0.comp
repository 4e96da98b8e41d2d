#version 450
// Y (+)= W X with W in Q8_0, one lane per row. See include/matmul_rows_q8_0.glsl.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "matmul_rows_q8_0.glsl"
