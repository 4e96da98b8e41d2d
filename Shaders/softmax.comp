#version 450
// Numerically stable softmax over each row, in place: x[r, :] = exp(x[r, :] - max) / sum. One workgroup per row.
// bindings: 0 = x [nRows, n] f32 (read/write)
// push: { uint n; }   spec: 0 = WG (power of two)   grid: (nRows, 1, 1)
#include "common.glsl"
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) buffer X { float x[]; };
layout(push_constant) uniform Push { uint n; } pc;
shared float red_buf[WG];
#include "reduce.glsl"
void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint base = gl_WorkGroupID.x * pc.n;
    float m = -3.402823e38;
    for (uint i = tid; i < pc.n; i += WG) m = max(m, x[base + i]);
    m = wg_max(m);
    float s = 0.0;
    for (uint i = tid; i < pc.n; i += WG) { const float e = exp(x[base + i] - m); x[base + i] = e; s += e; }
    s = wg_sum(s);
    const float inv = 1.0 / s;
    for (uint i = tid; i < pc.n; i += WG) x[base + i] *= inv;
}
