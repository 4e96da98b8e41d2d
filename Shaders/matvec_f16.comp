#version 450
// Matrix-vector product, f16 weights, subgroupAdd reduction. See include/matvec.glsl.
#define W_F16 1
#define USE_SUBGROUP 1
#include "matvec.glsl"
