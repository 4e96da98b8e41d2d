using Tipo.Errors;
using Tipo.Models;

namespace Tipo.Tests.Models;

public class GgufFileTests : TempDirTest
{
    private const uint F32 = 0, Q8_0 = 8;

    private string Write(RawGguf raw, string name = "bad.gguf") => WriteFile(name, raw.ToArray());

    private void Bad(RawGguf raw, params string[] fragments)
    {
        string p = Write(raw);
        ExpectFormatError(p, () => GgufFile.Open(p).Dispose(), fragments);
    }

    /// <summary>One F32 tensor "t" of [2, 8] after the given metadata.</summary>
    private static RawGguf OneTensor(ulong offset = 0, uint type = F32, ulong[]? shape = null, int dataBytes = 64)
    {
        var r = new RawGguf().Header(1, 0).Tensor("t", type, offset, shape ?? [2, 8]).Align();
        return r.Zeros(dataBytes);
    }

    [Test]
    public void RoundTripsEveryMetadataTypeAndTensors([Values(2u, 3u)] uint version, [Values(32, 64)] int alignment)
    {
        var w = new GgufWriter(version, alignment);
        w.Add("u8", new GgufValue(GgufValueType.UInt8, (byte)200));
        w.Add("i8", new GgufValue(GgufValueType.Int8, (sbyte)-5));
        w.Add("u16", new GgufValue(GgufValueType.UInt16, (ushort)60000));
        w.Add("i16", new GgufValue(GgufValueType.Int16, (short)-300));
        w.Add("u32", 4000000000u);
        w.Add("i32", GgufValue.Of(-7));
        w.Add("f32", 1.5f);
        w.Add("bool", true);
        w.Add("str", "héllo");
        w.Add("u64", GgufValue.Of(ulong.MaxValue));
        w.Add("i64", GgufValue.Of(long.MinValue));
        w.Add("f64", GgufValue.Of(2.25));
        w.Add("strs", ["a", "", "ü"]);
        w.Add("f32s", new[] { 1f, -2f });
        w.Add("i32s", new[] { 3, -4 });
        w.Add("bools", new GgufValue(GgufValueType.Array, new[] { true, false }, GgufValueType.Bool));
        w.Add("u8s", new GgufValue(GgufValueType.Array, new byte[] { 1, 2, 3 }, GgufValueType.UInt8));
        w.Add("f64s", new GgufValue(GgufValueType.Array, new[] { 0.5, 1e300 }, GgufValueType.Float64));
        w.Add("nested", new GgufValue(GgufValueType.Array, new[] { GgufValue.Of(new[] { 1, 2 }), GgufValue.Of(new[] { 3 }) }, GgufValueType.Array));
        w.Add("empty", GgufValue.Of(Array.Empty<string>()));
        w.AddTensorF32("a", [2, 3], [1, 2, 3, 4, 5, 6]);
        w.AddTensorF16("b", [4], [0.5f, -1f, 2f, 65504f]);
        w.AddTensor("q", GgmlType.Q4_K, [1, 256], new byte[144]);
        string p = Path.Combine(Dir, "ok.gguf");
        w.Write(p);

        using var g = GgufFile.Open(p);
        Assert.Multiple(() =>
        {
            Assert.That(g.Version, Is.EqualTo((int)version));
            Assert.That(g.Alignment, Is.EqualTo(alignment));
            Assert.That(g.DataOffset % alignment, Is.Zero);
            Assert.That(g.Metadata["u8"].Value, Is.EqualTo((byte)200));
            Assert.That(g.Metadata["i8"].Value, Is.EqualTo((sbyte)-5));
            Assert.That(g.Metadata["u16"].Value, Is.EqualTo((ushort)60000));
            Assert.That(g.Metadata["i16"].Value, Is.EqualTo((short)-300));
            Assert.That(g.GetUInt32("u32"), Is.EqualTo(4000000000u));
            Assert.That(g.GetInt32("i32"), Is.EqualTo(-7));
            Assert.That(g.GetFloat32("f32"), Is.EqualTo(1.5f));
            Assert.That(g.GetBool("bool"), Is.True);
            Assert.That(g.GetString("str"), Is.EqualTo("héllo"));
            Assert.That(g.GetUInt64("u64"), Is.EqualTo(ulong.MaxValue));
            Assert.That(g.Metadata["i64"].Value, Is.EqualTo(long.MinValue));
            Assert.That(g.GetFloat32("f64"), Is.EqualTo(2.25f));
            Assert.That(g.GetStringArray("strs"), Is.EqualTo(new[] { "a", "", "ü" }));
            Assert.That(g.GetArray<float>("f32s"), Is.EqualTo(new[] { 1f, -2f }));
            Assert.That(g.GetArray<int>("i32s"), Is.EqualTo(new[] { 3, -4 }));
            Assert.That(g.GetArray<bool>("bools"), Is.EqualTo(new[] { true, false }));
            Assert.That(g.GetArray<byte>("u8s"), Is.EqualTo(new byte[] { 1, 2, 3 }));
            Assert.That(g.GetArray<double>("f64s"), Is.EqualTo(new[] { 0.5, 1e300 }));
            var nested = g.GetArray<GgufValue>("nested")!;
            Assert.That(nested[0].Value, Is.EqualTo(new[] { 1, 2 }));
            Assert.That(nested[1].Value, Is.EqualTo(new[] { 3 }));
            Assert.That(g.GetStringArray("empty"), Is.Empty);
            Assert.That(g.GetString("absent"), Is.Null);
            Assert.That(g.GetUInt32("absent", 9), Is.EqualTo(9u));
            Assert.That(g.MetadataKeys[0], Is.EqualTo(alignment == 32 ? "u8" : "general.alignment"));

            Assert.That(g.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "a", "b", "q" }));
            var a = g.Tensors[0];
            Assert.That(a.Shape, Is.EqualTo(new long[] { 2, 3 }));
            Assert.That(a.ElementCount, Is.EqualTo(6));
            Assert.That(a.ByteSize, Is.EqualTo(24));
            Assert.That(g.Tensors.All(t => t.DataOffset % alignment == 0));
            var floats = new float[6];
            Dequantize.ToFloat32(a.Type, g.TensorBytes(a), floats);
            Assert.That(floats, Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
            var halves = new float[4];
            Dequantize.ToFloat32(GgmlType.F16, g.TensorBytes(g.Tensors[1]), halves);
            Assert.That(halves, Is.EqualTo(new[] { 0.5f, -1f, 2f, 65504f }));
            Assert.That(g.Tensors[2].Type, Is.EqualTo(GgmlType.Q4_K));
            Assert.That(g.Tensors[2].ByteSize, Is.EqualTo(144));
        });
    }

    [Test]
    public void TypedGettersRejectTheWrongType()
    {
        var w = new GgufWriter().Add("s", "x").Add("f", 1f).Add("neg", GgufValue.Of(-1));
        string p = Path.Combine(Dir, "t.gguf");
        w.Write(p);
        using var g = GgufFile.Open(p);
        ExpectFormatError(p, () => g.GetUInt32("s"), "'s'", "expected integer");
        ExpectFormatError(p, () => g.GetString("f"), "'f'", "expected string");
        ExpectFormatError(p, () => g.GetBool("f"), "expected bool");
        ExpectFormatError(p, () => g.GetStringArray("s"), "expected array");
        ExpectFormatError(p, () => g.GetUInt32("neg"), "out of range");
        ExpectFormatError(p, () => g.GetUInt32("missing"), "'missing'", "missing");
        ExpectFormatError(p, () => g.RequireString("missing"), "'missing'");
    }

    [Test]
    public void EveryTruncationIsAnError()
    {
        var w = new GgufWriter().Add("k", "value").Add("arr", ["x", "yy"]).Add("n", 5u);
        w.AddTensorF32("a", [2, 8], SyntheticLlama.Random(16, 1));
        w.AddTensorF32("b", [3], [1, 2, 3]);
        var ms = new MemoryStream();
        w.Write(ms);
        byte[] full = ms.ToArray();
        string p = Path.Combine(Dir, "trunc.gguf");
        for (int n = 0; n < full.Length; n++)
        {
            File.WriteAllBytes(p, full[..n]);
            var e = Assert.Throws<ModelFormatException>(() => GgufFile.Open(p).Dispose(), $"prefix of {n} bytes");
            Assert.That(e!.Message, Does.Contain("trunc.gguf"));
        }
        File.WriteAllBytes(p, full);
        using var ok = GgufFile.Open(p);
        Assert.That(ok.Tensors, Has.Count.EqualTo(2));
    }

    [Test]
    public void EmptyFile() => Bad(new RawGguf(), "too short");

    [Test]
    public void BadMagic() => Bad(new RawGguf().Header(0, 0, magic: 0x4C4C5546), "not a GGUF file", "magic");

    [TestCase(1u)]
    [TestCase(4u)]
    [TestCase(0x03000000u)]
    public void UnsupportedVersion(uint version)
    {
        string p = Write(new RawGguf().Header(0, 0, version));
        ExpectUnsupported(p, () => GgufFile.Open(p).Dispose(), version == 0x03000000u ? "big-endian" : $"version {version}");
    }

    [Test]
    public void MetadataCountBeyondFile() => Bad(new RawGguf().Header(0, ulong.MaxValue), "metadata count");

    [Test]
    public void TensorCountBeyondFile() => Bad(new RawGguf().Header(1UL << 40, 0), "tensor count");

    [Test]
    public void KeyLengthBeyondFile() => Bad(new RawGguf().Header(0, 1).U64(1UL << 50).Zeros(16), "string length", "past the end");

    [Test]
    public void StringValueLengthBeyondFile() =>
        Bad(new RawGguf().Header(0, 1).Str("k").U32(8).U64(ulong.MaxValue).Zeros(8), "'k'", "string length");

    [Test]
    public void ArrayCountBeyondFile() =>
        Bad(new RawGguf().Header(0, 1).Str("arr").U32(9).U32(4).U64(1UL << 40).Zeros(64), "'arr'", "array length");

    [Test]
    public void StringArrayCountBeyondFile() =>
        Bad(new RawGguf().Header(0, 1).Str("toks").U32(9).U32(8).U64(100_000_000).Str("a").Str("b"), "'toks'", "array length");

    [Test]
    public void StringInsideArrayBeyondFile() =>
        Bad(new RawGguf().Header(0, 1).Str("toks").U32(9).U32(8).U64(2).Str("a").U64(1000).Zeros(8), "element 1", "'toks'");

    [Test]
    public void UnknownValueType() => Bad(new RawGguf().Header(0, 1).Str("k").U32(13).U32(0), "'k'", "unknown value type 13");

    [Test]
    public void UnknownArrayElementType() => Bad(new RawGguf().Header(0, 1).Str("k").U32(9).U32(77).U64(1).U32(0), "'k'", "unknown element type 77");

    [Test]
    public void ArraysNestedTooDeep()
    {
        var r = new RawGguf().Header(0, 1).Str("deep").U32(9);
        for (int i = 0; i < 20; i++)
            r.U32(9).U64(1);
        r.U32(4).U64(0);
        Bad(r, "'deep", "nested");
    }

    [Test]
    public void BoolOutOfRange() => Bad(new RawGguf().Header(0, 1).Str("b").U32(7).U8(2), "'b'", "bool");

    [Test]
    public void InvalidUtf8() => Bad(new RawGguf().Header(0, 1).U64(2).Bytes([0xC3, 0x28]).U32(4).U32(1), "UTF-8");

    [Test]
    public void DuplicateKey() => Bad(new RawGguf().Header(0, 2).KvU32("k", 1).KvU32("k", 2), "duplicate", "'k'");

    [TestCase(0u)]
    [TestCase(48u)]
    public void BadAlignment(uint alignment) => Bad(new RawGguf().Header(0, 1).KvU32("general.alignment", alignment), "general.alignment");

    [Test]
    public void AlignmentOfWrongType() => Bad(new RawGguf().Header(0, 1).KvString("general.alignment", "32"), "general.alignment");

    [TestCase(0)]
    [TestCase(5)]
    public void BadDimensionCount(int dims) =>
        Bad(new RawGguf().Header(1, 0).Str("t").U32((uint)dims).Zeros(8 * dims).U32(F32).U64(0).Align().Zeros(64), "'t'", $"{dims} dimensions");

    [TestCase(4u)]
    [TestCase(99u)]
    public void UnknownTensorType(uint type) => Bad(OneTensor(type: type), "'t'", $"unknown ggml type {type}");

    [Test]
    public void TensorOffsetBeyondFile() => Bad(OneTensor(offset: 1UL << 40), "'t'", "past the end");

    [Test]
    public void TensorOffsetNearULongMax() => Bad(OneTensor(offset: ulong.MaxValue - 31), "'t'");

    [Test]
    public void TensorDataPastEnd() => Bad(OneTensor(dataBytes: 63), "'t'", "past the end");

    [Test]
    public void TensorOffsetMisaligned() => Bad(OneTensor(offset: 4, dataBytes: 68), "'t'", "alignment");

    [Test]
    public void OverlappingTensors() =>
        Bad(new RawGguf().Header(2, 0).Tensor("a", F32, 0, 16).Tensor("b", F32, 32, 16).Align().Zeros(128), "overlap", "'a'", "'b'");

    [Test]
    public void DuplicateTensorName() =>
        Bad(new RawGguf().Header(2, 0).Tensor("a", F32, 0, 8).Tensor("a", F32, 32, 8).Align().Zeros(64), "duplicate tensor name 'a'");

    [Test]
    public void ElementCountOverflow() => Bad(OneTensor(shape: [1UL << 32, 1UL << 32]), "'t'", "overflow");

    [Test]
    public void ByteSizeOverflow() => Bad(OneTensor(shape: [1UL << 31, 1UL << 31]), "'t'", "overflow");

    [Test]
    public void DimensionTooLarge() => Bad(OneTensor(shape: [ulong.MaxValue]), "'t'", "too large");

    [Test]
    public void ZeroDimension() => Bad(OneTensor(shape: [0, 8]), "'t'", "zero dimension");

    [Test]
    public void RowNotWholeBlocks() => Bad(OneTensor(type: Q8_0, shape: [2, 16]), "'t'", "block size 32");

    [Test]
    public void EmptyTensorName() => Bad(new RawGguf().Header(1, 0).Tensor("", F32, 0, 8).Align().Zeros(32), "empty name");

    [Test]
    public void MissingFile()
    {
        string p = Path.Combine(Dir, "nope.gguf");
        ExpectFormatError(p, () => GgufFile.Open(p).Dispose(), "not found");
    }
}
