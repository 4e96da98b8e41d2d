#version 450
// Top-OUT of a row of logits, for sampling on the GPU: each workgroup sorts BLOCK entries in shared memory (bitonic,
// descending by logit, ties by ascending token id) and writes its best OUT as (key, id) pairs. Pass 0 reads the logits
// (one float per token id); later passes read the previous pass's lists (BLOCK / OUT of them per workgroup) and keep
// the best OUT of those, until one list is left. The key orders like the float (-0 as +0, NaN above everything so the
// host's validation sees it); missing entries (past n) are (0, 0xFFFFFFFF), below every logit.
// bindings: 0 = input: logits [n] f32 (FROM_LOGITS) or lists [n] (key, id); 1 = output [groups, OUT] (key, id)
// push: { uint n; } (input entries)   spec: 0 = WG, 1 = BLOCK (power of two, >= 2 WG, >= OUT), 2 = OUT, 3 = FROM_LOGITS
// grid: (ceil(n / BLOCK), 1, 1)
layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint BLOCK = 2048;
layout(constant_id = 2) const uint OUT = 256;
layout(constant_id = 3) const bool FROM_LOGITS = true;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Logits { float logits[]; };
layout(std430, binding = 0) readonly buffer Lists { uvec2 lists[]; };
layout(std430, binding = 1) writeonly buffer Out { uvec2 outList[]; };
layout(push_constant) uniform Push { uint n; } pc;

shared uint keys[BLOCK];
shared uint ids[BLOCK];

// A uint that orders like the float: larger logit, larger key.
uint orderedKey(float f) {
    if (isnan(f)) return 0xFFFFFFFFu;
    const uint u = floatBitsToUint(f == 0.0 ? 0.0 : f);
    return (u >> 31) != 0u ? ~u : (u | 0x80000000u);
}

// Whether entry a goes before entry b: higher key, then lower id.
bool before(uint ka, uint ia, uint kb, uint ib) { return ka > kb || (ka == kb && ia < ib); }

void main() {
    const uint base = gl_WorkGroupID.x * BLOCK;
    const uint lane = gl_LocalInvocationID.x;
    for (uint i = lane; i < BLOCK; i += WG) {
        const uint e = base + i;
        if (e >= pc.n) {
            keys[i] = 0u;
            ids[i] = 0xFFFFFFFFu;
        } else if (FROM_LOGITS) {
            keys[i] = orderedKey(logits[e]);
            ids[i] = e;
        } else {
            const uvec2 p = lists[e];
            keys[i] = p.x;
            ids[i] = p.y;
        }
    }
    barrier();
    // Bitonic sort, descending, of the smallest power of two that holds the block's entries (a last, short block: the
    // final merge of a 32k vocabulary holds 512); what lies past it is padding, below everything, already in place.
    const uint entries = min(BLOCK, pc.n - base);
    uint span = 2u;
    while (span < entries) span <<= 1;
    // For each size, for each stride, every lane compares span / 2 / WG pairs.
    for (uint size = 2u; size <= span; size <<= 1) {
        for (uint stride = size >> 1; stride > 0u; stride >>= 1) {
            for (uint p = lane; p < span / 2u; p += WG) {
                const uint i = 2u * p - (p & (stride - 1u));   // the lower index of the pair, its bit `stride` clear
                const uint j = i + stride;
                const bool descending = (i & size) == 0u;
                const uint ki = keys[i], ii = ids[i], kj = keys[j], ij = ids[j];
                if (before(kj, ij, ki, ii) == descending) {
                    keys[i] = kj; ids[i] = ij;
                    keys[j] = ki; ids[j] = ii;
                }
            }
            barrier();
        }
    }
    for (uint i = lane; i < OUT; i += WG) outList[gl_WorkGroupID.x * OUT + i] = uvec2(keys[i], ids[i]);
}
