// The RMSNorm scale 1 / sqrt(mean(x^2) + eps) of one row, summed by a single lane in one fixed order (vec4 partial
// sums over the row, then the four lanes of the vector, then the scalar tail). The rmsnorm kernel on CPU devices
// sums this way (rmsScale); the matmuls that fuse the norm gather the same vec4 partial sums inside their k loop and
// finish them with rmsScaleOf, so both give a token the same scale.
float rmsScaleOf(vec4 ss4, float tail, uint n, float eps) {
    float ss = ss4.x + ss4.y + ss4.z + ss4.w + tail;
    return inversesqrt(ss / float(n) + eps);
}
float rmsScaleOf(vec4 ss4, uint n, float eps) { return rmsScaleOf(ss4, 0.0, n, eps); }

#ifdef RMS_LOADS
// The including file defines `vec4 rmsLoad4(uint i)` (elements 4i..4i+3 of the row) and `float rmsLoad1(uint i)`.
float rmsScale(uint n, float eps) {
    vec4 ss4 = vec4(0.0);
    for (uint i = 0; i < n / 4u; i++) { vec4 v = rmsLoad4(i); ss4 += v * v; }
    float tail = 0.0;
    for (uint i = n & ~3u; i < n; i++) { float v = rmsLoad1(i); tail += v * v; }
    return rmsScaleOf(ss4, tail, n, eps);
}
#endif
