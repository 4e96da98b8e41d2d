// The rope fusion of the stacked [q | k | v] projections that rope q and k and append k and v to the layer's caches in
// their epilogue (matmul_wide.glsl, matmul_rows_decl.glsl): its specialization constants (ids 5-9), the caches
// (rope.glsl's stores) and the step buffer. The including file defines their bindings, K_BINDING, V_BINDING and
// STEP_BINDING (the three after its own), and ROPE_ELEMENT_STORES for rope.glsl's one-element stores.
layout(constant_id = 5) const uint HEAD_DIM = 64;
layout(constant_id = 6) const uint N_HEADS = 1;
layout(constant_id = 7) const uint N_KV_HEADS = 1;
layout(constant_id = 8) const uint FREQ_BASE_BITS = 0;    // the rope's frequency base, as float bits
layout(constant_id = 9) const bool F16_CACHE = false;
#include "rope.glsl"
#include "step.glsl"
