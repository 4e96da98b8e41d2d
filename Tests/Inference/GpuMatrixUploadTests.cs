using Tipo.Inference;
using Tipo.Models;
using Tipo.Tests.Quantization;
using Tipo.Tests.Vulkan;
using Tipo.Vulkan;

namespace Tipo.Tests.Inference;

/// <summary>
/// The weight upload writes each chunk in place where the buffer is mapped (lavapipe) and through a host copy and the
/// staging buffer where it is not (discrete GPUs; <see cref="GpuBuffer.Placement.DeviceOnly"/> forces it here). Both
/// must store the same bytes, and F32/F16 rows, which go straight from the file, the layout the kernels read.
/// </summary>
public class GpuMatrixUploadTests : GpuTest
{
    private const int Rows = 37, Cols = 256, ChunkRows = 16;

    [TestCase(GgmlType.F32, 0)]
    [TestCase(GgmlType.F32, 8)]
    [TestCase(GgmlType.F16, 0)]
    [TestCase(GgmlType.F16, 16)]
    [TestCase(GgmlType.Q8_0, 0)]
    [TestCase(GgmlType.Q8_0, 16)]
    [TestCase(GgmlType.Q4_K, 16)]
    public unsafe void InPlaceAndStagedUploadsStoreTheSameBytes(GgmlType type, int tileRows)
    {
        byte[] raw = FileRows(type, Rows, Cols, seed: 5);
        GgmlType gpuType = GpuMatrix.GpuTypeFor(type, "w", quantsAsF16: QuantsAsF16.AllButQ8_0);
        long maxChunk = ChunkRows * GpuMatrix.GpuRowBytes(gpuType, Cols);
        GpuMatrix inPlace, staged;
        fixed (byte* p = raw)
        {
            inPlace = GpuMatrix.Upload(Device, "w", type, Rows, Cols, p, GpuBuffer.Placement.Auto, maxChunk, tileRows, quantsAsF16: QuantsAsF16.AllButQ8_0);
            staged = GpuMatrix.Upload(Device, "w", type, Rows, Cols, p, GpuBuffer.Placement.DeviceOnly, maxChunk, tileRows, quantsAsF16: QuantsAsF16.AllButQ8_0);
        }
        using (inPlace)
        using (staged)
        {
            Assert.That(staged.Chunks.All(c => c.Buffer.MappedPointer == null), "DeviceOnly buffers are written through the staging buffer");
            if (Device.Info.UnifiedMemory)
                Assert.That(inPlace.Chunks.All(c => c.Buffer.MappedPointer != null), "lavapipe's weight buffers are written in place");
            Assert.That(inPlace.Chunks.Select(c => (c.RowStart, c.RowCount)), Is.EqualTo(new[] { (0, 16), (16, 16), (32, 5) }));
            for (int i = 0; i < inPlace.Chunks.Count; i++)
            {
                byte[] a = Read(inPlace.Chunks[i].Buffer), b = Read(staged.Chunks[i].Buffer);
                Assert.That(a, Is.EqualTo(b), $"chunk {i}");
                if (type is GgmlType.F32 or GgmlType.F16)
                    Assert.That(a, Is.EqualTo(Expected(raw, GpuMatrix.GpuRowBytes(type, Cols), inPlace.Chunks[i], tileRows, a.Length)), $"chunk {i}'s layout");
            }
        }
    }

    /// <summary>Gate and up interleaved in blocks (rows from many pieces): the same bytes either way, F16 rows in the interleaved order.</summary>
    [TestCase(GgmlType.F16, 0)]
    [TestCase(GgmlType.F16, 16)]
    [TestCase(GgmlType.Q8_0, 16)]
    public unsafe void InterleavedUploadsStoreTheSameBytes(GgmlType type, int tileRows)
    {
        const int rows = 32, block = 8;
        byte[] gate = FileRows(type, rows, Cols, seed: 6), up = FileRows(type, rows, Cols, seed: 7);
        GpuMatrix inPlace, staged;
        fixed (byte* g = gate)
        fixed (byte* u = up)
        {
            inPlace = GpuMatrix.UploadInterleaved(Device, "glu", type, rows, Cols, g, u, block, GpuBuffer.Placement.Auto, tileRows);
            staged = GpuMatrix.UploadInterleaved(Device, "glu", type, rows, Cols, g, u, block, GpuBuffer.Placement.DeviceOnly, tileRows);
        }
        using (inPlace)
        using (staged)
        {
            byte[] a = Read(inPlace.Chunks.Single().Buffer);
            Assert.That(a, Is.EqualTo(Read(staged.Chunks.Single().Buffer)));
            if (type != GgmlType.F16) return;
            int rowBytes = 2 * Cols;
            var interleaved = new byte[2 * rows * rowBytes];
            for (int r = 0; r < 2 * rows; r++)
            {
                byte[] from = r / block % 2 == 0 ? gate : up;
                int fromRow = r / (2 * block) * block + r % block;
                Array.Copy(from, fromRow * rowBytes, interleaved, r * rowBytes, rowBytes);
            }
            Assert.That(a, Is.EqualTo(Expected(interleaved, rowBytes, inPlace.Chunks.Single(), tileRows, a.Length)));
        }
    }

    private static byte[] FileRows(GgmlType type, int rows, int cols, int seed)
    {
        if (type is GgmlType.Q8_0 or GgmlType.Q4_K)
            return QuantBlockBuilder.Build(type, rows * cols / GgmlTypeInfo.BlockSize(type), new Random(seed)).Data;
        float[] w = Kernels.Reference.Random(rows * cols, seed);
        return type == GgmlType.F16
            ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(Kernels.Reference.ToHalf(w).AsSpan()).ToArray()
            : System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.AsSpan()).ToArray();
    }

    private static byte[] Read(GpuBuffer buffer)
    {
        var bytes = new byte[buffer.SizeBytes];
        buffer.Download<byte>(bytes);
        return bytes;
    }

    /// <summary>A chunk of plain rows as the kernels read it: row-major, or texel kt of the chunk's row r at texel
    /// (r / tile * texelsPerRow + kt) * tile + r % tile (GpuMatrix.TileRows), padding rows and trailing bytes zero.</summary>
    private static byte[] Expected(byte[] fileRows, long rowBytes, GpuMatrix.Chunk chunk, int tileRows, int length)
    {
        var expected = new byte[length];
        int texelsPerRow = (int)(rowBytes / 16);
        for (int r = 0; r < chunk.RowCount; r++)
        {
            int src = (int)((chunk.RowStart + r) * rowBytes);
            if (tileRows == 0)
            {
                Array.Copy(fileRows, src, expected, r * rowBytes, rowBytes);
                continue;
            }
            for (int kt = 0; kt < texelsPerRow; kt++)
                Array.Copy(fileRows, src + 16 * kt, expected, 16 * ((r / tileRows * texelsPerRow + kt) * tileRows + r % tileRows), 16);
        }
        return expected;
    }
}
