// The rope fusion of the stacked [q | k | v] projections that rope q and k and append k and v to the layer's caches in
// their epilogue (matmul_wide.glsl, matmul_rows_decl.glsl): its specialization constants (ids 5-9), the caches
// (bindings 4 and 5, rope.glsl's stores) and the step buffer (binding 6). Define ROPE_ELEMENT_STORES first for
// rope.glsl's one-element stores.
layout(constant_id = 5) const uint HEAD_DIM = 64;
layout(constant_id = 6) const uint N_HEADS = 1;
layout(constant_id = 7) const uint N_KV_HEADS = 1;
layout(constant_id = 8) const uint FREQ_BASE_BITS = 0;    // the rope's frequency base, as float bits
layout(constant_id = 9) const bool F16_CACHE = false;
#define K_BINDING 4
#define V_BINDING 5
#include "rope.glsl"
#define STEP_BINDING 6
#include "step.glsl"
