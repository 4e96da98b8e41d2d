using System.Buffers.Binary;
using System.Text;
using Tipo.Models;

namespace Tipo.Tests.Models;

public class SafetensorsFileTests : TempDirTest
{
    private static SafetensorsWriter Sample()
    {
        var w = new SafetensorsWriter();
        w.AddF32("a", [2, 3], [1, 2, 3, 4, 5, 6]);
        var f16 = new byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(f16, BitConverter.HalfToUInt16Bits((Half)1.5f));
        BinaryPrimitives.WriteUInt16LittleEndian(f16.AsSpan(2), BitConverter.HalfToUInt16Bits((Half)(-2f)));
        w.Add("h", "F16", [2], f16);
        var bf = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bf, (ushort)(BitConverter.SingleToUInt32Bits(3.0f) >> 16));
        w.Add("b", "BF16", [1], bf);
        w.Metadata["format"] = "pt";
        return w;
    }

    private void Bad(string headerJson, params string[] fragments) => BadBytes(Sample().ToBytes(headerJson), fragments);

    private void BadBytes(byte[] bytes, params string[] fragments)
    {
        string p = WriteFile("bad.safetensors", bytes);
        ExpectFormatError(p, () => SafetensorsFile.Open(p).Dispose(), fragments);
    }

    [Test]
    public void ReadsF32F16Bf16AndMetadata()
    {
        string p = WriteFile("ok.safetensors", Sample().ToBytes());
        using var f = SafetensorsFile.Open(p);
        Assert.Multiple(() =>
        {
            Assert.That(f.Metadata["format"], Is.EqualTo("pt"));
            Assert.That(f.Tensors.Select(t => t.Name), Is.EquivalentTo(new[] { "a", "h", "b" }));
            var a = f.FindTensor("a")!;
            Assert.That(a.Type, Is.EqualTo(GgmlType.F32));
            Assert.That(a.Shape, Is.EqualTo(new long[] { 2, 3 }));
            Assert.That(a.ByteSize, Is.EqualTo(24));
            var x = new float[6];
            Dequantize.ToFloat32(a.Type, f.TensorBytes(a), x);
            Assert.That(x, Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
            var h = new float[2];
            Dequantize.ToFloat32(GgmlType.F16, f.TensorBytes(f.FindTensor("h")!), h);
            Assert.That(h, Is.EqualTo(new[] { 1.5f, -2f }));
            var b = new float[1];
            Dequantize.ToFloat32(GgmlType.BF16, f.TensorBytes(f.FindTensor("b")!), b);
            Assert.That(b[0], Is.EqualTo(3.0f));
        });
    }

    [Test]
    public void EveryTruncationIsAnError()
    {
        byte[] full = Sample().ToBytes();
        string p = Path.Combine(Dir, "trunc.safetensors");
        for (int n = 0; n < full.Length; n++)
        {
            File.WriteAllBytes(p, full[..n]);
            var e = Assert.Throws<Tipo.Errors.ModelFormatException>(() => SafetensorsFile.Open(p).Dispose(), $"prefix of {n} bytes");
            Assert.That(e!.Message, Does.Contain("trunc.safetensors"));
        }
    }

    [Test]
    public void TooShort() => BadBytes([1, 2, 3], "too short");

    [Test]
    public void HeaderLengthBeyondFile()
    {
        var bytes = Sample().ToBytes();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        BadBytes(bytes, "header length", "past the end");
    }

    [Test]
    public void InvalidJson() => Bad("{\"a\": {\"dtype\": ", "not valid JSON");

    [Test]
    public void HeaderNotAnObject() => Bad("[1, 2, 3]", "JSON object");

    [Test]
    public void EntryNotAnObject() => Bad("{\"a\": 5}", "'a'", "object");

    [Test]
    public void UnsupportedDtype()
    {
        var w = new SafetensorsWriter().Add("ids", "I64", [2], new byte[16]);
        string p = WriteFile("i64.safetensors", w.ToBytes());
        ExpectUnsupported(p, () => SafetensorsFile.Open(p).Dispose(), "'ids'", "I64");
    }

    [Test]
    public void UnknownDtype() => Bad("""{"a": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 4]}}""", "'a'", "unknown dtype 'Q9'");

    [Test]
    public void MissingDtype() => Bad("""{"a": {"shape": [1], "data_offsets": [0, 4]}}""", "'a'", "dtype");

    [Test]
    public void MissingDataOffsets() => Bad("""{"a": {"dtype": "F32", "shape": [1]}}""", "'a'", "data_offsets");

    [Test]
    public void NegativeShape() => Bad("""{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}""", "'a'", "shape");

    [Test]
    public void NonIntegerShape() => Bad("""{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}""", "'a'", "shape");

    [Test]
    public void ShapeOverflow() =>
        Bad("""{"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}}""", "'a'", "overflow");

    [Test]
    public void OffsetsBeyondData() =>
        Bad("""{"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [1000000, 1000024]}}""", "'a'", "past the end");

    [Test]
    public void OffsetsReversed() => Bad("""{"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}""", "'a'", "invalid data_offsets");

    [Test]
    public void OffsetsDisagreeWithShape() =>
        Bad("""{"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}""", "'a'", "needs 24");

    [Test]
    public void OverlappingTensors() =>
        Bad("""{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}""", "overlap");

    [Test]
    public void MetadataNotStrings() => Bad("""{"__metadata__": {"x": 1}}""", "__metadata__");

    private string WriteShards(string index)
    {
        string dir = Path.Combine(Dir, "sharded");
        Directory.CreateDirectory(dir);
        new SafetensorsWriter().AddF32("a", [2], [1, 2]).Write(Path.Combine(dir, "model-00001-of-00002.safetensors"));
        new SafetensorsWriter().AddF32("b", [1], [3]).Write(Path.Combine(dir, "model-00002-of-00002.safetensors"));
        File.WriteAllText(Path.Combine(dir, SafetensorsDirectory.IndexFileName), index);
        return dir;
    }

    private const string GoodIndex = """{"metadata": {"total_size": 12}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}""";

    [Test]
    public void ShardedDirectory()
    {
        using var d = SafetensorsDirectory.Open(WriteShards(GoodIndex));
        Assert.That(d.Files, Has.Count.EqualTo(2));
        Assert.That(d.TryGet("b", out var file, out var t));
        Assert.That(Path.GetFileName(file.Path), Is.EqualTo("model-00002-of-00002.safetensors"));
        Assert.That(t.Shape, Is.EqualTo(new long[] { 1 }));
    }

    [Test]
    public void ShardIndexNamesMissingFile()
    {
        string dir = WriteShards(GoodIndex.Replace("00002-of-00002", "00003-of-00002", StringComparison.Ordinal));
        ExpectFormatError("model-00003-of-00002.safetensors", () => SafetensorsDirectory.Open(dir).Dispose(), "not found");
    }

    [Test]
    public void ShardIndexListsTensorNotInShard()
    {
        string dir = WriteShards(GoodIndex.Replace("\"b\": \"model-00002", "\"b\": \"model-00001", StringComparison.Ordinal));
        ExpectFormatError("model-00001-of-00002.safetensors", () => SafetensorsDirectory.Open(dir).Dispose(), "'b'", "not in this shard");
    }

    [Test]
    public void ShardIndexEscapesDirectory()
    {
        string dir = WriteShards("""{"weight_map": {"a": "../x.safetensors"}}""");
        ExpectFormatError(SafetensorsDirectory.IndexFileName, () => SafetensorsDirectory.Open(dir).Dispose(), "not a file in the same directory");
    }

    [Test]
    public void ShardIndexInvalidJson()
    {
        string dir = WriteShards("{weight_map");
        ExpectFormatError(SafetensorsDirectory.IndexFileName, () => SafetensorsDirectory.Open(dir).Dispose(), "not valid JSON");
    }

    [Test]
    public void ShardIndexWithoutWeightMap()
    {
        string dir = WriteShards("{}");
        ExpectFormatError(SafetensorsDirectory.IndexFileName, () => SafetensorsDirectory.Open(dir).Dispose(), "weight_map");
    }

    [Test]
    public void PyTorchBinOnly()
    {
        string dir = Path.Combine(Dir, "bin");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), Encoding.ASCII.GetBytes("PK"));
        ExpectUnsupported(dir, () => SafetensorsDirectory.Open(dir).Dispose(), "safetensors");
    }

    [Test]
    public void NoWeights()
    {
        string dir = Path.Combine(Dir, "empty");
        Directory.CreateDirectory(dir);
        ExpectFormatError(dir, () => SafetensorsDirectory.Open(dir).Dispose(), "model.safetensors");
    }
}
