#version 450
// One transformer layer of a decode step in one dispatch: include/decode_layer.glsl.
#include "decode_layer.glsl"
