#version 450
// Residual add, in place: y[i] += x[i] for i < n (f32).
// bindings: 0 = y [n] f32 (read/write), 1 = x [n] f32
// push: { uint n; }   spec: 0 = workgroup size
// Dispatch: groups = ceil(n / wg) laid out over (x, y) (see KernelMath.Groups1D).
#include "common.glsl"
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) buffer Y { float y[]; };
layout(std430, set = 0, binding = 1) readonly buffer X { float x[]; };
layout(push_constant) uniform Push { uint n; } pc;
void main() {
    uint i = linear_index(WG);
    if (i < pc.n) y[i] += x[i];
}
