#version 450
// Matrix-vector product, f32 weights, subgroupAdd reduction. See include/matvec.glsl.
#define W_F16 0
#define USE_SUBGROUP 1
#include "matvec.glsl"
