// Shared declarations for every Tipo compute shader.
#extension GL_EXT_shader_explicit_arithmetic_types : require

// Global invocation index for a 1-D problem dispatched as a 2-D grid of workgroups
// (groups beyond maxComputeWorkGroupCount[0] go to the y dimension).
// wg = the workgroup size (pass the spec constant: gl_WorkGroupSize is not reliable with local_size_x_id).
uint linear_index(uint wg) {
    return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * wg + gl_LocalInvocationID.x;
}

// Reads f16 element e of a buffer of packed halves stored as uint words.
#define HALF_AT(arr, e) (unpackHalf2x16(arr[(e) >> 1])[(e) & 1u])

// The query tile a workgroup row y of `tiles` takes in a causal kernel: tiles 0, T-1, 1, T-2, ... (T = tiles), so any run
// of consecutive rows holds about as many keys to score as any other. llvmpipe hands each of its threads one contiguous
// block of a dispatch's workgroups (x fastest): in row order the thread with the last block scored three quarters of
// the keys while the other waited (prefill attention of 512 tokens on 2 threads).
uint causalTile(uint y, uint tiles) {
    return (y & 1u) == 0u ? y / 2u : tiles - 1u - y / 2u;
}
