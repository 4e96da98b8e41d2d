// Workgroup reductions through shared memory (portable: no subgroup operations).
// Requires before the include: `const uint WG` (a power of two, the workgroup size) and
// `shared float red_buf[WG];`. Every invocation of the workgroup must call these (they contain barriers).
float wg_sum(float v) {
    uint tid = gl_LocalInvocationID.x;
    barrier();
    red_buf[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) red_buf[tid] += red_buf[tid + s];
        barrier();
    }
    return red_buf[0];
}

float wg_max(float v) {
    uint tid = gl_LocalInvocationID.x;
    barrier();
    red_buf[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) red_buf[tid] = max(red_buf[tid], red_buf[tid + s]);
        barrier();
    }
    return red_buf[0];
}
