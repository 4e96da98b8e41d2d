// main() of the float rows-per-lane kernels (matmul_rows_f16, matmul_rows_f32 and their GLU/NORM variants); the
// declarations and what the including file must define are in matmul_rows_decl.glsl.
#include "matmul_rows_decl.glsl"

const uint OUTPUTS = ROWS * TOKENS;

#ifdef NORM
#include "rms_scale.glsl"
#endif

void main() {
    const uint lanes = gl_WorkGroupSize.x;
    const uint row0 = gl_WorkGroupID.x * lanes * ROWS + gl_LocalInvocationID.x;   // rows row0 + r * lanes
    const uint tok0 = gl_WorkGroupID.y * TOKENS;
    const uint texelsPerRow = pc.cols / TEXEL_ELEMS;
    const uint x4PerRow = pc.cols / 4;

    int rowTexel[ROWS];
    [[unroll]] for (uint r = 0; r < ROWS; r++) rowTexel[r] = rowTexel0(min(row0 + r * lanes, pc.rows - 1), texelsPerRow);
    const int ktStride = texelStep();
    uint xRow[TOKENS];
    [[unroll]] for (uint t = 0; t < TOKENS; t++) xRow[t] = pc.xOffset / 4 + min(tok0 + t, pc.nTokens - 1) * x4PerRow;

#ifdef NORM
    // Each token's sum of squares, gathered from the X texels the k loop reads anyway (rms_scale.glsl's order).
    vec4 sumSq[TOKENS];
    [[unroll]] for (uint t = 0; t < TOKENS; t++) sumSq[t] = vec4(0.0);
#endif

    float acc[OUTPUTS];
    [[unroll]] for (uint i = 0; i < OUTPUTS; i++) acc[i] = 0.0;

    for (uint kt = 0; kt < texelsPerRow; kt++) {
        vec4 xlo[TOKENS], xhi[TOKENS];
        [[unroll]] for (uint t = 0; t < TOKENS; t++) {
            xlo[t] = x4(xRow[t] + kt * (TEXEL_ELEMS / 4));
            if (TEXEL_ELEMS == 8) xhi[t] = x4(xRow[t] + kt * 2 + 1);
#ifdef NORM
            sumSq[t] += xlo[t] * xlo[t];
            if (TEXEL_ELEMS == 8) sumSq[t] += xhi[t] * xhi[t];
#endif
        }
#ifdef NORM
        // W (x * g): the norm's per-token scale multiplies the sums after the loop.
        const vec4 glo = g4(kt * (TEXEL_ELEMS / 4));
        const vec4 ghi = TEXEL_ELEMS == 8 ? g4(kt * 2 + 1) : vec4(0.0);
        [[unroll]] for (uint t = 0; t < TOKENS; t++) {
            xlo[t] *= glo;
            if (TEXEL_ELEMS == 8) xhi[t] *= ghi;
        }
#endif
        [[unroll]] for (uint r = 0; r < ROWS; r++) {
            vec4 wlo, whi;
            unpackTexel(texelFetch(W, rowTexel[r] + int(kt) * ktStride), wlo, whi);
            [[unroll]] for (uint t = 0; t < TOKENS; t++) {
                float s = dot(wlo, xlo[t]);
                if (TEXEL_ELEMS == 8) s += dot(whi, xhi[t]);
                acc[r * TOKENS + t] += s;
            }
        }
    }
#ifdef NORM
    [[unroll]] for (uint t = 0; t < TOKENS; t++) {
        const float scale = rmsScaleOf(sumSq[t], pc.cols, NORM_EPS);
        [[unroll]] for (uint r = 0; r < ROWS; r++) acc[r * TOKENS + t] *= scale;
    }
#endif

#ifdef GLU
    // Even rows are gate rows, the odd row after each its up row: output row = (block / 2) * lanes + lane.
    [[unroll]] for (uint r = 0; r < ROWS; r += 2) {
        uint row = row0 + r * lanes;
        uint outRow = (row / lanes / 2u) * lanes + row % lanes;
        [[unroll]] for (uint t = 0; t < TOKENS; t++) {
            uint tok = tok0 + t;
            if (row < pc.rows && tok < pc.nTokens) {
                float g = acc[r * TOKENS + t];
                y[pc.yOffset + tok * pc.yStride + pc.rowOffset + outRow] = g / (1.0 + exp(-g)) * acc[(r + 1) * TOKENS + t];
            }
        }
    }
#else
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        uint row = row0 + r * lanes;
        [[unroll]] for (uint t = 0; t < TOKENS; t++) {
            uint tok = tok0 + t;
            if (row < pc.rows && tok < pc.nTokens) {
                uint yi = pc.yOffset + tok * pc.yStride + pc.rowOffset + row;
                y[yi] = pc.accumulate != 0 ? y[yi] + acc[r * TOKENS + t] : acc[r * TOKENS + t];
            }
        }
    }
#endif
}
