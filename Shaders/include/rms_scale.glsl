// The RMSNorm scale 1 / sqrt(mean(x^2) + eps) of one row, summed by a single lane in one fixed order (vec4 partial
// sums over the row, then the four lanes of the vector, then the scalar tail). The rmsnorm kernel on CPU devices and
// the matmuls that fuse the norm both use it, so a token's activations are bit-identical whichever path it takes
// (a prompt's last token re-evaluated alone goes through the fused decode kernels; as part of a prompt, not).
// The including file defines `vec4 rmsLoad4(uint i)` (elements 4i..4i+3 of the row) and `float rmsLoad1(uint i)`.
float rmsScale(uint n, float eps) {
    vec4 ss4 = vec4(0.0);
    for (uint i = 0; i < n / 4u; i++) { vec4 v = rmsLoad4(i); ss4 += v * v; }
    float ss = ss4.x + ss4.y + ss4.z + ss4.w;
    for (uint i = n & ~3u; i < n; i++) { float v = rmsLoad1(i); ss += v * v; }
    return inversesqrt(ss / float(n) + eps);
}
