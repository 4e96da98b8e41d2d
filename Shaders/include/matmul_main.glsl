// The main() of the matmul kernels; see matmul.glsl.
const uint OUTPUTS = ROWS * TOKENS;
shared float partialSums[gl_WorkGroupSize.x * OUTPUTS];

float reduceLane(float v, uint slot) {
    if (USE_SUBGROUP_ADD && gl_NumSubgroups == 1) {
        return subgroupAdd(v);
    }
    // Shared-memory tree reduction: works for any subgroup size or none.
    uint lane = gl_LocalInvocationID.x;
    partialSums[slot * gl_WorkGroupSize.x + lane] = v;
    barrier();
    for (uint stride = gl_WorkGroupSize.x / 2; stride > 0; stride >>= 1) {
        if (lane < stride) {
            partialSums[slot * gl_WorkGroupSize.x + lane] += partialSums[slot * gl_WorkGroupSize.x + lane + stride];
        }
        barrier();
    }
    return partialSums[slot * gl_WorkGroupSize.x];
}

void main() {
    const uint row0 = gl_WorkGroupID.x * ROWS;
    const uint tok0 = gl_WorkGroupID.y * TOKENS;
    const uint lane = gl_LocalInvocationID.x;
    const uint cols = pc.cols;

    float acc[OUTPUTS];
    for (uint i = 0; i < OUTPUTS; i++) acc[i] = 0.0;

    const uint bodyEnd = cols & ~3u;
    for (uint k = lane * 4; k < bodyEnd; k += gl_WorkGroupSize.x * 4) {
        vec4 xv[TOKENS];
        for (uint t = 0; t < TOKENS; t++) {
            uint tok = min(tok0 + t, pc.nTokens - 1);   // clamp: extra lanes compute a duplicate, never stored
            uint xi = pc.xOffset + tok * cols + k;
            xv[t] = vec4(x[xi], x[xi + 1], x[xi + 2], x[xi + 3]);
        }
        for (uint r = 0; r < ROWS; r++) {
            vec4 w = loadW4(min(row0 + r, pc.rows - 1), k);
            for (uint t = 0; t < TOKENS; t++) acc[r * TOKENS + t] += dot(w, xv[t]);
        }
    }
    // Tail: cols % 4 elements, one per lane.
    for (uint k = bodyEnd + lane; k < cols; k += gl_WorkGroupSize.x) {
        for (uint r = 0; r < ROWS; r++) {
            float w = loadW1(min(row0 + r, pc.rows - 1), k);
            for (uint t = 0; t < TOKENS; t++) {
                uint tok = min(tok0 + t, pc.nTokens - 1);
                acc[r * TOKENS + t] += w * x[pc.xOffset + tok * cols + k];
            }
        }
    }

    for (uint r = 0; r < ROWS; r++) {
        for (uint t = 0; t < TOKENS; t++) {
            float sum = reduceLane(acc[r * TOKENS + t], r * TOKENS + t);
            uint row = row0 + r;
            uint tok = tok0 + t;
            if (lane == 0 && row < pc.rows && tok < pc.nTokens) {
                uint yi = pc.yOffset + tok * pc.yStride + pc.rowOffset + row;
                y[yi] = pc.accumulate != 0 ? y[yi] + sum : sum;
            }
        }
    }
}
