#version 450
// Arithmetic-throughput probe (the compute roofline of `tipo bench --roofline`): every lane runs CHAINS independent
// multiply-add chains, acc = fma(acc, a, b), UNROLL steps of each per loop iteration, with no memory traffic inside the
// loop; it writes its sum so the work cannot be optimised away. One fma is two floating-point operations, whatever
// the driver makes of it (GPUs: one FMA instruction; llvmpipe 22.3: a multiply and an add). a and b come from push
// constants (a = 1 - 2^-12, b = 2^-12 keep the values near 1: no overflow, no denormals).
// bindings: 0 = out [groups * WG] f32       push: { uint iterations; float a; float b; }
// spec: 0 = WG, 1 = CHAINS (enough to cover the multiply-add latency), 2 = UNROLL      grid: (groups, 1, 1)
#extension GL_EXT_control_flow_attributes : require
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint CHAINS = 16;
layout(constant_id = 2) const uint UNROLL = 8;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) writeonly buffer O { float outv[]; };
layout(push_constant) uniform Push { uint iterations; float a; float b; } pc;

void main() {
    float acc[CHAINS];
    [[unroll]] for (uint c = 0; c < CHAINS; c++) acc[c] = 1.0 + float(gl_LocalInvocationID.x + c) * 1.0e-3;
    for (uint i = 0; i < pc.iterations; i++)
        [[unroll]] for (uint u = 0; u < UNROLL; u++)
            [[unroll]] for (uint c = 0; c < CHAINS; c++) acc[c] = fma(acc[c], pc.a, pc.b);
    float s = 0.0;
    [[unroll]] for (uint c = 0; c < CHAINS; c++) s += acc[c];
    outv[gl_WorkGroupID.x * WG + gl_LocalInvocationID.x] = s;
}
