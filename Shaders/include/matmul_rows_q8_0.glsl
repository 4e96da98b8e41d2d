// main() of the Q8_0 rows-per-lane kernels (matmul_rows_q8_0 and its GLU/ROPE variants), one lane per row (see
// matmul_rows_decl.glsl). The chunk holds its int8 quants [rows, cols] and then its f16 block scales [rows, cols / 32]
// (GpuMatrix's Q8_0 layout), read as one texel view: a texel is 16 quants (half a block); the scales start at texel
// rows * cols / 16, 8 per texel. cols % 32 == 0. With TILE_ROWS > 0 both sections are in row tiles (rows padded to
// whole tiles; cols % 256 == 0, so that a row's scales are whole texels), as matmul_rows_decl.glsl describes for W.
const uint TEXEL_ELEMS = 16;
#include "matmul_rows_decl.glsl"

const uint OUTPUTS = ROWS * TOKENS;

// The 16 signed bytes of a texel as four vec4 (sign-extended by shifts: on Mesa 25.0's llvmpipe 1.3x faster than
// bitfieldExtract, the same values).
void unpackQuants(uvec4 t, out vec4 q0, out vec4 q1, out vec4 q2, out vec4 q3) {
    ivec4 w = ivec4(t);
    q0 = vec4((w.x << 24) >> 24, (w.x << 16) >> 24, (w.x << 8) >> 24, w.x >> 24);
    q1 = vec4((w.y << 24) >> 24, (w.y << 16) >> 24, (w.y << 8) >> 24, w.y >> 24);
    q2 = vec4((w.z << 24) >> 24, (w.z << 16) >> 24, (w.z << 8) >> 24, w.z >> 24);
    q3 = vec4((w.w << 24) >> 24, (w.w << 16) >> 24, (w.w << 8) >> 24, w.w >> 24);
}

void main() {
    const uint lanes = gl_WorkGroupSize.x;
    const uint row0 = gl_WorkGroupID.x * lanes * ROWS + gl_LocalInvocationID.x;   // rows row0 + r * lanes
    const uint tok0 = gl_WorkGroupID.y * TOKENS;
    const uint blocksPerRow = pc.cols / 32;
    const uint storedRows = TILE_ROWS == 0 ? pc.rows : (pc.rows + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS;
    const int scaleTexel0 = int(storedRows * pc.cols / 16);
    const int apart = texelStep();   // texels between a row's consecutive texels

    uint rowIndex[ROWS];
    int quantBase[ROWS], scaleBase[ROWS];   // texel 0 of the row's quants; tiled: of its scales too
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        const uint row = min(row0 + r * lanes, pc.rows - 1);
        rowIndex[r] = row;
        quantBase[r] = rowTexel0(row, pc.cols / 16);
        scaleBase[r] = scaleTexel0 + rowTexel0(row, pc.cols / 256);
    }
    uint xRow[TOKENS];
    [[unroll]] for (uint t = 0; t < TOKENS; t++) xRow[t] = xRowTexel(tok0 + t);
    uint myXRow[X_GROUPS];   // X_SHARED: the rows this lane fetches for all
    [[unroll]] for (uint g = 0; g < X_GROUPS; g++) myXRow[g] = xRowTexel(tok0 + min(8 * g + gl_SubgroupInvocationID, TOKENS - 1));

    float acc[OUTPUTS];
    [[unroll]] for (uint i = 0; i < OUTPUTS; i++) acc[i] = 0.0;

    // Block b in two halves of 16 quants (one texel each): the X texels of a half are fetched once per token and
    // shared by every row of the lane (llvmpipe makes each texelFetch a call: fetching X once per row cost more than
    // the weights). Each (row, token) sums its block's 8 dot products in order, then scales by the block's d.
    for (uint b = 0; b < blocksPerRow; b++) {
        float s[OUTPUTS];
        [[unroll]] for (uint h = 0; h < 2u; h++) {
            vec4 xv[TOKENS * 4u];
            if (X_SHARED) {
                // As in matmul_rows.glsl: lane l fetches token 8 g + l's 4 texels of the half, every lane takes each
                // token's from its lane (subgroupShuffle from constant lanes): 4 fetches per group of 8 tokens, not 32.
                [[unroll]] for (uint g = 0; g < X_GROUPS; g++)
                    [[unroll]] for (uint i = 0; i < 4u; i++) {
                        const vec4 mine = x4(myXRow[g] + b * 8u + h * 4u + i);
                        [[unroll]] for (uint j = 0; j < 8u; j++)
                            if (8 * g + j < TOKENS) xv[(8 * g + j) * 4u + i] = subgroupShuffle(mine, j);
                    }
            } else {
                [[unroll]] for (uint t = 0; t < TOKENS; t++)
                    [[unroll]] for (uint i = 0; i < 4u; i++) xv[t * 4u + i] = x4(xRow[t] + b * 8u + h * 4u + i);
            }
            [[unroll]] for (uint r = 0; r < ROWS; r++) {
                vec4 q0, q1, q2, q3;
                unpackQuants(texelFetch(W, quantBase[r] + int(b * 2u + h) * apart), q0, q1, q2, q3);
                [[unroll]] for (uint t = 0; t < TOKENS; t++) {
                    const uint o = r * TOKENS + t;
                    const float part = dot(q0, xv[t * 4u]) + dot(q1, xv[t * 4u + 1u]) + dot(q2, xv[t * 4u + 2u]) + dot(q3, xv[t * 4u + 3u]);
                    s[o] = h == 0u ? part : s[o] + part;
                }
            }
        }
        [[unroll]] for (uint r = 0; r < ROWS; r++) {
            // block: the row's block b in the row-major order; the tiled order counts b within the row
            const uint block = TILE_ROWS == 0 ? rowIndex[r] * blocksPerRow + b : b;
            // row-major scales need not start a texel per row (cols % 256 may be nonzero): indexed by the block
            const int scaleTexel = TILE_ROWS == 0 ? scaleTexel0 + int(block / 8u) : scaleBase[r] + int(b / 8u) * apart;
            const float d = unpackHalf2x16(texelFetch(W, scaleTexel)[(block % 8u) / 2u])[block % 2u];
            [[unroll]] for (uint t = 0; t < TOKENS; t++) acc[r * TOKENS + t] += d * s[r * TOKENS + t];
        }
    }

#include "matmul_rows_epilogue.glsl"
}
