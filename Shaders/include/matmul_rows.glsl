// main() of the float rows-per-lane kernels (matmul_rows_f16, matmul_rows_f32 and their GLU/ROPE variants); the
// declarations and what the including file must define are in matmul_rows_decl.glsl, the stores in
// matmul_rows_epilogue.glsl.
#include "matmul_rows_decl.glsl"

const uint OUTPUTS = ROWS * TOKENS;

void main() {
    const uint lanes = gl_WorkGroupSize.x;
    const uint row0 = gl_WorkGroupID.x * lanes * ROWS + gl_LocalInvocationID.x;   // rows row0 + r * lanes
    const uint tok0 = gl_WorkGroupID.y * TOKENS;
    const uint texelsPerRow = pc.cols / TEXEL_ELEMS;

    int rowTexel[ROWS];
    [[unroll]] for (uint r = 0; r < ROWS; r++) rowTexel[r] = rowTexel0(min(row0 + r * lanes, pc.rows - 1), texelsPerRow);
    const int ktStride = texelStep();
    uint xRow[TOKENS];
    [[unroll]] for (uint t = 0; t < TOKENS; t++) xRow[t] = xRowTexel(tok0 + t);
    uint myXRow[X_GROUPS];   // X_SHARED: the rows this lane fetches for all
    [[unroll]] for (uint g = 0; g < X_GROUPS; g++) myXRow[g] = xRowTexel(tok0 + min(8 * g + gl_SubgroupInvocationID, TOKENS - 1));
    float acc[OUTPUTS];
    [[unroll]] for (uint i = 0; i < OUTPUTS; i++) acc[i] = 0.0;

    for (uint kt = 0; kt < texelsPerRow; kt++) {
        vec4 xlo[TOKENS], xhi[TOKENS];
        if (X_SHARED) {
            // Lane l fetches token 8 g + l's texels for each group g of 8 tokens, and every lane takes each token's from
            // its lane: 2 fetches (calls, on llvmpipe) per group and texel column instead of 2 x TOKENS. subgroupShuffle
            // with constant lanes, not subgroupBroadcast: Mesa 22.3's llvmpipe runs a broadcast as a loop over the lanes
            // (it looks for an active one), which cost more than the fetches saved, while the shuffles fold into vector
            // permutes; Mesa 23.2 and 25 run the two alike (MatmulKernel.SharesXFor).
            [[unroll]] for (uint g = 0; g < X_GROUPS; g++) {
                const vec4 myLo = x4(myXRow[g] + kt * (TEXEL_ELEMS / 4));
                const vec4 myHi = TEXEL_ELEMS == 8 ? x4(myXRow[g] + kt * 2 + 1) : vec4(0.0);
                vec4 lo[8], hi[8];   // all 8 lanes' taken, those past TOKENS unused
#define FROM_LANE(l) lo[l] = subgroupShuffle(myLo, l); hi[l] = subgroupShuffle(myHi, l);
                FROM_LANE(0) FROM_LANE(1) FROM_LANE(2) FROM_LANE(3) FROM_LANE(4) FROM_LANE(5) FROM_LANE(6) FROM_LANE(7)
#undef FROM_LANE
                [[unroll]] for (uint j = 0; j < 8; j++)
                    if (8 * g + j < TOKENS) { xlo[8 * g + j] = lo[j]; xhi[8 * g + j] = hi[j]; }
            }
        } else {
            [[unroll]] for (uint t = 0; t < TOKENS; t++) {
                xlo[t] = x4(xRow[t] + kt * (TEXEL_ELEMS / 4));
                if (TEXEL_ELEMS == 8) xhi[t] = x4(xRow[t] + kt * 2 + 1);
            }
        }
        [[unroll]] for (uint r = 0; r < ROWS; r++) {
            // The fetch-order anchor (FETCH_LAG > 0): 'after' is always 0 (pc.accumulate is 0 or 1), but the compiler
            // cannot know it, so row r's fetch waits for row r - FETCH_LAG's products and the rows' fetches cannot all be
            // hoisted ahead of the arithmetic, which Mesa 23-24's llvmpipe does at the cost of thousands of spills.
            uint after = 0u;
            if (FETCH_LAG > 0 && r >= FETCH_LAG)
                [[unroll]] for (uint t = 0; t < TOKENS; t++) after |= floatBitsToUint(acc[(r - FETCH_LAG) * TOKENS + t]);
            after &= pc.accumulate >> 31;
            vec4 wlo, whi;
            unpackTexel(texelFetch(W, rowTexel[r] + int(kt) * ktStride + int(after)), wlo, whi);
            [[unroll]] for (uint t = 0; t < TOKENS; t++) {
                float s = dot(wlo, xlo[t]);
                if (TEXEL_ELEMS == 8) s += dot(whi, xhi[t]);
                acc[r * TOKENS + t] += s;
            }
        }
    }

#include "matmul_rows_epilogue.glsl"
}
