#version 450
// Rotary position embedding, in place on the first nHeads heads of each token row of x
// (x [nTokens, tokenStride] f32; the Q and K heads of a fused QKV row are adjacent, so one dispatch ropes both).
// Token t has position step.pos0 + t; pair i (0 <= i < headDim/2) rotates by angle pos * freqBase^(-2i/headDim).
// neox = 0: GGUF / llama.cpp "normal" layout, pairs (2i, 2i+1); neox = 1: Hugging Face rotate-half, pairs (i, i + headDim/2).
// bindings: 0 = x [nTokens, tokenStride] f32, 1 = step { pos0 }
// push: { uint nTokens; uint nHeads; uint headDim; uint tokenStride; float freqBase; uint neox; }
// spec: 0 = WG   grid: ceil(nTokens * nHeads * headDim / 2 / WG) groups (KernelMath.Groups1D)
#include "common.glsl"
#define STEP_BINDING 1
#include "step.glsl"
layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) buffer X { float x[]; };
layout(push_constant) uniform Push { uint nTokens; uint nHeads; uint headDim; uint tokenStride; float freqBase; uint neox; } pc;
void main() {
    const uint half_d = pc.headDim / 2u;
    const uint idx = linear_index(WG);
    const uint pairsPerToken = pc.nHeads * half_d;
    if (idx >= pc.nTokens * pairsPerToken) return;
    const uint t = idx / pairsPerToken;
    const uint rem = idx - t * pairsPerToken;
    const uint h = rem / half_d;
    const uint i = rem - h * half_d;
    const float invFreq = pow(pc.freqBase, -2.0 * float(i) / float(pc.headDim));
    const float angle = float(step.pos0 + t) * invFreq;
    const float c = cos(angle), s = sin(angle);
    const uint b = t * pc.tokenStride + h * pc.headDim;
    const uint i0 = pc.neox != 0u ? b + i : b + 2u * i;
    const uint i1 = pc.neox != 0u ? b + i + half_d : b + 2u * i + 1u;
    const float x0 = x[i0], x1 = x[i1];
    x[i0] = x0 * c - x1 * s;
    x[i1] = x0 * s + x1 * c;
}
