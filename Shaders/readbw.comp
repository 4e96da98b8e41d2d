#version 450
// Read-bandwidth probe: every invocation sums a strided slice of the bound range (vec4 loads, four independent ones
// in flight per iteration) and each workgroup writes one partial sum, so the loads cannot be optimised away.
// bindings: 0 = data [n4] vec4 (read), 1 = out [groups] f32
// push: { uint n4; uint outOffset; }   spec: 0 = WG   grid: (groups, 1, 1)
#include "common.glsl"
layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) readonly buffer D { vec4 data[]; };
layout(std430, set = 0, binding = 1) writeonly buffer O { float outv[]; };
layout(push_constant) uniform Push { uint n4; uint outOffset; } pc;
shared float red_buf[WG];
#include "reduce.glsl"
void main() {
    const uint stride = gl_NumWorkGroups.x * WG;
    vec4 s0 = vec4(0.0), s1 = vec4(0.0), s2 = vec4(0.0), s3 = vec4(0.0);
    uint i = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    for (; i + 3u * stride < pc.n4; i += 4u * stride) {
        s0 += data[i];
        s1 += data[i + stride];
        s2 += data[i + 2u * stride];
        s3 += data[i + 3u * stride];
    }
    for (; i < pc.n4; i += stride) s0 += data[i];
    const vec4 s = (s0 + s1) + (s2 + s3);
    const float total = wg_sum(s.x + s.y + s.z + s.w);
    if (gl_LocalInvocationID.x == 0u) outv[pc.outOffset + gl_WorkGroupID.x] = total;
}
