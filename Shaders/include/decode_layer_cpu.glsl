// A transformer layer of a decode step per dispatch on CPU devices (llvmpipe): the five per-op dispatches of a layer
// (QKV + rope + cache append, attention, Wo + residual + norm, gate/up + SwiGLU, W_down + residual + norm) in one, their
// boundaries replaced by grid syncs. On lavapipe a dependent dispatch costs ~45-60 us here (the queue thread wakes
// llvmpipe's pool threads and waits to be woken: two thread wake-ups on this VM), a spin sync between the two workgroups
// of one dispatch ~1-3 us.
// The grid is one workgroup of one subgroup per llvmpipe thread (DecodeLayerCpuKernel): llvmpipe hands a dispatch's
// workgroups to its threads, so with no more workgroups than threads they all run at once. Each phase gives block b of
// its rows (ROWS x lanes rows, the matrices' row tiles) to workgroup b mod T and head h to workgroup h mod T, with the
// per-op kernels' arithmetic (matmul_rows.glsl with one token, attention_keys.comp with one query, NORM_AFTER's norm).
// The phases repeat the per-op kernels' code instead of sharing it: llvmpipe compiles each of those to code tuned by
// measurement (README, Speed), and DecodeLayerCpuTests holds the two recordings to the same bits. Attention's
// online-softmax update, whose order of sums those bits hang on, is shared with attention_keys.comp
// (online_softmax.glsl).
// The bindings are the per-op kernels', in their order (the host concatenates their descriptor sets), and one more:
//   0-5 QKV (matmul_rows_rope: W, X = the attention norm's output, Y = q, K, V, step), 6-10 attention (attention_keys:
//   Q, K, V, O, step), 11-16 Wo (matmul_rows_norm: W, X = attention output, Y = the residual, the ffn norm's weights,
//   its output, counter), 17-19 gate/up (matmul_rows_glu: W, X, Y), 20-25 W_down (matmul_rows_norm: W, X, Y = the
//   residual, the next norm's weights, its output, counter), 26 the sync counter.
// A sync that waits SYNC_POLLS polls in all gives up, sets the failure word and ends every wait: the results are wrong
// then, and the host decodes with the per-op dispatches instead. Besides giving the other thread time, a poll's delay
// keeps the polls far below llvmpipe's limit on an invocation's loop iterations (65535, Mesa 22.3: past it every loop
// ends silently), which the host counts SYNC_POLLS against.
// spec: 0 = WG (the subgroup size), 1 = ROWS (rows per lane), 2 = HIDDEN, 3 = FF, 4 = N_HEADS, 5 = N_KV_HEADS,
//       6 = HEAD_DIM, 7 = FREQ_BASE_BITS, 8 = F16_CACHE, 9 = EPS_BITS, 10 = SCALE_BITS (attention's score scale),
//       11 = SYNC_POLLS, 12 = FETCH_LAG (as the rows kernels': row r's fetch waits for row r - FETCH_LAG's sums, by an
//       index term that is always 0, pc.layer >> 31, but unknown to the compiler), 13 = ATTN_KEYS (attention_keys.comp's
//       KEYS). push: { uint layer; }
//       grid: (T, 1, 1), T <= llvmpipe's threads.
// The including file (decode_layer_cpu_f16.comp, _f32.comp) defines TEXEL_ELEMS (weights per texel) and
// unpackWeights(uvec4, out vec4 lo, out vec4 hi), as the per-op kernels its unpackTexel.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 16;
layout(constant_id = 2) const uint HIDDEN = 64;
layout(constant_id = 3) const uint FF = 192;
layout(constant_id = 4) const uint N_HEADS = 1;
layout(constant_id = 5) const uint N_KV_HEADS = 1;
layout(constant_id = 6) const uint HEAD_DIM = 64;
layout(constant_id = 7) const uint FREQ_BASE_BITS = 0;
layout(constant_id = 8) const bool F16_CACHE = false;
layout(constant_id = 9) const uint EPS_BITS = 0;
layout(constant_id = 10) const uint SCALE_BITS = 0;
layout(constant_id = 11) const uint SYNC_POLLS = 1000;
layout(constant_id = 12) const uint FETCH_LAG = 0;   // the decode rows kernels' fetch-order anchor (matmul_rows.glsl)
layout(constant_id = 13) const uint ATTN_KEYS = 1;   // attention_keys.comp's KEYS: keys per lane per softmax update

const uint WG = gl_WorkGroupSize.x;
const uint Q_DIM = N_HEADS * HEAD_DIM, KV_DIM = N_KV_HEADS * HEAD_DIM, QKV_DIM = Q_DIM + 2u * KV_DIM;
const uint BLOCK = WG * ROWS;   // rows of a block, and of the matrices' row tiles

// QKV (matmul_rows_rope)
layout(binding = 0) uniform utextureBuffer Wqkv;                            // [qkv_dim, hidden] tiled
layout(binding = 1) uniform utextureBuffer XnQkv;                           // [hidden] f32: norm(x) g_attn
layout(std430, binding = 2) buffer QOut { float qOut[]; };                 // [qkv_dim] f32: q at 0..q_dim
#define K_BINDING 3
#define V_BINDING 4
#define ROPE_ELEMENT_STORES
#include "rope.glsl"                                                        // [ctx, kv_dim] f32|f16
layout(std430, binding = 5) readonly buffer Step { uint pos0; } step;
// attention (attention_keys)
layout(binding = 6) uniform utextureBuffer Qt;                              // [qkv_dim] f32 as 4-float texels
layout(binding = 7) uniform utextureBuffer Kt;                              // [ctx, kv_dim] f32|f16 as 16-byte texels
layout(binding = 8) uniform utextureBuffer Vt;
layout(std430, binding = 9) writeonly buffer AOut { float aOut[]; };       // [q_dim] f32
// Wo (matmul_rows_norm)
layout(binding = 11) uniform utextureBuffer Wo;                             // [hidden, q_dim] tiled
layout(binding = 12) uniform utextureBuffer At;                             // [q_dim] f32: attention output
layout(std430, binding = 13) coherent buffer XRes { float x[]; };          // [hidden] f32: the residual stream
layout(binding = 14) uniform utextureBuffer Gffn;                           // [hidden] f32
layout(std430, binding = 15) writeonly buffer XnOut { float xn[]; };        // [hidden] f32: norm(x) g (ffn, then the next)
// gate/up (matmul_rows_glu)
layout(binding = 17) uniform utextureBuffer Wglu;                           // [2 ff, hidden] gate/up interleaved, tiled
layout(binding = 18) uniform utextureBuffer XnFfn;                          // [hidden] f32: norm(x) g_ffn
layout(std430, binding = 19) writeonly buffer HOut { float hOut[]; };       // [ff] f32: silu(gate) * up
// W_down (matmul_rows_norm)
layout(binding = 20) uniform utextureBuffer Wdown;                          // [hidden, ff] tiled
layout(binding = 21) uniform utextureBuffer Ht;                             // [ff] f32
layout(binding = 23) uniform utextureBuffer Gnext;                          // [hidden] f32: the next norm's weights
layout(std430, binding = 26) coherent buffer Sync {
    uint arrived;   // workgroups' arrivals at syncs, zeroed before each step; bit 31 (GAVE_UP): a sync gave up
    uint failed;    // set by a sync that gave up (read and cleared by the host)
    uint sink;      // where the polls' pauses leave their result, so that the compiler keeps them
} sync;

layout(push_constant) uniform Push { uint layer; } pc;

const uint GAVE_UP = 0x80000000u;
vec4 texel4(utextureBuffer t, uint i) { return uintBitsToFloat(texelFetch(t, int(i))); }

// --- grid sync ------------------------------------------------------------------------------------------------------

uint polls = 0u;   // this invocation's polls, of all its syncs
uint pauseState;   // the polls' pauses' arithmetic, threaded from one to the next

// Counts the workgroup in once its stores are done; returns the count before it (every lane).
uint arrive() {
    memoryBarrierBuffer();
    subgroupMemoryBarrierBuffer();
    uint before = 0u;
    if (subgroupElect()) before = atomicAdd(sync.arrived, 1u);
    return subgroupBroadcastFirst(before);
}

// About half a microsecond of dependent integer arithmetic on llvmpipe, no loop: the period of a poll. (Not an affine
// step such as v * a + b, which LLVM folds into one.)
uint pause(uint v) {
#define P1 v = v * v + (v >> 7u);
#define P4 P1 P1 P1 P1
#define P32 P4 P4 P4 P4 P4 P4 P4 P4
    P32 P32 P32 P32 P32 P32 P32 P32
#undef P32
#undef P4
#undef P1
    return v;
}

// Waits until the counter reaches target (or a sync gave up); the stores counted before are visible after it.
void waitFor(uint target) {
    if (subgroupElect()) {
        // An atomic add of 0, not a load: the read-modify-write cannot be hoisted out of the loop.
        // (GAVE_UP, bit 31, puts the counter past every target.)
        while (atomicAdd(sync.arrived, 0u) < target) {
            if (++polls >= SYNC_POLLS) {
                atomicOr(sync.arrived, GAVE_UP);
                sync.failed = 1u;
                break;
            }
            pauseState = pause(pauseState);
        }
    }
    memoryBarrierBuffer();
    subgroupMemoryBarrierBuffer();
}

// --- rows-per-lane matvec (matmul_rows.glsl with TOKENS = 1) ----------------------------------------------------------

// acc[r] = row (block * BLOCK + r * WG + lane) of W times X, W in row tiles of BLOCK rows (texel kt of row i at
// (i / BLOCK * texelsPerRow + kt) * BLOCK + i % BLOCK), X `texelsPerRow * TEXEL_ELEMS` floats.
#define MATVEC(W, X, block, texelsPerRow, rows, acc) { \
    const uint row0_ = (block) * BLOCK + gl_SubgroupInvocationID; \
    int rowTexel_[ROWS]; \
    [[unroll]] for (uint r_ = 0u; r_ < ROWS; r_++) { \
        const uint i_ = min(row0_ + r_ * WG, (rows) - 1u); \
        rowTexel_[r_] = int(i_ / BLOCK * (texelsPerRow) * BLOCK + i_ % BLOCK); \
        acc[r_] = 0.0; \
    } \
    for (uint kt_ = 0u; kt_ < (texelsPerRow); kt_++) { \
        const vec4 xlo_ = texel4(X, kt_ * (TEXEL_ELEMS / 4u)); \
        const vec4 xhi_ = TEXEL_ELEMS == 8u ? texel4(X, kt_ * 2u + 1u) : vec4(0.0); \
        [[unroll]] for (uint r_ = 0u; r_ < ROWS; r_++) { \
            uint after_ = 0u; \
            if (FETCH_LAG > 0u && r_ >= FETCH_LAG) after_ = floatBitsToUint(acc[r_ - FETCH_LAG]); \
            after_ &= pc.layer >> 31; \
            vec4 wlo_, whi_; \
            unpackWeights(texelFetch(W, rowTexel_[r_] + int(kt_ * BLOCK) + int(after_)), wlo_, whi_); \
            float s_ = dot(wlo_, xlo_); \
            if (TEXEL_ELEMS == 8u) s_ += dot(whi_, xhi_); \
            acc[r_] += s_; \
        } \
    } }

// x += W X for this workgroup's blocks of the residual's rows (matmul_rows_epilogue's accumulate); uses wg, T, lane, acc.
#define ADD_TO_RESIDUAL(W, X, texelsPerRow) \
    for (uint b = wg; b * BLOCK < HIDDEN; b += T) { \
        MATVEC(W, X, b, texelsPerRow, HIDDEN, acc) \
        [[unroll]] for (uint r = 0u; r < ROWS; r++) { \
            const uint row = b * BLOCK + r * WG + lane; \
            if (row >= HIDDEN) continue; \
            x[row] = x[row] + acc[r]; \
        } \
    }

// NORM_AFTER's norm (matmul_rows_epilogue.glsl): xn = rmsnorm(x) * g, by this one subgroup.
void normInto(utextureBuffer G) {
    const uint lane = gl_SubgroupInvocationID, texels = HIDDEN / 4u;
    vec4 ss = vec4(0.0);
    for (uint i = lane; i < texels; i += WG) {
        const vec4 v = vec4(x[4u * i], x[4u * i + 1u], x[4u * i + 2u], x[4u * i + 3u]);
        ss += v * v;
    }
    const float scale = inversesqrt(subgroupAdd(ss.x + ss.y + ss.z + ss.w) / float(HIDDEN) + uintBitsToFloat(EPS_BITS));
    for (uint i = lane; i < texels; i += WG) {
        const vec4 v = vec4(x[4u * i], x[4u * i + 1u], x[4u * i + 2u], x[4u * i + 3u]) * scale * texel4(G, i);
        const uint e = i * 4u;
        xn[e] = v.x; xn[e + 1u] = v.y; xn[e + 2u] = v.z; xn[e + 3u] = v.w;
    }
}

// --- attention (attention_keys.comp with one query) --------------------------------------------------------------------

const uint CACHE_TEXEL_ELEMS = F16_CACHE ? 8u : 4u;
const uint HEAD_TEXELS = HEAD_DIM / CACHE_TEXEL_ELEMS;
const float NEG_BIG = -3.0e38;
#define CACHE_F16 F16_CACHE
#include "cache_texel.glsl"
#define SOFTMAX_KEYS ATTN_KEYS
#define SOFTMAX_STRIDE WG
#include "online_softmax.glsl"

void attendHead(uint h, uint pos) {
    const uint lane = gl_SubgroupInvocationID;
    const uint kvh = h / (N_HEADS / N_KV_HEADS);
    const uint rowTexels = N_KV_HEADS * HEAD_TEXELS;
    const uint headTexel = kvh * HEAD_TEXELS;
    const float scale = uintBitsToFloat(SCALE_BITS);
    vec4 qlo[HEAD_TEXELS], qhi[HEAD_TEXELS], olo[HEAD_TEXELS], ohi[HEAD_TEXELS];
    const uint qBase = h * HEAD_DIM / 4u;
    [[unroll]] for (uint tx = 0u; tx < HEAD_TEXELS; tx++) {
        qlo[tx] = texel4(Qt, qBase + tx * (CACHE_TEXEL_ELEMS / 4u)) * scale;
        qhi[tx] = CACHE_TEXEL_ELEMS == 8u ? texel4(Qt, qBase + tx * 2u + 1u) * scale : vec4(0.0);
        olo[tx] = vec4(0.0);
        ohi[tx] = vec4(0.0);
    }
    float runMax = NEG_BIG, runSum = 0.0;
    const uint len = pos + 1u;
    for (uint j0 = 0u; j0 < len; j0 += WG * ATTN_KEYS) {
        int rowBase[ATTN_KEYS];
        float s[ATTN_KEYS];
        [[unroll]] for (uint b = 0u; b < ATTN_KEYS; b++) {
            rowBase[b] = int(min(j0 + b * WG + lane, len - 1u) * rowTexels + headTexel);
            s[b] = 0.0;
        }
        [[unroll]] for (uint tx = 0u; tx < HEAD_TEXELS; tx++) {
            [[unroll]] for (uint b = 0u; b < ATTN_KEYS; b++) {
                vec4 klo, khi;
                unpackTexel(texelFetch(Kt, rowBase[b] + int(tx)), klo, khi);
                s[b] += dot(qlo[tx], klo) + dot(qhi[tx], khi);
            }
        }
        float p[ATTN_KEYS];
        const float corr = softmaxUpdate(s, j0 + lane, len, runMax, runSum, p);
        [[unroll]] for (uint tx = 0u; tx < HEAD_TEXELS; tx++) {
            vec4 vlo[ATTN_KEYS], vhi[ATTN_KEYS];
            [[unroll]] for (uint b = 0u; b < ATTN_KEYS; b++) unpackTexel(texelFetch(Vt, rowBase[b] + int(tx)), vlo[b], vhi[b]);
            olo[tx] = softmaxAccumulate(olo[tx], corr, p, vlo);
            if (CACHE_TEXEL_ELEMS == 8u) ohi[tx] = softmaxAccumulate(ohi[tx], corr, p, vhi);
        }
    }
    const float f = exp(runMax - subgroupMax(runMax));
    const float inv = 1.0 / subgroupAdd(runSum * f);
    const uint oBase = h * HEAD_DIM;
    [[unroll]] for (uint tx = 0u; tx < HEAD_TEXELS; tx++) {
        const vec4 lo = subgroupAdd(olo[tx] * f) * inv;
        const vec4 hi = CACHE_TEXEL_ELEMS == 8u ? subgroupAdd(ohi[tx] * f) * inv : vec4(0.0);
        if (tx % WG != lane) continue;
        const uint d = oBase + tx * CACHE_TEXEL_ELEMS;
        [[unroll]] for (uint e = 0u; e < 4u; e++) aOut[d + e] = lo[e];
        if (CACHE_TEXEL_ELEMS == 8u) [[unroll]] for (uint e = 0u; e < 4u; e++) aOut[d + 4u + e] = hi[e];
    }
}

// --- the layer ---------------------------------------------------------------------------------------------------------

void main() {
    const uint T = gl_NumWorkGroups.x, wg = gl_WorkGroupID.x, lane = gl_SubgroupInvocationID;
    const uint pos = step.pos0;
    const uint base = pc.layer * (5u * T + 1u);   // arrivals before this dispatch: 5 of each workgroup, and the ffn norm's
    pauseState = wg;
    float acc[ROWS];

    // 1. [q | k | v] = Wqkv xn; q and k roped; q to QOut, k and v appended to the caches (matmul_rows_epilogue's ROPE).
    {
        const uint halfD = HEAD_DIM / 2u, partner = halfD / WG;
        for (uint b = wg; b * BLOCK < QKV_DIM; b += T) {
            MATVEC(Wqkv, XnQkv, b, HIDDEN / TEXEL_ELEMS, QKV_DIM, acc)
            const uint row0 = b * BLOCK + lane;
            [[unroll]] for (uint r = 0u; r < ROWS; r++) {
                if ((r * WG) % HEAD_DIM >= halfD) continue;
                const uint row = row0 + r * WG, d = row % HEAD_DIM;
                if (row >= QKV_DIM) continue;
                float a = acc[r], c = acc[r + partner];
                if (row < Q_DIM + KV_DIM) {
                    const vec2 rot = ropeRotate(vec2(a, c), ropeRotation(d, pos, uintBitsToFloat(FREQ_BASE_BITS), HEAD_DIM));
                    a = rot.x; c = rot.y;
                }
                if (row < Q_DIM) {
                    qOut[row] = a;
                    qOut[row + halfD] = c;
                } else if (row < Q_DIM + KV_DIM) {
                    storeK1(pos * KV_DIM + row - Q_DIM, a);
                    storeK1(pos * KV_DIM + row - Q_DIM + halfD, c);
                } else {
                    storeV1(pos * KV_DIM + row - Q_DIM - KV_DIM, a);
                    storeV1(pos * KV_DIM + row - Q_DIM - KV_DIM + halfD, c);
                }
            }
        }
    }
    arrive();
    waitFor(base + T);

    // 2. Attention, a head at a time.
    for (uint h = wg; h < N_HEADS; h += T) attendHead(h, pos);
    arrive();
    waitFor(base + 2u * T);

    // 3. x += Wo a; the last workgroup in then writes xn = rmsnorm(x) g_ffn.
    ADD_TO_RESIDUAL(Wo, At, Q_DIM / TEXEL_ELEMS)
    if (arrive() == base + 3u * T - 1u) {
        memoryBarrierBuffer();
        normInto(Gffn);
        memoryBarrierBuffer();
        subgroupMemoryBarrierBuffer();
        if (subgroupElect()) atomicAdd(sync.arrived, 1u);
    }
    waitFor(base + 3u * T + 1u);

    // 4. h = silu(Wgate xn) * (Wup xn): even rows of W gate, the odd row after each up (matmul_rows_epilogue's GLU).
    for (uint b = wg; b * BLOCK < 2u * FF; b += T) {
        MATVEC(Wglu, XnFfn, b, HIDDEN / TEXEL_ELEMS, 2u * FF, acc)
        [[unroll]] for (uint r = 0u; r < ROWS; r += 2u) {
            const uint row = b * BLOCK + r * WG + lane;
            if (row >= 2u * FF) continue;
            const uint outRow = (row / WG / 2u) * WG + row % WG;
            const float g = acc[r];
            hOut[outRow] = g / (1.0 + exp(-g)) * acc[r + 1u];
        }
    }
    arrive();
    waitFor(base + 4u * T + 1u);

    // 5. x += Wdown h; the last workgroup out writes xn = rmsnorm(x) g of the next norm (the dispatch boundary follows).
    ADD_TO_RESIDUAL(Wdown, Ht, FF / TEXEL_ELEMS)
    if (arrive() == base + 4u * T + 1u + T - 1u) {
        memoryBarrierBuffer();
        normInto(Gnext);
    }
    if (pauseState == 0x12345678u && lane == 0u) sync.sink = pauseState;   // keeps the pauses' arithmetic
}
