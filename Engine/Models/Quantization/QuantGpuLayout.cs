using Tipo.Errors;

namespace Tipo.Models.Quantization;

/// <summary>
/// How a quantised weight matrix is laid out for the GPU matmul kernels (Shaders/matmul_&lt;type&gt;.comp):
/// the file's blocks, byte for byte, each placed in a slot whose size is rounded up to a multiple of 4 bytes
/// so that the shaders can read it as 32-bit words. Types whose block is already a multiple of 4 bytes
/// (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) are uploaded unchanged. Q4_0 and Q5_0 get 2 bytes of padding in front
/// (their f16 scale then fills the high half of word 0 and the quants start word-aligned); Q3_K and Q6_K get
/// 2 bytes at the end (their trailing f16 scale is the low half of the last word).
/// </summary>
public static class QuantGpuLayout
{
    /// <summary>True for the quantised types with a GPU matmul kernel.</summary>
    public static bool HasGpuKernel(GgmlType type) => type is GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1
        or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>The shader of <paramref name="type"/>'s matmul kernel, e.g. matmul_q4_k.</summary>
    public static string ShaderName(GgmlType type) => HasGpuKernel(type)
        ? "matmul_" + type.ToString().ToLowerInvariant()
        : throw new UnsupportedFeatureException($"no GPU matmul kernel for type {GgmlTypeInfo.Name(type)}");

    /// <summary>Bytes of padding in front of each block.</summary>
    public static int FrontPad(GgmlType type) => type is GgmlType.Q4_0 or GgmlType.Q5_0 ? 2 : 0;

    /// <summary>Bytes of one block's slot on the GPU (a multiple of 4).</summary>
    public static int SlotBytes(GgmlType type)
    {
        if (!HasGpuKernel(type))
            throw new UnsupportedFeatureException($"no GPU matmul kernel for type {GgmlTypeInfo.Name(type)}");
        return (GgmlTypeInfo.BlockBytes(type) + 3) & ~3;
    }

    /// <summary>32-bit words of one block's slot.</summary>
    public static int SlotWords(GgmlType type) => SlotBytes(type) / 4;

    /// <summary>True when the file's bytes can be uploaded as they are.</summary>
    public static bool IsUnchanged(GgmlType type) => SlotBytes(type) == GgmlTypeInfo.BlockBytes(type);

    /// <summary>GPU bytes of a tensor of <paramref name="elements"/> elements (whole blocks).</summary>
    public static long GpuBytes(GgmlType type, long elements)
    {
        int bs = GgmlTypeInfo.BlockSize(type);
        if (elements % bs != 0)
            throw new ArgumentException($"{elements} elements is not a whole number of {type} blocks of {bs}", nameof(elements));
        return checked(elements / bs * SlotBytes(type));
    }

    /// <summary>Copies the file's blocks <paramref name="src"/> into their GPU slots in <paramref name="dst"/> (padding bytes zeroed).</summary>
    public static void Repack(GgmlType type, ReadOnlySpan<byte> src, Span<byte> dst)
    {
        int bb = GgmlTypeInfo.BlockBytes(type), slot = SlotBytes(type), front = FrontPad(type);
        if (src.Length % bb != 0)
            throw new ArgumentException($"{type}: {src.Length} bytes is not a whole number of blocks of {bb}", nameof(src));
        long blocks = src.Length / bb;
        if (dst.Length != blocks * slot)
            throw new ArgumentException($"{type}: destination has {dst.Length} bytes, expected {blocks * slot}", nameof(dst));
        if (slot == bb)
        {
            src.CopyTo(dst);
            return;
        }
        for (int b = 0; b < blocks; b++)
        {
            var d = dst.Slice(b * slot, slot);
            d.Clear();
            src.Slice(b * bb, bb).CopyTo(d[front..]);
        }
    }
}
