namespace Tipo.Inference.Kernels;

/// <summary>Element type of a float table read by a kernel (embedding table, KV cache).</summary>
public enum MatrixType { F32, F16 }
