#version 450
// [q | k | v] = W X with W in Q8_0; q and k rotated (rotate-half pairs) by each token's position, q written to Y, k and v
// appended to the layer's caches. See include/matmul_rows_q8_0.glsl.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define ROPE
#include "matmul_rows_q8_0.glsl"
