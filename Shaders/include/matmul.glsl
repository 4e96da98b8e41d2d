// Shared body of the weight-times-activation kernels (matmul_f32, matmul_f16, matmul_q8_0).
//
//   y[yOffset + t * yStride + rowOffset + r] (+)= sum_k W[r, k] * x[xOffset + t * cols + k]     for r < rows, t < nTokens
//
// W is one row chunk of a weight matrix ([rows, cols], at most maxStorageBufferRange bytes per binding),
// X the activations [nTokens, cols] f32 (from element xOffset), Y the output [nTokens, yStride] f32. One workgroup computes
// ROWS rows x TOKENS tokens: its lanes split the k dimension in steps of 4, each lane keeps ROWS*TOKENS
// partial sums in registers (every weight load is reused TOKENS times), then one reduction per output.
// Decode uses TOKENS = 1 (a matrix-vector product); prefill uses TOKENS > 1 so each weight tile is read
// once per TOKENS tokens. The including file includes this, then defines `vec4 loadW4(uint row, uint k)` (k % 4 == 0, k + 3 < cols
// guaranteed) and `float loadW1(uint row, uint k)` for the tail, and binding 0, then includes matmul_main.glsl.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;                 // lanes per workgroup
layout(constant_id = 1) const uint ROWS = 2;    // weight rows per workgroup
layout(constant_id = 2) const uint TOKENS = 1;  // tokens per workgroup
layout(constant_id = 3) const bool USE_SUBGROUP_ADD = true; // false: shared-memory reduction only

layout(std430, binding = 1) readonly buffer ActivationsIn { float x[]; };   // [nTokens, cols] f32
layout(std430, binding = 2) buffer ActivationsOut { float y[]; };           // [nTokens, yStride] f32

#include "matmul_push.glsl"

