#version 450
// Y = silu(W_gate X) * (W_up X) with gate and up in Q8_0, interleaved in blocks of the lanes (matmul_rows_decl.glsl). See include/matmul_rows_q8_0.glsl.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define GLU
#include "matmul_rows_q8_0.glsl"
