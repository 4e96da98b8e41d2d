// The push constants of every matmul kernel (split-k, rows-per-lane, wide split-k): MatmulKernel.Push on the host.
// The rows-per-lane and wide kernels need cols in whole 16-byte texels and xOffset % 4 == 0 (checked on the host).
layout(push_constant) uniform MatmulPush {
    uint rows;       // rows of W in this binding
    uint cols;       // columns of W = length of each X row
    uint nTokens;    // rows of X
    uint xOffset;    // element offset of X's row 0
    uint yOffset;    // element offset of Y's row 0
    uint yStride;    // elements between consecutive tokens in Y
    uint rowOffset;  // column of Y that receives W's row 0 (row chunks of a split matrix)
    uint accumulate; // 1: Y += W X (residual add fused), 0: Y = W X
} pc;
