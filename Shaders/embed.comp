#version 450
// Embedding lookup: out[t, :] = table[ids[t], :] as f32, for tokens whose id lies in this chunk of the table
// [rowBegin, rowBegin + rowCount) (a table over maxStorageBufferRange is bound as several chunks).
// bindings: 0 = ids [nTokens] u32, 1 = table chunk [rowCount, dim] (f32, or f16 as packed uint words), 2 = out [nTokens, dim] f32
// push: { uint dim; uint nTokens; uint rowBegin; uint rowCount; }
// spec: 0 = WG, 1 = TABLE_F16 (0/1)   grid: (ceil(dim / WG), nTokens, 1)
#include "common.glsl"
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint TABLE_F16 = 0;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) readonly buffer Ids { uint ids[]; };
layout(std430, set = 0, binding = 1) readonly buffer TF { float tf[]; };
layout(std430, set = 0, binding = 1) readonly buffer TH { uint th[]; };
layout(std430, set = 0, binding = 2) writeonly buffer O { float outv[]; };
layout(push_constant) uniform Push { uint dim; uint nTokens; uint rowBegin; uint rowCount; } pc;
void main() {
    const uint c = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    const uint t = gl_WorkGroupID.y;
    if (c >= pc.dim || t >= pc.nTokens) return;
    const uint id = ids[t];
    if (id < pc.rowBegin || id - pc.rowBegin >= pc.rowCount) return;
    const uint e = (id - pc.rowBegin) * pc.dim + c;
    outv[t * pc.dim + c] = TABLE_F16 != 0u ? HALF_AT(th, e) : tf[e];
}
