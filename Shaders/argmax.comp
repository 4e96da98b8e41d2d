#version 450
// Greedy sampling on the GPU: the index of the largest logit (lowest index on ties) of one row.
//   result = argmax_i logits[rowOffset + i], i < n
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Logits { float logits[]; };   // [rows, n] f32
layout(std430, binding = 1) writeonly buffer Result { uint bestIndex; float bestValue; };

layout(push_constant) uniform ArgmaxPush { uint n; uint rowOffset; } pc;

shared float sharedValue[gl_WorkGroupSize.x];
shared uint sharedIndex[gl_WorkGroupSize.x];

void main() {
    uint lane = gl_LocalInvocationID.x;
    float best = -1.0 / 0.0;
    uint bestI = 0xFFFFFFFFu;
    for (uint i = lane; i < pc.n; i += gl_WorkGroupSize.x) {
        float v = logits[pc.rowOffset + i];
        if (v > best) { best = v; bestI = i; }   // strided scan: first hit is the lowest index of this lane
    }
    sharedValue[lane] = best;
    sharedIndex[lane] = bestI;
    barrier();
    for (uint stride = gl_WorkGroupSize.x / 2; stride > 0; stride >>= 1) {
        if (lane < stride) {
            float ov = sharedValue[lane + stride];
            uint oi = sharedIndex[lane + stride];
            if (ov > sharedValue[lane] || (ov == sharedValue[lane] && oi < sharedIndex[lane])) {
                sharedValue[lane] = ov;
                sharedIndex[lane] = oi;
            }
        }
        barrier();
    }
    if (lane == 0) { bestIndex = sharedIndex[0]; bestValue = sharedValue[0]; }
}
