// The position of the forward pass, written by the host before each submit (not a push constant), so one recorded
// command buffer serves every decode step. Including file picks the binding with STEP_BINDING.
layout(std430, binding = STEP_BINDING) readonly buffer Step {
    uint pos0;      // cache position of the first new token
} step;
