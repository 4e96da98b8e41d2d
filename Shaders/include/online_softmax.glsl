// One lane's online softmax over its keys, SOFTMAX_KEYS of them per update: attention_keys.comp (a lane's keys
// j0 + b S + l, b < KEYS) and decode_layer_cpu.glsl's attention (its ATTN_KEYS) both call these, so decode and prefill
// sum in the same order and give a token the same bits. The including file defines SOFTMAX_KEYS (a constant
// expression) and SOFTMAX_STRIDE (the keys between a lane's consecutive keys: the lanes).

// The update for the scores s of keys firstKey + b SOFTMAX_STRIDE, those below len visible: invisible keys stay out of
// the running max and get weight 0, so a block with none visible (its first key is the lane's smallest) leaves the
// state exactly as it was. Returns the correction the lane's weighted sum of values is to be multiplied by; p gets
// each key's weight.
float softmaxUpdate(in float s[SOFTMAX_KEYS], uint firstKey, uint len, inout float runMax, inout float runSum, out float p[SOFTMAX_KEYS]) {
    float newMax = runMax;
    [[unroll]] for (uint b = 0u; b < SOFTMAX_KEYS; b++)
        if (firstKey + b * SOFTMAX_STRIDE < len) newMax = max(newMax, s[b]);
    const float corr = firstKey < len ? exp(runMax - newMax) : 1.0;
    float sum = runSum * corr;
    [[unroll]] for (uint b = 0u; b < SOFTMAX_KEYS; b++) {
        p[b] = firstKey + b * SOFTMAX_STRIDE < len ? exp(s[b] - newMax) : 0.0;
        sum += p[b];
    }
    runSum = sum;
    runMax = newMax;
    return corr;
}

// One texel of the lane's weighted sum of values after an update: o times the correction, plus each key's weight
// times its value texel v[b].
vec4 softmaxAccumulate(vec4 o, float corr, in float p[SOFTMAX_KEYS], in vec4 v[SOFTMAX_KEYS]) {
    vec4 acc = o * corr;
    [[unroll]] for (uint b = 0u; b < SOFTMAX_KEYS; b++) acc += p[b] * v[b];
    return acc;
}
