#version 450
// Placeholder kernel used to check the shader pipeline: y[i] = value.
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { uint n; float value; } pc;
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < pc.n) y[i] = pc.value;
}
