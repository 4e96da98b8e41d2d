#version 450
// include/decode_layer.glsl with the device clock written at every phase boundary of every workgroup (DecodeLayerTimeline).
#define TIMELINE
#include "decode_layer.glsl"
