// Split-k matmul with 16-byte weight loads, for GPUs (F16 weights, cols % 8 == 0):
//
//   y[yOffset + t * yStride + rowOffset + r] (+)= sum_k W[r, k] * n(x[xOffset + t * cols ..])[k]      for r < rows, t < nTokens
//
// with n(x) = x (plain), or rmsnorm(x) * g with the norm fused (NORM), and with GLU: Y = silu(W X) * (W_up X), gate and
// up as two matrices of the same shape. One workgroup (one subgroup where the device has one that size) computes
// ROWS rows x TOKENS tokens. Lane l reads texels l, l + WG, l + 2 WG, ... of each row: 8 halves per 16-byte load,
// neighbouring lanes on neighbouring texels (coalesced), UNROLL texels per row in flight per lane in the unrolled loop.
// Every output is one fma chain per lane in k order, then one reduction, whatever TOKENS and ROWS are: decode (TOKENS = 1)
// and prefill give a token the same bits. The fused norm keeps the sum of squares of x per lane in the same loop and
// scales the result once at the end: sum_k W[r,k] x[k] g[k] * rsqrt(mean(x^2) + eps).
// ROPE (with NORM, for the stacked [q | k | v] projection, GGUF's interleaved rotation pairs): the epilogue rotates each
// pair of rows (2i, 2i+1) of q and k by its token's position, writes q to Y and appends k and v to the layer's caches,
// instead of a separate rope_kv_store dispatch.
// The including file defines NORM, GLU and ROPE (0 or 1) before including this.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;                 // lanes per workgroup (WG)
layout(constant_id = 1) const uint ROWS = 4;    // weight rows per workgroup
layout(constant_id = 2) const uint TOKENS = 1;  // tokens per workgroup
layout(constant_id = 3) const bool USE_SUBGROUP_ADD = true; // false: shared-memory reduction only
layout(constant_id = 4) const uint EPS_BITS = 0;            // the norm's epsilon, as float bits (NORM)
layout(constant_id = 10) const uint UNROLL = 4;             // texel columns per lane in flight in the main loop

layout(std430, binding = 0) readonly buffer Weights { uvec4 w[]; };       // [rows, cols / 8] f16, 8 per texel
layout(std430, binding = 1) readonly buffer ActivationsIn { vec4 x[]; };  // [nTokens, cols / 4] f32
layout(std430, binding = 2) buffer ActivationsOut { float y[]; };         // [nTokens, yStride] f32
#if NORM
layout(std430, binding = 3) readonly buffer NormWeights { vec4 g[]; };    // [cols / 4] f32
#define UP_BINDING 4
#else
#define UP_BINDING 3
#endif
#if GLU
layout(std430, binding = UP_BINDING) readonly buffer UpWeights { uvec4 wUp[]; };  // [rows, cols / 8] f16
#endif

#include "matmul_push.glsl"

#if ROPE
#if GLU || !NORM
#error ROPE is the QKV projection's epilogue: NORM without GLU
#endif
#define K_BINDING 4     // after W, X, Y and the norm weights G
#define V_BINDING 5
#define STEP_BINDING 6
#include "qkv_rope.glsl"

// Rows row, row + 1 (row even) of token tok's [q | k | v] output: q rotated into Y, k rotated and v into the caches at
// position pos (ropeRotation, as in rope_kv_store.comp).
void ropeStore(uint row, uint tok, uint pos, float a, float b) {
    const uint qDim = N_HEADS * HEAD_DIM, kvDim = N_KV_HEADS * HEAD_DIM, kvWords = kvDim / 2u;
    if (row < qDim + kvDim) {
        const vec2 r = ropeRotate(vec2(a, b), ropeRotation((row % HEAD_DIM) / 2u, pos, uintBitsToFloat(FREQ_BASE_BITS), HEAD_DIM));
        if (row < qDim) {
            const uint yi = pc.yOffset + tok * pc.yStride + row;
            y[yi] = r.x;
            y[yi + 1u] = r.y;
        } else {
            storeK(pos * kvWords + (row - qDim) / 2u, r);
        }
    } else {
        storeV(pos * kvWords + (row - qDim - kvDim) / 2u, vec2(a, b));
    }
}
#endif

const uint WG = gl_WorkGroupSize.x;
const uint OUTPUTS = ROWS * TOKENS;
const uint SLOTS = OUTPUTS * (GLU != 0 ? 2u : 1u) + (NORM != 0 ? TOKENS : 0u);
shared float partialSums[WG * SLOTS];

float reduceLane(float v, uint slot) {
    if (USE_SUBGROUP_ADD && gl_NumSubgroups == 1) {
        return subgroupAdd(v);
    }
    // Shared-memory tree reduction: any subgroup size, or none.
    uint lane = gl_LocalInvocationID.x;
    partialSums[slot * WG + lane] = v;
    barrier();
    for (uint stride = WG / 2; stride > 0; stride >>= 1) {
        if (lane < stride) partialSums[slot * WG + lane] += partialSums[slot * WG + lane + stride];
        barrier();
    }
    return partialSums[slot * WG];
}

#include "dot8.glsl"

float acc[OUTPUTS];
#if GLU
float accUp[OUTPUTS];
#endif
#if NORM
float sumSq[TOKENS];
#endif
uint xRow[TOKENS];   // vec4 index of each token's X row
uint wRow[ROWS];     // texel index of each weight row

// acc + (a, b) . (a, b), in element order.
float sumSq8(vec4 a, vec4 b, float acc) {
    acc = fma(a.x, a.x, acc); acc = fma(a.y, a.y, acc); acc = fma(a.z, a.z, acc); acc = fma(a.w, a.w, acc);
    acc = fma(b.x, b.x, acc); acc = fma(b.y, b.y, acc); acc = fma(b.z, b.z, acc); acc = fma(b.w, b.w, acc);
    return acc;
}

// One texel column k8 (elements 8 k8 .. 8 k8 + 7) of every row and token of the workgroup.
void texelColumn(uint k8) {
    vec4 xa[TOKENS], xb[TOKENS];
#if NORM
    const vec4 ga = g[2 * k8], gb = g[2 * k8 + 1];
#endif
    [[unroll]] for (uint t = 0; t < TOKENS; t++) {
        xa[t] = x[xRow[t] + 2 * k8];
        xb[t] = x[xRow[t] + 2 * k8 + 1];
#if NORM
        sumSq[t] = sumSq8(xa[t], xb[t], sumSq[t]);
        xa[t] *= ga;
        xb[t] *= gb;
#endif
    }
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        const uvec4 wt = w[wRow[r] + k8];
#if GLU
        const uvec4 ut = wUp[wRow[r] + k8];
#endif
        [[unroll]] for (uint t = 0; t < TOKENS; t++) {
            acc[r * TOKENS + t] = dot8(wt, xa[t], xb[t], acc[r * TOKENS + t]);
#if GLU
            accUp[r * TOKENS + t] = dot8(ut, xa[t], xb[t], accUp[r * TOKENS + t]);
#endif
        }
    }
}

void main() {
    const uint row0 = gl_WorkGroupID.x * ROWS;
    const uint tok0 = gl_WorkGroupID.y * TOKENS;
    const uint lane = gl_LocalInvocationID.x;
    const uint n8 = pc.cols >> 3;

    [[unroll]] for (uint i = 0; i < OUTPUTS; i++) {
        acc[i] = 0.0;
#if GLU
        accUp[i] = 0.0;
#endif
    }
    [[unroll]] for (uint t = 0; t < TOKENS; t++) {
        // Clamped: the lanes of a token or row past the end compute a duplicate that is never stored.
        xRow[t] = (pc.xOffset >> 2) + min(tok0 + t, pc.nTokens - 1) * (pc.cols >> 2);
#if NORM
        sumSq[t] = 0.0;
#endif
    }
    [[unroll]] for (uint r = 0; r < ROWS; r++) wRow[r] = min(row0 + r, pc.rows - 1) * n8;

    uint k8 = lane;
    for (; k8 + (UNROLL - 1) * WG < n8; k8 += UNROLL * WG) {
        [[unroll]] for (uint u = 0; u < UNROLL; u++) texelColumn(k8 + u * WG);
    }
    for (; k8 < n8; k8 += WG) texelColumn(k8);

#if NORM
    float scale[TOKENS];
    [[unroll]] for (uint t = 0; t < TOKENS; t++)
        scale[t] = inversesqrt(reduceLane(sumSq[t], OUTPUTS * (GLU != 0 ? 2u : 1u) + t) / float(pc.cols) + uintBitsToFloat(EPS_BITS));
#endif
    float result[OUTPUTS];
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        [[unroll]] for (uint t = 0; t < TOKENS; t++) {
            float sum = reduceLane(acc[r * TOKENS + t], r * TOKENS + t);
#if GLU
            float up = reduceLane(accUp[r * TOKENS + t], OUTPUTS + r * TOKENS + t);
#endif
#if NORM
            sum *= scale[t];
#if GLU
            up *= scale[t];
#endif
#endif
#if GLU
            sum = sum / (1.0 + exp(-sum)) * up;   // silu(gate) * up
#endif
            result[r * TOKENS + t] = sum;
        }
    }
    if (lane != 0) return;   // no barrier below
    [[unroll]] for (uint t = 0; t < TOKENS; t++) {
        const uint tok = tok0 + t;
        if (tok >= pc.nTokens) continue;
#if ROPE
        [[unroll]] for (uint r = 0; r < ROWS; r += 2) {
            if (row0 + r < pc.rows) ropeStore(row0 + r, tok, step.pos0 + tok, result[r * TOKENS + t], result[(r + 1) * TOKENS + t]);
        }
#else
        [[unroll]] for (uint r = 0; r < ROWS; r++) {
            const uint row = row0 + r;
            if (row < pc.rows) {
                const uint yi = pc.yOffset + tok * pc.yStride + pc.rowOffset + row;
                y[yi] = pc.accumulate != 0 ? y[yi] + result[r * TOKENS + t] : result[r * TOKENS + t];
            }
        }
#endif
    }
}
