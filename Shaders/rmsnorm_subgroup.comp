#version 450
// RMSNorm for CPU devices: y[t, i] = x[r, i] / sqrt(mean_i(x[r]^2) + eps) * g[i] with r = firstRow + t, one workgroup of exactly one
// subgroup per token. Lane l sums the squares of texels l, l + S, l + 2S, ... of the row (S = the subgroup size),
// one subgroupAdd joins the lanes, and each lane writes its own texels. x and g are read through texel buffers,
// llvmpipe's fastest loads; the former every-lane-sums rmsnorm over storage-buffer loads took 17 ms of a tipo-200m
// pp512 pass per norm on lavapipe (710 ms in all), more than the matmuls gained from not fusing the norm. The host
// runs it only where a workgroup of the subgroup size is one subgroup (RmsNormKernel.UsesSubgroupKernel).
// bindings: 0 = x [firstRow + nTokens, n] f32 as 4-float texels, 1 = g [n] f32 as 4-float texels, 2 = y [nTokens, n] f32 (not x)
// push: { uint n; float eps; uint firstRow; } with n a multiple of 4   spec: 0 = S (the device's subgroup size)   grid: (nTokens, 1, 1)
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_samplerless_texture_functions : require
layout(constant_id = 0) const uint S = 8;
layout(local_size_x_id = 0) in;
layout(set = 0, binding = 0) uniform utextureBuffer X;
layout(set = 0, binding = 1) uniform utextureBuffer G;
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { uint n; float eps; uint firstRow; } pc;

vec4 x4(uint i) { return uintBitsToFloat(texelFetch(X, int(i))); }
vec4 g4(uint i) { return uintBitsToFloat(texelFetch(G, int(i))); }

void main() {
    const uint lane = gl_LocalInvocationID.x;
    const uint texels = pc.n / 4u;
    const uint row = (pc.firstRow + gl_WorkGroupID.x) * texels, out0 = gl_WorkGroupID.x * pc.n;
    vec4 ss = vec4(0.0);
    for (uint i = lane; i < texels; i += S) { const vec4 v = x4(row + i); ss += v * v; }
    const float scale = inversesqrt(subgroupAdd(ss.x + ss.y + ss.z + ss.w) / float(pc.n) + pc.eps);
    for (uint i = lane; i < texels; i += S) {
        const vec4 v = x4(row + i) * scale * g4(i);
        const uint e = out0 + i * 4u;
        y[e] = v.x; y[e + 1u] = v.y; y[e + 2u] = v.z; y[e + 3u] = v.w;
    }
}
