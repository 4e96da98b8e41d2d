#version 450
// RMSNorm: y[t, i] = x[firstRow + t, i] / sqrt(mean_i(x[firstRow + t]^2) + eps) * w[i]. One workgroup per token (row),
// the lanes sharing the sum through a shared-memory tree. The CPU kernels run rmsnorm_subgroup instead where they can
// (RmsNormKernel.UsesSubgroupKernel).
// bindings: 0 = x [firstRow + nTokens, n] f32, 1 = w [n] f32, 2 = y [nTokens, n] f32 (may be x when firstRow = 0)
// push: { uint n; float eps; uint firstRow; }   spec: 0 = WG (power of two)   grid: (nTokens, 1, 1)
#include "common.glsl"
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform Push { uint n; float eps; uint firstRow; } pc;
shared float red_buf[WG];
#include "reduce.glsl"
void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint base = (pc.firstRow + gl_WorkGroupID.x) * pc.n, out0 = gl_WorkGroupID.x * pc.n;
    float ss = 0.0;
    for (uint i = tid; i < pc.n; i += WG) { const float v = x[base + i]; ss += v * v; }
    ss = wg_sum(ss);
    barrier();
    const float scale = inversesqrt(ss / float(pc.n) + pc.eps);
    for (uint i = tid; i < pc.n; i += WG) y[out0 + i] = x[base + i] * scale * w[i];
}
