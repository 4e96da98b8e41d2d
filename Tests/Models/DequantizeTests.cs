using System.Buffers.Binary;
using Tipo.Errors;
using Tipo.Models;

namespace Tipo.Tests.Models;

public class DequantizeTests
{
    [Test]
    public void Q8_0Block()
    {
        var block = new byte[34 * 2];
        BinaryPrimitives.WriteUInt16LittleEndian(block, BitConverter.HalfToUInt16Bits((Half)0.5f));
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(34), BitConverter.HalfToUInt16Bits((Half)(-2f)));
        for (int i = 0; i < 32; i++)
        {
            block[2 + i] = (byte)(sbyte)(i - 16);
            block[36 + i] = (byte)(sbyte)(i == 0 ? -128 : 127);
        }
        var x = new float[64];
        Dequantize.ToFloat32(GgmlType.Q8_0, block, x);
        Assert.That(x[0], Is.EqualTo(-8f));
        Assert.That(x[31], Is.EqualTo(7.5f));
        Assert.That(x[32], Is.EqualTo(256f));
        Assert.That(x[33], Is.EqualTo(-254f));
    }

    [Test]
    public void HalfAndBFloat16()
    {
        Assert.That(Dequantize.HalfToFloat(0x3C00), Is.EqualTo(1f));
        Assert.That(Dequantize.HalfToFloat(0xC000), Is.EqualTo(-2f));
        Assert.That(Dequantize.HalfToFloat(0x0001), Is.EqualTo(5.9604645e-8f));
        Assert.That(float.IsPositiveInfinity(Dequantize.HalfToFloat(0x7C00)));
        Assert.That(Dequantize.BFloat16ToFloat(0x3F80), Is.EqualTo(1f));
        Assert.That(Dequantize.BFloat16ToFloat(0xC040), Is.EqualTo(-3f));
    }

    [Test]
    public void UnsupportedTypeNamesTensor()
    {
        var e = Assert.Throws<UnsupportedFeatureException>(() => Dequantize.ToFloat32(GgmlType.IQ4_XS, new byte[136], new float[256], "blk.0.ffn_down.weight"));
        Assert.That(e!.Message, Does.Contain("blk.0.ffn_down.weight").And.Contain("IQ4_XS")); // issue 7: k-quants are supported now
    }

    [Test]
    public void WrongSourceLength() =>
        Assert.Throws<ArgumentException>(() => Dequantize.ToFloat32(GgmlType.F16, new byte[3], new float[2]));

    [TestCase(GgmlType.F32, 1, 4)]
    [TestCase(GgmlType.F16, 1, 2)]
    [TestCase(GgmlType.BF16, 1, 2)]
    [TestCase(GgmlType.Q8_0, 32, 34)]
    [TestCase(GgmlType.Q4_0, 32, 18)]
    [TestCase(GgmlType.Q4_K, 256, 144)]
    [TestCase(GgmlType.Q5_K, 256, 176)]
    [TestCase(GgmlType.Q6_K, 256, 210)]
    [TestCase(GgmlType.Q2_K, 256, 84)]
    [TestCase(GgmlType.Q3_K, 256, 110)]
    public void BlockGeometry(GgmlType type, int size, int bytes)
    {
        Assert.That(GgmlTypeInfo.BlockSize(type), Is.EqualTo(size));
        Assert.That(GgmlTypeInfo.BlockBytes(type), Is.EqualTo(bytes));
        Assert.That(GgmlTypeInfo.RowBytes(type, size * 3L), Is.EqualTo(bytes * 3L));
    }

    [Test]
    public void RowBytesChecks()
    {
        Assert.Throws<ArgumentException>(() => GgmlTypeInfo.RowBytes(GgmlType.Q8_0, 33));
        Assert.Throws<OverflowException>(() => GgmlTypeInfo.RowBytes(GgmlType.F32, long.MaxValue / 2));
        Assert.Throws<UnsupportedFeatureException>(() => GgmlTypeInfo.BlockSize((GgmlType)4));
        Assert.That(GgmlTypeInfo.IsSupportedForCompute(GgmlType.Q8_0));
        Assert.That(GgmlTypeInfo.IsSupportedForCompute(GgmlType.IQ4_XS), Is.False);
    }
}
