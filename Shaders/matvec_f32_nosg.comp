#version 450
// Matrix-vector product, f32 weights, shared-memory reduction (no subgroup arithmetic). See include/matvec.glsl.
#define W_F16 0
#define USE_SUBGROUP 0
#include "matvec.glsl"
