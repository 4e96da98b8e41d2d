// The end of every rows-per-lane kernel's main() (matmul_rows.glsl, matmul_rows_q8_0.glsl), included inside it: the
// lane's ROWS x TOKENS sums acc[r * TOKENS + t] (rows row0 + r * lanes, tokens tok0 + t) go to Y, through the rope and
// the cache append (ROPE), the SwiGLU (GLU), or as they are (accumulated onto Y where pc.accumulate says).
// Outputs past the matrix or the tokens are skipped with `continue`, not stored inside `if (in range) { ... }`: with
// the `if` form, Mesa 25.0's llvmpipe (the same LLVM 15 as Mesa 22.3's) compiled the F16 16 x 8 prefill kernel, its k
// loop included, to 17.3k instructions instead of 4.8k, most of the difference spills (3199 vmovaps against 546), and
// ran it 2-3x slower; Mesa 22.3 runs both forms alike (tipo-200m pp512 on Mesa 25: 42-45 -> 70-72 tok/s).
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
                const vec2 r = ropeRotate(vec2(a, b), ropeRotation(d, pos, uintBitsToFloat(FREQ_BASE_BITS), HEAD_DIM));
                a = r.x; b = r.y;
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
            if (row >= pc.rows || tok >= pc.nTokens) continue;
            float g = acc[r * TOKENS + t];
            y[pc.yOffset + tok * pc.yStride + pc.rowOffset + outRow] = g / (1.0 + exp(-g)) * acc[(r + 1) * TOKENS + t];
        }
    }
#else
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        uint row = row0 + r * lanes;
        [[unroll]] for (uint t = 0; t < TOKENS; t++) {
            uint tok = tok0 + t;
            if (row >= pc.rows || tok >= pc.nTokens) continue;
            uint yi = pc.yOffset + tok * pc.yStride + pc.rowOffset + row;
            y[yi] = pc.accumulate != 0 ? y[yi] + acc[r * TOKENS + t] : acc[r * TOKENS + t];
        }
    }
#ifdef NORM_AFTER
    // The workgroup is one subgroup (the host checks): its lanes order themselves without barrier().
    memoryBarrierBuffer();
    subgroupMemoryBarrierBuffer();
    uint done = 0u;
    if (subgroupElect()) done = atomicAdd(finished[0], 1u);
    done = subgroupBroadcastFirst(done);
    if (done == gl_NumWorkGroups.x * gl_NumWorkGroups.y - 1u) {
        memoryBarrierBuffer();
        const uint lane = gl_LocalInvocationID.x, texels = pc.rows / 4u;
        for (uint tok = 0; tok < pc.nTokens; tok++) {
            const uint x0 = pc.yOffset + tok * pc.yStride + pc.rowOffset, out0 = tok * pc.rows;
            vec4 ss = vec4(0.0);
            for (uint i = lane; i < texels; i += lanes) {
                const vec4 v = vec4(y[x0 + 4u * i], y[x0 + 4u * i + 1u], y[x0 + 4u * i + 2u], y[x0 + 4u * i + 3u]);
                ss += v * v;
            }
            const float scale = inversesqrt(subgroupAdd(ss.x + ss.y + ss.z + ss.w) / float(pc.rows) + uintBitsToFloat(NORM_EPS_BITS));
            for (uint i = lane; i < texels; i += lanes) {
                const vec4 v = vec4(y[x0 + 4u * i], y[x0 + 4u * i + 1u], y[x0 + 4u * i + 2u], y[x0 + 4u * i + 3u]) * scale * g4(i);
                const uint e = out0 + i * 4u;
                normed[e] = v.x; normed[e + 1u] = v.y; normed[e + 2u] = v.z; normed[e + 3u] = v.w;
            }
        }
        if (subgroupElect()) atomicExchange(finished[0], 0u);   // ready for the next dispatch
    }
#endif
#endif
