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
