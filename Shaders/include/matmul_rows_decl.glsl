// Declarations of the "rows per lane" weight-times-activation kernels (matmul_rows_*), the variant for CPU Vulkan
// devices (lavapipe); matmul_rows.glsl holds the main() of the float kernels, matmul_rows_q8_0.comp its own:
//
//   y[yOffset + t * yStride + rowOffset + r] (+)= sum_k W[r, k] * x[xOffset + t * cols + k]     for r < rows, t < nTokens
//
// Every lane owns ROWS whole weight rows and walks their k dimension alone, so there is no reduction (no shared
// memory, no barrier(), no subgroup reduction). Every lane of a workgroup reads the same X element at the same
// time (see binding 1; X_SHARED: fetched once and shuffled to every lane); the weights are read through a texel buffer (16-byte texels), llvmpipe's fastest path:
// tipo-200m F16 decode reads 8.7 GB/s on lavapipe (2 threads, row tiles), against 0.5 GB/s for the split-k
// storage-buffer kernel. On llvmpipe each texelFetch is a call into a gather of 8 lanes x 16 bytes (~40
// instructions), so the prefill tile (ROWS x TOKENS per lane) is there to use each fetched texel many times.
// On a GPU this layout reads rows far apart in neighbouring lanes (uncoalesced): GPUs use matmul.glsl's split-k
// kernels instead.
// With GLU defined the kernel is the gate and up projections of a SwiGLU feed-forward at once: W holds W_gate and
// W_up interleaved in blocks of `lanes` rows (gate rows 0..lanes-1, up rows 0..lanes-1, gate rows lanes.., ...;
// GpuMatrix.UploadInterleaved), so each lane's even row r and odd row r + 1 are the gate and up rows of one output,
// and Y = silu(W_gate X) * (W_up X) with `rows` = 2 x the outputs. One texel view: 20% faster on lavapipe than
// gate and up in two bindings.
// The RMSNorm before a projection is not fused here (X comes normalised from rmsnorm_subgroup): gathering each token's
// sum of squares and scaling X by the norm weights inside the k loop, in every workgroup that reads the same X, cost
// llvmpipe ~12 % of each norm-fused matmul, more than the norm's own dispatch (MatmulKernel.FusesNorm).
// With ROPE defined it is the stacked QKV projection, and its epilogue ropes q and k and appends k and v to the
// layer's caches (see below).
// The including file defines TEXEL_ELEMS (weights per 16-byte texel) and
// `void unpackTexel(uvec4 t, out vec4 lo, out vec4 hi)` (elements 0..3 and 4..7; hi unused when TEXEL_ELEMS = 4).
layout(local_size_x_id = 0) in;                 // lanes per workgroup
layout(constant_id = 1) const uint ROWS = 1;    // weight rows per lane
layout(constant_id = 2) const uint TOKENS = 1;  // tokens per workgroup (prefill reuses each weight texel TOKENS times)
layout(constant_id = 3) const uint NORM_EPS_BITS = 0; // NORM_AFTER: the next RMSNorm's epsilon, as float bits (else unused)
layout(constant_id = 4) const uint TILE_ROWS = 0;   // W's row tile (GpuMatrix.TileRows): 0 = row-major
layout(constant_id = 10) const uint FETCH_LAG = 0;  // > 0: row r's weight fetch waits for row r - FETCH_LAG's products (matmul_rows.glsl;
                                                    // 5-9 are the rope's, qkv_rope.glsl)
layout(constant_id = 11) const bool X_SHARED = false; // prefill: lane l fetches token 8 g + l's X for each group g of 8 tokens,
                                                      // shuffled to the others (the workgroup is one subgroup of 8 lanes or
                                                      // more; matmul_rows.glsl)

// W row-major, or (TILE_ROWS > 0) in tiles of TILE_ROWS rows stored texel column by texel column: texel kt of row
// r at (r / TILE_ROWS * texelsPerRow + kt) * TILE_ROWS + r % TILE_ROWS, so that a workgroup's rows are one
// contiguous stream (the CPU's prefetchers follow one stream, not one per row: decode 1.4x faster on lavapipe).
layout(binding = 0) uniform utextureBuffer W;                               // [rows, cols / TEXEL_ELEMS] texels
// X through a texel view too: inside the k loop llvmpipe cannot prove a uniform-buffer index uniform, so a
// uniform-buffer read becomes a bounds-checked scalar load per lane and component; a texel fetch is one 16-byte
// load per lane.
layout(binding = 1) uniform utextureBuffer X;                               // [nTokens, cols] f32, as 4-float texels
vec4 x4(uint i) { return uintBitsToFloat(texelFetch(X, int(i))); }
#ifdef NORM_AFTER
// The residual stream: the last workgroup reads what the others wrote.
layout(std430, binding = 2) coherent buffer ActivationsOut { float y[]; };  // [nTokens, yStride] f32
#else
layout(std430, binding = 2) buffer ActivationsOut { float y[]; };           // [nTokens, yStride] f32
#endif

// Texel 0 of `row` in a [rows, texelsPerRow] texel matrix of the view stored as TILE_ROWS says; the row's texel kt
// is texelStep() * kt further on.
int rowTexel0(uint row, uint texelsPerRow) {
    return int(TILE_ROWS == 0 ? row * texelsPerRow : row / TILE_ROWS * texelsPerRow * TILE_ROWS + row % TILE_ROWS);
}
int texelStep() { return int(max(TILE_ROWS, 1u)); }

#include "matmul_push.glsl"

// Texel 0 of token `tok`'s X row (a partial last tile reads the last token again and stores nothing for it).
uint xRowTexel(uint tok) { return pc.xOffset / 4 + min(tok, pc.nTokens - 1) * (pc.cols / 4); }
// X_SHARED: a workgroup's tokens in groups of 8, lane l fetching X for token 8 g + l of group g and shuffling it to all.
const uint X_GROUPS = (TOKENS + 7) / 8;

#ifdef NORM_AFTER
// A projection onto the residual stream (Wo, W_down) that also applies the RMSNorm after it, for decode on CPU devices:
// the workgroups write their rows of Y (the whole residual vector, rows = its length, one chunk), the last of them to
// finish (a counter, reset by it; no workgroup waits for another) normalises each token's row of Y into NORMED, with
// rmsnorm_subgroup's arithmetic (the same lanes, order and operations: prefill, which keeps that kernel, gives a token
// the same bits). One rmsnorm dispatch fewer per norm: on lavapipe each costs a thread-pool round trip.
#if defined(GLU) || defined(ROPE)
#error NORM_AFTER is for the plain projections onto the residual stream
#endif
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_ballot : require
layout(binding = 3) uniform utextureBuffer G;                               // [rows] f32 norm weights, as 4-float texels
vec4 g4(uint i) { return uintBitsToFloat(texelFetch(G, int(i))); }
layout(std430, binding = 4) writeonly buffer Normed { float normed[]; };    // [nTokens, rows] f32
layout(std430, binding = 5) coherent buffer Counter { uint finished[]; };   // [1]: workgroups done, 0 between dispatches
#endif

#ifdef ROPE
// The stacked [q | k | v] projection with the rope and the cache append in its epilogue (not GLU). Rotation
// pairs are (i, i + HEAD_DIM/2) of a head (rotate-half; GGUF's interleaved Q/K rows are reordered to it at upload), so
// with HEAD_DIM/2 a multiple of the lanes and lanes x ROWS a multiple of HEAD_DIM both rows of a pair are rows
// r and r + HEAD_DIM/2/lanes of one lane (the host checks: MatmulKernel.RowsRopeFits).
#if defined(GLU)
#error ROPE is the QKV projection's epilogue, not the SwiGLU's
#endif
#define K_BINDING 3     // after W, X and Y
#define V_BINDING 4
#define STEP_BINDING 5
#define ROPE_ELEMENT_STORES
#include "qkv_rope.glsl"
#endif

