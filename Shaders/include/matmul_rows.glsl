// main() of the float rows-per-lane kernels (matmul_rows_f16, matmul_rows_f32 and their GLU/ROPE variants); the
// declarations and what the including file must define are in matmul_rows_decl.glsl.
#include "matmul_rows_decl.glsl"

const uint OUTPUTS = ROWS * TOKENS;

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

    float acc[OUTPUTS];
    [[unroll]] for (uint i = 0; i < OUTPUTS; i++) acc[i] = 0.0;

    for (uint kt = 0; kt < texelsPerRow; kt++) {
        vec4 xlo[TOKENS], xhi[TOKENS];
        [[unroll]] for (uint t = 0; t < TOKENS; t++) {
            xlo[t] = x4(xRow[t] + kt * (TEXEL_ELEMS / 4));
            if (TEXEL_ELEMS == 8) xhi[t] = x4(xRow[t] + kt * 2 + 1);
        }
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

#if defined(ROPE)
    // Row r of this lane and its rotation partner r + HEAD_DIM/2/lanes (the same lane, see ROPE in the declarations):
    // q rotated into Y, k rotated and v appended to the caches at the token's position, with rope_kv_store's arithmetic.
    const uint halfD = HEAD_DIM / 2u, partner = halfD / lanes;
    const uint qDim = N_HEADS * HEAD_DIM, kvDim = N_KV_HEADS * HEAD_DIM;
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        if ((r * lanes) % HEAD_DIM >= halfD) continue;   // the second row of a pair
        const uint row = row0 + r * lanes, d = row % HEAD_DIM;
        [[unroll]] for (uint t = 0; t < TOKENS; t++) {
            const uint tok = tok0 + t;
            if (row >= pc.rows || tok >= pc.nTokens) continue;
            const uint pos = step.pos0 + tok;
            float a = acc[r * TOKENS + t], b = acc[(r + partner) * TOKENS + t];
            if (row < qDim + kvDim) {
                const vec2 cs = ropeRotation(d, pos, uintBitsToFloat(FREQ_BASE_BITS), HEAD_DIM);
                const float ra = a * cs.x - b * cs.y, rb = a * cs.y + b * cs.x;
                a = ra; b = rb;
            }
            if (row < qDim) {
                const uint yi = pc.yOffset + tok * pc.yStride + pc.rowOffset + row;
                y[yi] = a;
                y[yi + halfD] = b;
            } else if (row < qDim + kvDim) {
                storeK1(pos * kvDim + row - qDim, a);
                storeK1(pos * kvDim + row - qDim + halfD, b);
            } else {
                storeV1(pos * kvDim + row - qDim - kvDim, a);
                storeV1(pos * kvDim + row - qDim - kvDim + halfD, b);
            }
        }
    }
#elif defined(GLU)
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
