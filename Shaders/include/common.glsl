// Shared declarations for every Tipo compute shader.
#extension GL_EXT_shader_explicit_arithmetic_types : require
