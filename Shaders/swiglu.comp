#version 450
// SwiGLU: out[i] = silu(gate[i]) * up[i] = gate / (1 + exp(-gate)) * up, element-wise f32.
// bindings: 0 = gate [n] f32, 1 = up [n] f32, 2 = out [n] f32 (may be the gate buffer)
// push: { uint n; }   spec: 0 = WG   grid: KernelMath.Groups1D(n, WG)
#include "common.glsl"
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) readonly buffer G { float gate[]; };
layout(std430, set = 0, binding = 1) readonly buffer U { float up[]; };
layout(std430, set = 0, binding = 2) buffer O { float outv[]; };
layout(push_constant) uniform Push { uint n; } pc;
void main() {
    const uint i = linear_index(WG);
    if (i >= pc.n) return;
    const float g = gate[i];
    outv[i] = g / (1.0 + exp(-g)) * up[i];
}
