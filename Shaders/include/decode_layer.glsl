// A transformer layer of a decode step (one token) per dispatch, for GPUs with F16 weights: the layer's five dependent
// phases run one after another inside the kernel, separated by grid-wide syncs instead of dispatch boundaries. On an
// H200 a dependent dispatch costs ~5 us beyond its work (README, Speed), and a decode step was 101 of them; this kernel
// makes it one dispatch per layer, one more, and the head. A dispatch runs phases 2-5 of one layer and phase 1 of the
// next (see main()), so that the boundary falls where no phase waits for weights.
//
//   1. n = rmsnorm(x) * g_attn;  [q | k | v] = Wqkv n;  q, k roped (GGUF's interleaved pairs); q -> Q; k, v -> caches
//   2. for each head: attention of q over the cache rows 0..pos, in chunks of keys (key groups, as attention_groups.comp) -> A
//   3. x += Wo A
//   4. n = rmsnorm(x) * g_ffn;  H = silu(Wgate n) * (Wup n)
//   5. x += Wdown H
//
// Every workgroup takes its share of every phase: the matmul phases give each subgroup a unit of rows in turn (the
// phase's input vector staged once per workgroup in shared memory, 16-byte weight loads, lanes on neighbouring texels),
// attention gives each workgroup chunks of ATTN_CHUNK keys of a head in turn, and the workgroup that finishes a head's
// last chunk merges its chunks. Between phases every workgroup waits for all the others (gridArrive, gridWait), so
// all of them must be resident at once: the host dispatches one or two per SM or CU (DecodeLayerKernel). Vulkan does
// not promise that they all run; if a sync waits SPIN_LIMIT polls it gives up, sets the failure flags and the kernel
// runs to the end with wrong results, which the host sees and then decodes with the per-op dispatches instead.
// The sync counter is zeroed by the host before the step's first dispatch; the j-th sync of dispatch d (d >= 1: 4 syncs
// a dispatch before it) waits for it to reach (4 (d - 1) + j) * workgroups.
//
// What a phase waits for (a timeline of globaltimer marks per workgroup and phase, tipo-500m on an H200: README, Speed):
// weight loads issued after a sync queue behind the next phase's loads that other workgroups on the same SM issue at
// once, so a phase that needed one more load after its sync (Wo's and W_down's x += r) waited 3-6 us for it. So every
// load a phase needs besides its staged input is issued during the sync that precedes it, between the workgroup's
// arrival and its wait: Wo's weights and the x rows it adds to during sync 1 (they do not change until phase 3), W_down's
// x row after sync 3; and the units go round the
// workgroups (unit u to workgroup u mod workgroups), so that each workgroup has Wo rows and issues its gate/up loads only
// after them.
// decode_layer.comp compiles this file as it is; decode_layer_timeline.comp with TIMELINE defined, which writes the
// device clock at every phase boundary of every workgroup (tipo bench --profile: DecodeLayerTimeline).
// spec: 0 = WG (lanes; a multiple of the subgroup size), 1-8 the model's shape, 9 = STAGE_VEC4S (shared memory),
//       10 = HEAD_LANES (lanes per key group), 11 = SPIN_LIMIT, 12 = SUBGROUP, 13 = ATTN_CHUNK. grid: (workgroups, 1, 1).
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_memory_scope_semantics : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HIDDEN = 128;
layout(constant_id = 2) const uint FF = 384;
layout(constant_id = 3) const uint N_HEADS = 2;
layout(constant_id = 4) const uint N_KV_HEADS = 2;
layout(constant_id = 5) const uint HEAD_DIM = 64;
layout(constant_id = 6) const uint FREQ_BASE_BITS = 0;   // the rope's frequency base, as float bits
layout(constant_id = 7) const uint EPS_BITS = 0;         // the norms' epsilon, as float bits
layout(constant_id = 8) const bool F16_CACHE = true;
layout(constant_id = 9) const uint STAGE_VEC4S = 96;     // shared vec4s: the largest phase input, or attention's merge
layout(constant_id = 10) const uint HEAD_LANES = 8;      // lanes per key group (a power of two, at most the subgroup size)
layout(constant_id = 11) const uint SPIN_LIMIT = 4194304;// polls of the sync counter before a sync gives up
layout(constant_id = 12) const uint SUBGROUP = 32;       // the device's subgroup size (fixed: every shader runs in it)
layout(constant_id = 13) const uint ATTN_CHUNK = 64;     // keys per attention unit (the host: one step of the key groups)

const uint WG = gl_WorkGroupSize.x;
const uint Q_DIM = N_HEADS * HEAD_DIM;
const uint KV_DIM = N_KV_HEADS * HEAD_DIM;

layout(std430, binding = 0) coherent buffer X4 { vec4 x4[]; };          // [hidden] f32: the residual stream
layout(std430, binding = 0) coherent buffer X1 { float x[]; };
layout(std430, binding = 1) readonly buffer Wqkv { uvec4 wQkv[]; };     // [q_dim + 2 kv_dim, hidden / 8] f16, 8 per texel
layout(std430, binding = 2) readonly buffer AttnNorm { vec4 gAttn[]; }; // [hidden / 4] f32
#define K_BINDING 3
#define V_BINDING 4
#include "rope.glsl"                                      // phase 1's layer's caches, its stores: [ctx, kv_dim] f32|f16
layout(std430, binding = 17) readonly buffer KCache { uvec4 kCache[]; };  // attention's layer's caches, as 16-byte texels
layout(std430, binding = 18) readonly buffer VCache { uvec4 vCache[]; };
#define STEP_BINDING 5
#include "step.glsl"
layout(std430, binding = 6) coherent buffer Q4 { vec4 q4[]; };          // [q_dim] f32: the roped query
layout(std430, binding = 6) coherent buffer Q1 { float q[]; };
layout(std430, binding = 7) coherent buffer A4 { vec4 a4[]; };          // [q_dim] f32: attention output
layout(std430, binding = 7) coherent buffer A1 { float a[]; };
layout(std430, binding = 8) readonly buffer Wo { uvec4 wO[]; };         // [hidden, q_dim / 8] f16
layout(std430, binding = 9) readonly buffer FfnNorm { vec4 gFfn[]; };   // [hidden / 4] f32
layout(std430, binding = 10) readonly buffer Wgate { uvec4 wGate[]; };  // [ff, hidden / 8] f16
layout(std430, binding = 11) readonly buffer Wup { uvec4 wUp[]; };      // [ff, hidden / 8] f16
layout(std430, binding = 12) coherent buffer H4 { vec4 h4[]; };         // [ff] f32: silu(gate) * up
layout(std430, binding = 12) coherent buffer H1 { float h[]; };
layout(std430, binding = 13) readonly buffer Wdown { uvec4 wDown[]; };  // [hidden, ff / 8] f16
layout(std430, binding = 14) coherent buffer Sync {       // device-local, zeroed per step
    uint arrived;                                           // workgroups' arrivals at syncs; bit 31 (GAVE_UP): a sync gave up
    uint pad0; uint pad1; uint pad2;
    uint headChunksDone[];                                  // [n_heads]: chunks of the head finished (back to 0 by its merger)
} sync;
layout(std430, binding = 15) coherent buffer HostFlag { uint hostFailed; };                       // host-visible: set on failure
layout(std430, binding = 16) coherent buffer Partial { float part[]; };  // [chunks, n_heads, head_dim + 4] f32: o, max, sum
// layer: the dispatch's index in the step, phase 1's layer (phases 2-5 are layer - 1's); parts: FINISH | BEGIN.
layout(push_constant) uniform Push { uint layer; uint parts; } pc;
const uint FINISH = 1u;   // phases 2-5 of layer - 1
const uint BEGIN = 2u;    // phase 1 of layer

shared vec4 stage[STAGE_VEC4S];
shared float partial[WG];
shared bool lastChunk;

#ifdef TIMELINE
#extension GL_EXT_shader_realtime_clock : require
// [layers, workgroups, MARKS] the device clock (ns) as lo, hi, per layer as if its phases were separated by syncs 1-4:
// 0 the start (of phase 1); 1-4 the arrival at sync j (the workgroup's own work of phase j done; sync 1 is the dispatch
// boundary after phase 1); 5-8 the exit from sync j (5: the next dispatch's start); 9 the end (of phase 5).
layout(std430, binding = 19) buffer Timeline { uvec2 marks[]; };
const uint MARKS = 10u;
void mark(uint layer, uint i) {
    if (gl_LocalInvocationIndex == 0u)
        marks[(layer * gl_NumWorkGroups.x + gl_WorkGroupID.x) * MARKS + i] = clockRealtime2x32EXT();
}
#else
void mark(uint layer, uint i) {}
#endif

// --- grid-wide sync -------------------------------------------------------------------------------------------------

// Set in the arrival counter by a sync that gave up: every wait's target is then reached at once (the count itself stays
// far below: 4 syncs a layer, a few hundred workgroups), so the dispatch runs to its end and the host reruns the step.
const uint GAVE_UP = 0x80000000u;

// A grid sync in two halves, as CUDA's cooperative-groups grid sync does it: arrival, then the loads of the next phase
// (they need nothing from the other workgroups), then the wait, so that the loads fly during the wait.
// gridArrive(j): once every lane's writes of the phase are done (the workgroup barrier, with buffer semantics), one lane
// releases them to the device (the release is cumulative over what the barrier ordered before it) and counts the
// workgroup in. Only that lane fences, and before the loads are issued: a device-scope fence in every lane after the
// loads, as this kernel had, may wait for them (a fence can wait for all the lane's outstanding memory operations),
// which would put the loads and the sync back to back. (layer, markIndex): the timeline mark of the arrival.
void gridArrive(uint j, uint layer, uint markIndex) {
    controlBarrier(gl_ScopeWorkgroup, gl_ScopeWorkgroup, gl_StorageSemanticsBuffer | gl_StorageSemanticsShared, gl_SemanticsAcquireRelease);
    mark(layer, markIndex);
    if (gl_LocalInvocationIndex == 0u)
        atomicAdd(sync.arrived, 1u, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelease);
}

// gridWait(j): waits until every workgroup of the dispatch has arrived as often as this one (the dispatch's j-th sync
// waits for 4 (layer - 1) + j arrivals per workgroup: the dispatches before it ran 4 syncs each, dispatch 0 none); every buffer write made before any workgroup's gridArrive(j) is
// visible after it. (layer, markIndex): the timeline mark of the exit. A poll is one relaxed load of the counter, and
// one acquire fence follows the last: the loop used to read the counter and a separate failure flag, two dependent
// acquire loads (two trips to L2) per poll.
void gridWait(uint j, uint layer, uint markIndex) {
    if (gl_LocalInvocationIndex == 0u) {
        const uint target = (4u * (pc.layer - 1u) + j) * gl_NumWorkGroups.x;
        uint polls = 0u;
        while (atomicLoad(sync.arrived, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed) < target) {
            if (++polls == SPIN_LIMIT) {
                atomicOr(sync.arrived, GAVE_UP, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelaxed);
                hostFailed = 1u;
            }
        }
        memoryBarrierBuffer();   // the acquire fence (device scope, acquire and release) the relaxed polls need
    }
    controlBarrier(gl_ScopeWorkgroup, gl_ScopeWorkgroup, gl_StorageSemanticsBuffer | gl_StorageSemanticsShared, gl_SemanticsAcquireRelease);
    mark(layer, markIndex);
}

// --- matmul phases --------------------------------------------------------------------------------------------------

#include "dot8.glsl"

// Texels (8 halves) per row and per lane of a row: rows of HIDDEN (QKV, gate, up), Q_DIM (Wo) and FF (W_down) elements.
const uint N8_D = HIDDEN / 8u, N8_Q = Q_DIM / 8u, N8_F = FF / 8u;
const uint T_D = (N8_D + SUBGROUP - 1u) / SUBGROUP;
const uint T_Q = (N8_Q + SUBGROUP - 1u) / SUBGROUP;
const uint T_F = (N8_F + SUBGROUP - 1u) / SUBGROUP;

// Loads this lane's texels of row `row` of W (n8 texels a row) into dst[T]: texels lane, lane + SUBGROUP, ... (past the
// row's end its last texel again, left out of the dot product). Every load is issued before any is used, so a phase's
// weights are all in flight at once; the phases issue them between their grid sync's arrival and wait, which then overlaps
// the fetch.
#define LOAD_ROW(W, row, n8, T, dst) \
    [[unroll]] for (uint t_ = 0u; t_ < T; t_++) dst[t_] = W[(row) * (n8) + min(gl_SubgroupInvocationID + t_ * SUBGROUP, (n8) - 1u)];

// out = the subgroup's sum of the loaded row times the input staged in shared memory.
#define DOT_ROW(src, n8, T, out) { \
    float acc_ = 0.0; \
    [[unroll]] for (uint t_ = 0u; t_ < T; t_++) { \
        const uint k8_ = gl_SubgroupInvocationID + t_ * SUBGROUP; \
        if (k8_ < (n8)) acc_ = dot8(src[t_], stage[2u * k8_], stage[2u * k8_ + 1u], acc_); \
    } \
    out = subgroupAdd(acc_); }

// Sum of v over the workgroup (every lane gets it).
float workgroupSum(float v) {
    v = subgroupAdd(v);
    if (gl_SubgroupInvocationID == 0u) partial[gl_SubgroupID] = v;
    barrier();
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; i++) s += partial[i];
    barrier();
    return s;
}

// Largest v over the workgroup (every lane gets it).
float workgroupMax(float v) {
    v = subgroupMax(v);
    if (gl_SubgroupInvocationID == 0u) partial[gl_SubgroupID] = v;
    barrier();
    float m = partial[0];
    for (uint i = 1u; i < gl_NumSubgroups; i++) m = max(m, partial[i]);
    barrier();
    return m;
}

// Stages x * g in shared memory and returns rsqrt(mean(x^2) + eps), the norm's scale (applied to the dot products).
#define DEFINE_STAGE_NORMED(NAME, G) \
float NAME() { \
    float ss = 0.0; \
    for (uint i = gl_LocalInvocationIndex; i < HIDDEN / 4u; i += WG) { \
        const vec4 v = x4[i]; \
        ss += dot(v, v); \
        stage[i] = v * G[i]; \
    } \
    return inversesqrt(workgroupSum(ss) / float(HIDDEN) + uintBitsToFloat(EPS_BITS)); \
}
DEFINE_STAGE_NORMED(stageAttnNormed, gAttn)
DEFINE_STAGE_NORMED(stageFfnNormed, gFfn)

// This subgroup's index among all the dispatch's subgroups, and their number: units go round them, the workgroups first
// (unit u to workgroup u mod workgroups), so a phase with fewer units than subgroups (Wo) spreads over all workgroups.
uint subgroupIndex() { return gl_SubgroupID * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
uint subgroupCount() { return gl_NumWorkGroups.x * gl_NumSubgroups; }

// --- attention (key groups, as attention_groups.comp) ---------------------------------------------------------------

const uint TEXEL_ELEMS = F16_CACHE ? 8u : 4u;
const uint HEAD_TEXELS = HEAD_DIM / TEXEL_ELEMS;
const uint TEXELS_PER_LANE = HEAD_TEXELS / HEAD_LANES;
const uint GROUPS = WG / HEAD_LANES;
const uint KEYS_IN_FLIGHT = 2u;
const float NEG_BIG = -3.0e38;

#define CACHE_F16 F16_CACHE
#include "cache_texel.glsl"

// Attention of head hd's query over cache rows k0..k1-1, chunk c of the head's chunks: with one chunk, written to A;
// else the chunk's weighted sum of values, its max and its sum of exponentials go to Partial, and the workgroup that
// finishes the head's last chunk merges them into A. The workgroup's lanes in groups of HEAD_LANES, each lane
// TEXELS_PER_LANE texels of the head (lane l of a group: texels l, l + HEAD_LANES, ...); group g scores keys k0 + g,
// k0 + g + GROUPS, ... with its own online softmax; the groups merge through shared memory.
void attendChunk(uint hd, uint k0, uint k1, uint c, uint chunks) {
    const uint lane = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;
    const uint group = lane / HEAD_LANES, gi = lane % HEAD_LANES;
    const uint kvh = hd / (N_HEADS / N_KV_HEADS);
    const uint rowTexels = N_KV_HEADS * HEAD_TEXELS;
    const float scale = inversesqrt(float(HEAD_DIM));
    vec4 qlo[TEXELS_PER_LANE], qhi[TEXELS_PER_LANE], olo[TEXELS_PER_LANE], ohi[TEXELS_PER_LANE];
    [[unroll]] for (uint j = 0u; j < TEXELS_PER_LANE; j++) {
        const uint e = hd * HEAD_DIM + (gi + j * HEAD_LANES) * TEXEL_ELEMS;
        qlo[j] = q4[e / 4u] * scale;
        qhi[j] = TEXEL_ELEMS == 8u ? q4[e / 4u + 1u] * scale : vec4(0.0);
        olo[j] = vec4(0.0);
        ohi[j] = vec4(0.0);
    }
    float runMax = NEG_BIG, runSum = 0.0;
    for (uint j0 = k0; j0 < k1; j0 += GROUPS * KEYS_IN_FLIGHT) {
        float s[KEYS_IN_FLIGHT];
        uvec4 vt[KEYS_IN_FLIGHT][TEXELS_PER_LANE];
        [[unroll]] for (uint u = 0u; u < KEYS_IN_FLIGHT; u++) {
            const uint row = min(j0 + u * GROUPS + group, k1 - 1u);
            s[u] = 0.0;
            [[unroll]] for (uint j = 0u; j < TEXELS_PER_LANE; j++) {
                const uint texel = row * rowTexels + kvh * HEAD_TEXELS + gi + j * HEAD_LANES;
                vec4 klo, khi;
                unpackTexel(kCache[texel], klo, khi);
                vt[u][j] = vCache[texel];
                s[u] += dot(qlo[j], klo) + dot(qhi[j], khi);
            }
        }
        [[unroll]] for (uint u = 0u; u < KEYS_IN_FLIGHT; u++)
            [[unroll]] for (uint d = 1u; d < HEAD_LANES; d <<= 1) s[u] += subgroupShuffleXor(s[u], d);
        [[unroll]] for (uint u = 0u; u < KEYS_IN_FLIGHT; u++) {
            const bool visible = j0 + u * GROUPS + group < k1;
            const float newMax = visible ? max(runMax, s[u]) : runMax;
            const float corr = visible ? exp(runMax - newMax) : 1.0;
            const float p = visible ? exp(s[u] - newMax) : 0.0;
            runSum = runSum * corr + p;
            [[unroll]] for (uint j = 0u; j < TEXELS_PER_LANE; j++) {
                vec4 vlo, vhi;
                unpackTexel(vt[u][j], vlo, vhi);
                olo[j] = olo[j] * corr + p * vlo;
                ohi[j] = ohi[j] * corr + p * vhi;
            }
            runMax = newMax;
        }
    }
    // Merge: stage[GROUPS * HEAD_DIM / 4] holds each group's weighted sums, then one vec4 per group (max, sum).
    const uint statBase = GROUPS * HEAD_DIM / 4u;
    [[unroll]] for (uint j = 0u; j < TEXELS_PER_LANE; j++) {
        const uint v4 = (group * HEAD_DIM + (gi + j * HEAD_LANES) * TEXEL_ELEMS) / 4u;
        stage[v4] = olo[j];
        if (TEXEL_ELEMS == 8u) stage[v4 + 1u] = ohi[j];
    }
    if (gi == 0u) stage[statBase + group] = vec4(runMax, runSum, 0.0, 0.0);
    barrier();
    for (uint d = gl_LocalInvocationIndex; d < HEAD_DIM; d += WG) {
        float m = NEG_BIG;
        for (uint g = 0u; g < GROUPS; g++) m = max(m, stage[statBase + g].x);
        float sum = 0.0, acc = 0.0;
        for (uint g = 0u; g < GROUPS; g++) {
            const vec4 st = stage[statBase + g];
            const float f = exp(st.x - m);
            sum += st.y * f;
            acc += stage[(g * HEAD_DIM + d) / 4u][d % 4u] * f;
        }
        if (chunks == 1u) {
            a[hd * HEAD_DIM + d] = acc / sum;
        } else {
            const uint base = (c * N_HEADS + hd) * (HEAD_DIM + 4u);
            part[base + d] = acc;
            if (d == 0u) {
                part[base + HEAD_DIM] = m;
                part[base + HEAD_DIM + 1u] = sum;
            }
        }
    }
    if (chunks > 1u) {
        // The workgroup that finishes the head's last chunk merges the chunks, as the groups were merged above.
        memoryBarrierBuffer();
        barrier();
        if (gl_LocalInvocationIndex == 0u)
            lastChunk = atomicAdd(sync.headChunksDone[hd], 1u, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsAcquireRelease) == chunks - 1u;
        barrier();
        if (lastChunk) {
            // The chunks' partials come from L2, and the loads of one round are all independent: first every chunk's max
            // and sum at once (a lane a chunk), then each element's weighted sums (WG / HEAD_DIM lanes an element, each a
            // share of the chunks), so the merge waits for about two trips to L2 where a loop over the chunks in every
            // lane waited for one per chunk (~3 us at depth 512 on an H200, 8 chunks).
            memoryBarrierBuffer();
            const uint li = gl_LocalInvocationIndex;
            float cm = NEG_BIG, cs = 0.0;   // this lane's chunks: their max, and their sums rescaled to it
            for (uint cc = li; cc < chunks; cc += WG) {
                const uint base = (cc * N_HEADS + hd) * (HEAD_DIM + 4u);
                const float m = part[base + HEAD_DIM], nm = max(cm, m);
                cs = cs * exp(cm - nm) + part[base + HEAD_DIM + 1u] * exp(m - nm);
                cm = nm;
            }
            const float m = workgroupMax(cm);
            const float sum = workgroupSum(cs * exp(cm - m));
            const uint splits = max(WG / HEAD_DIM, 1u);
            for (uint e = li; e < HEAD_DIM * splits; e += WG) {
                const uint d = e % HEAD_DIM;
                float acc = 0.0;
                for (uint cc = e / HEAD_DIM; cc < chunks; cc += splits) {
                    const uint base = (cc * N_HEADS + hd) * (HEAD_DIM + 4u);
                    acc += part[base + d] * exp(part[base + HEAD_DIM] - m);
                }
                if (splits == 1u) a[hd * HEAD_DIM + d] = acc / sum;
                else partial[e] = acc;   // e < WG
            }
            if (splits > 1u) {
                barrier();
                for (uint d = li; d < HEAD_DIM; d += WG) {
                    float acc = 0.0;
                    for (uint sp = 0u; sp < splits; sp++) acc += partial[sp * HEAD_DIM + d];
                    a[hd * HEAD_DIM + d] = acc / sum;
                }
            }
            if (li == 0u) sync.headChunksDone[hd] = 0u;   // for the next layer (after this dispatch)
        }
    }
    barrier();
}

// A dispatch runs phases 2-5 of layer pc.layer - 1 (FINISH) and then phase 1 of layer pc.layer (BEGIN): a step is
// dispatch 0 (BEGIN: layer 0's phase 1), dispatches 1 .. L-1 (both) and dispatch L (FINISH). So the dispatch boundary
// falls after phase 1, and phase 1's weights, like every later phase's, load during a grid sync (the one after W_down)
// instead of at a dispatch's cold start (5 us of a 29 us tipo-500m layer on an H200, for 2.4 us of weights at the
// roofline), and attention, which reads no weights, starts each dispatch.
void main() {
    const bool leader = gl_SubgroupInvocationID == 0u;
    const uint sgi = subgroupIndex(), sgn = subgroupCount();
    const uint pos = step.pos0;
    const bool finish = (pc.parts & FINISH) != 0u, begin = (pc.parts & BEGIN) != 0u;
    const uint prev = pc.layer - 1u;                    // phases 2-5's layer (FINISH)
    const uint qkvPairs = (Q_DIM + 2u * KV_DIM) / 2u;   // phase 1: a unit of work is two rows (a rope pair)
    const uint oPairs = HIDDEN / 2u;                    // phase 3: two rows
    const uint ffPairs = FF / 2u;                       // phase 4: two rows of W_gate and of W_up
                                                        // phase 5: one row of W_down
    // Each subgroup's first unit of a phase is loaded during the sync before the phase (between arrival and wait; Wo's
    // at the dispatch's start, before attention; phase 1's at the start of dispatch 0); further units (when there are
    // more than subgroups) load in turn.
    if (finish) {
        mark(prev, 5u);   // the exit from sync 1: the dispatch boundary after phase 1
        uvec4 woa[T_Q], wob[T_Q];   // the first Wo unit's rows
        vec2 xo = vec2(0.0);        // x[2 sgi], x[2 sgi + 1]: the residual rows they add to (x changes only in phase 3)
        if (sgi < oPairs) {
            LOAD_ROW(wO, 2u * sgi, N8_Q, T_Q, woa)
            LOAD_ROW(wO, 2u * sgi + 1u, N8_Q, T_Q, wob)
            if (leader) xo = vec2(x[2u * sgi], x[2u * sgi + 1u]);
        }

        // 2. Attention: chunks of ATTN_CHUNK keys of a head go round the workgroups.
        {
            const uint len = pos + 1u;
            const uint chunks = (len + ATTN_CHUNK - 1u) / ATTN_CHUNK;
            for (uint u = gl_WorkGroupID.x; u < N_HEADS * chunks; u += gl_NumWorkGroups.x) {
                const uint hd = u % N_HEADS, c = u / N_HEADS;
                attendChunk(hd, c * ATTN_CHUNK, min(len, (c + 1u) * ATTN_CHUNK), c, chunks);
            }
        }

        // 3. x += Wo A.
        {
            gridArrive(1u, prev, 2u);
            gridWait(1u, prev, 6u);
            for (uint i = gl_LocalInvocationIndex; i < Q_DIM / 4u; i += WG) stage[i] = a4[i];
            barrier();
            for (uint p = sgi; p < oPairs; p += sgn) {
                if (p != sgi) {
                    LOAD_ROW(wO, 2u * p, N8_Q, T_Q, woa)
                    LOAD_ROW(wO, 2u * p + 1u, N8_Q, T_Q, wob)
                }
                vec2 r;
                DOT_ROW(woa, N8_Q, T_Q, r.x)
                DOT_ROW(wob, N8_Q, T_Q, r.y)
                if (leader) {
                    const vec2 x0 = p == sgi ? xo : vec2(x[2u * p], x[2u * p + 1u]);
                    x[2u * p] = x0.x + r.x;
                    x[2u * p + 1u] = x0.y + r.y;
                }
            }
        }

        // 4. H = silu(Wgate n) * (Wup n), n = rmsnorm(x) g.
        float xd = 0.0;   // x[sgi]: the residual row this subgroup's first W_down unit adds to, read once phase 3 is done
        {
            uvec4 ga[T_D], gb[T_D], ua[T_D], ub[T_D];
            gridArrive(2u, prev, 3u);
            if (sgi < ffPairs) {
                LOAD_ROW(wGate, 2u * sgi, N8_D, T_D, ga)
                LOAD_ROW(wGate, 2u * sgi + 1u, N8_D, T_D, gb)
                LOAD_ROW(wUp, 2u * sgi, N8_D, T_D, ua)
                LOAD_ROW(wUp, 2u * sgi + 1u, N8_D, T_D, ub)
            }
            gridWait(2u, prev, 7u);
            if (leader && sgi < HIDDEN) xd = x[sgi];
            const float scale = stageFfnNormed();
            for (uint p = sgi; p < ffPairs; p += sgn) {
                if (p != sgi) {
                    LOAD_ROW(wGate, 2u * p, N8_D, T_D, ga)
                    LOAD_ROW(wGate, 2u * p + 1u, N8_D, T_D, gb)
                    LOAD_ROW(wUp, 2u * p, N8_D, T_D, ua)
                    LOAD_ROW(wUp, 2u * p + 1u, N8_D, T_D, ub)
                }
                vec4 r;   // gate a, gate b, up a, up b
                DOT_ROW(ga, N8_D, T_D, r.x)
                DOT_ROW(gb, N8_D, T_D, r.y)
                DOT_ROW(ua, N8_D, T_D, r.z)
                DOT_ROW(ub, N8_D, T_D, r.w)
                r *= scale;
                if (leader) {
                    h[2u * p] = r.x / (1.0 + exp(-r.x)) * r.z;
                    h[2u * p + 1u] = r.y / (1.0 + exp(-r.y)) * r.w;
                }
            }
        }

        // 5. x += Wdown H.
        {
            uvec4 wa[T_F];
            gridArrive(3u, prev, 4u);
            if (sgi < HIDDEN) LOAD_ROW(wDown, sgi, N8_F, T_F, wa)
            gridWait(3u, prev, 8u);
            for (uint i = gl_LocalInvocationIndex; i < FF / 4u; i += WG) stage[i] = h4[i];
            barrier();
            for (uint row = sgi; row < HIDDEN; row += sgn) {
                if (row != sgi) LOAD_ROW(wDown, row, N8_F, T_F, wa)
                float r;
                DOT_ROW(wa, N8_F, T_F, r)
                if (leader) x[row] = (row == sgi ? xd : x[row]) + r;
            }
        }
    }

    // 1. Phase 1 of the next layer, after a sync (x is final) unless the dispatch is the step's first.
    if (begin) {
        uvec4 wa[T_D], wb[T_D];
        if (finish) gridArrive(4u, prev, 9u);   // the end of layer prev's phase 5
        if (sgi < qkvPairs) {
            LOAD_ROW(wQkv, 2u * sgi, N8_D, T_D, wa)
            LOAD_ROW(wQkv, 2u * sgi + 1u, N8_D, T_D, wb)
        }
        if (finish) gridWait(4u, pc.layer, 0u);
        else mark(pc.layer, 0u);
        // [q | k | v] = Wqkv rmsnorm(x) g; rope; q to Q, k and v to the caches at pos.
        const float scale = stageAttnNormed();
        const uint kvWords = KV_DIM / 2u;
        for (uint p = sgi; p < qkvPairs; p += sgn) {
            const uint row = 2u * p;
            if (p != sgi) {
                LOAD_ROW(wQkv, row, N8_D, T_D, wa)
                LOAD_ROW(wQkv, row + 1u, N8_D, T_D, wb)
            }
            vec2 r;
            DOT_ROW(wa, N8_D, T_D, r.x)
            DOT_ROW(wb, N8_D, T_D, r.y)
            r *= scale;
            if (!leader) continue;
            if (row < Q_DIM + KV_DIM) {
                const vec2 rot = ropeRotate(r, ropeRotation((row % HEAD_DIM) / 2u, pos, uintBitsToFloat(FREQ_BASE_BITS), HEAD_DIM));
                if (row < Q_DIM) {
                    q[row] = rot.x;
                    q[row + 1u] = rot.y;
                } else {
                    storeK(pos * kvWords + (row - Q_DIM) / 2u, rot);
                }
            } else {
                storeV(pos * kvWords + (row - Q_DIM - KV_DIM) / 2u, r);
            }
        }
    }
#ifdef TIMELINE
    barrier();
#endif
    if (begin) mark(pc.layer, 1u);   // the arrival at sync 1: the dispatch boundary
    else mark(prev, 9u);             // the end of the step's last phase 5
}
