#version 450
// Read-bandwidth probe through a texel buffer (R32G32B32A32_UINT, 16-byte texels), the fastest read path on llvmpipe:
// invocation i sums texels [i * perLane, (i + 1) * perLane) of the bound view as integers and writes its sum, so
// the loads cannot be optimised away.
// bindings: 0 = data [n] texels (read), 1 = out [groups * WG] u32
// push: { uint n; uint outOffset; uint perLane; }   spec: 0 = WG   grid: (groups, 1, 1)
#extension GL_EXT_samplerless_texture_functions : require
layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(set = 0, binding = 0) uniform utextureBuffer data;
layout(std430, set = 0, binding = 1) writeonly buffer O { uint outv[]; };
layout(push_constant) uniform Push { uint n; uint outOffset; uint perLane; } pc;
void main() {
    const uint id = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    const uint first = id * pc.perLane;
    const uint last = min(first + pc.perLane, pc.n);
    uvec4 s = uvec4(0);
    for (uint i = first; i < last; i++) s += texelFetch(data, int(i));
    outv[pc.outOffset + id] = s.x + s.y + s.z + s.w;
}
