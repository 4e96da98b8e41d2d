using Tipo.Errors;
using Tipo.Models;
using Tipo.Models.Quantization;

namespace Tipo.Tests.Quantization;

public class QuantGpuLayoutTests
{
    [TestCase(GgmlType.Q4_0, 20, 2)]
    [TestCase(GgmlType.Q4_1, 20, 0)]
    [TestCase(GgmlType.Q5_0, 24, 2)]
    [TestCase(GgmlType.Q5_1, 24, 0)]
    [TestCase(GgmlType.Q2_K, 84, 0)]
    [TestCase(GgmlType.Q3_K, 112, 0)]
    [TestCase(GgmlType.Q4_K, 144, 0)]
    [TestCase(GgmlType.Q5_K, 176, 0)]
    [TestCase(GgmlType.Q6_K, 212, 0)]
    public void SlotsAreWordAlignedAndKeepTheBytes(GgmlType type, int slot, int front)
    {
        Assert.That((QuantGpuLayout.SlotBytes(type), QuantGpuLayout.FrontPad(type)), Is.EqualTo((slot, front)));
        int bb = GgmlTypeInfo.BlockBytes(type);
        var src = new byte[3 * bb];
        new Random(5).NextBytes(src);
        var dst = new byte[QuantGpuLayout.GpuBytes(type, 3L * GgmlTypeInfo.BlockSize(type))];
        Array.Fill(dst, (byte)0xEE);
        QuantGpuLayout.Repack(type, src, dst);
        for (int b = 0; b < 3; b++)
        {
            var s = dst.AsSpan(b * slot, slot);
            Assert.That(s.Slice(front, bb).ToArray(), Is.EqualTo(src.AsSpan(b * bb, bb).ToArray()));
            Assert.That(s[..front].ToArray().Concat(s[(front + bb)..].ToArray()), Is.All.EqualTo((byte)0));
        }
    }

    [Test]
    public void TypesWithoutKernelThrow()
    {
        Assert.Throws<UnsupportedFeatureException>(() => QuantGpuLayout.SlotBytes(GgmlType.IQ2_XXS));
        Assert.Throws<UnsupportedFeatureException>(() => QuantGpuLayout.ShaderName(GgmlType.Q8_K));
        Assert.That(QuantGpuLayout.ShaderName(GgmlType.Q4_K), Is.EqualTo("matmul_q4_k"));
    }
}
