using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tipo.Errors;
using Tipo.Models;
using Tipo.Models.Quantization;
using Tipo.Vulkan;

namespace Tipo.Inference;

/// <summary>Which quantised matrices <see cref="GpuMatrix"/> dequantises at upload and keeps as F16 instead of their blocks.</summary>
public enum QuantsAsF16
{
    /// <summary>Every quantised type keeps its blocks (GPUs: matmul_&lt;type&gt; reads them).</summary>
    None,
    /// <summary>Every quantised type but Q8_0 (CPU devices: their rows-per-lane kernels read F32, F16 and Q8_0).</summary>
    AllButQ8_0,
    /// <summary>Q8_0 too (CPU drivers whose Q8_0 rows-per-lane kernel runs slower than the F16 one: see
    /// <see cref="Kernels.MatmulKernel.Q8_0RowsSlowerThanF16"/>).</summary>
    All,
}

/// <summary>
/// A weight matrix [Rows, Cols] on the GPU, split by rows into chunks so that no binding exceeds the device's
/// maxStorageBufferRange (128 MiB on lavapipe; an F32 lm_head of 32013 x 1280 is 164 MB).
/// F32 and F16 stay as they are: F32 keeps the references' exact math, F16 halves the bytes read.
/// BF16 is widened to F32 (exact). Q8_0 stays quantised, repacked per chunk into aligned arrays holding the
/// same bytes (int8 quants [rows, cols], then f16 scales [rows, cols/32]) that matmul_q8_0 reads directly.
/// F32, F16 and Q8_0 may instead be stored in row tiles (<see cref="TileRows"/>) for the rows-per-lane kernels.
/// The other quantised types keep their GGUF blocks for matmul_&lt;type&gt;, or, with <see cref="QuantsAsF16"/> (CPU devices,
/// whose rows-per-lane kernels read F32, F16 and Q8_0 only), are dequantised at upload and stored as F16.
/// </summary>
public sealed class GpuMatrix : IDisposable
{
    /// <summary>One row range of the matrix in its own buffer.</summary>
    public sealed record Chunk(GpuBuffer Buffer, int RowStart, int RowCount);

    public string Name { get; }
    /// <summary>Element type as stored on the GPU (F32, F16, Q8_0, or a quantised type of Models.Quantization.QuantGpuLayout).</summary>
    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public IReadOnlyList<Chunk> Chunks { get; }
    /// <summary>Bytes of the matrix's rows on the GPU: what one full pass over it reads.</summary>
    public long SizeBytes { get; }
    /// <summary>Bytes of its buffers: <see cref="SizeBytes"/> plus the zero rows that pad the last row tile of each chunk.</summary>
    public long AllocatedBytes { get; }
    /// <summary>
    /// 0: rows one after another. Otherwise each chunk is stored in tiles of this many rows (the last one padded with
    /// zero rows), a tile texel column by texel column: the 16-byte texel kt of the tile's row r sits at texel
    /// (tile * texelsPerRow + kt) * TileRows + r. A rows-per-lane workgroup then reads one contiguous stream instead of
    /// one per row, which the CPU's prefetchers follow (tipo-200m decode on lavapipe 13-15 -> 21 tok/s). See matmul_rows_decl.glsl.
    /// </summary>
    public int TileRows { get; }

    private GpuMatrix(string name, GgmlType type, int rows, int cols, List<Chunk> chunks, int tileRows)
    {
        Name = name; Type = type; Rows = rows; Cols = cols; Chunks = chunks; TileRows = tileRows;
        SizeBytes = chunks.Sum(c => GpuRowBytes(type, cols) * c.RowCount);
        AllocatedBytes = chunks.Sum(c => c.Buffer.SizeBytes);
    }

    /// <summary>Whether a matrix of <paramref name="gpuType"/> and <paramref name="cols"/> columns can be stored in row
    /// tiles: F32 or F16 rows of whole 16-byte texels; Q8_0 rows whose quants and whose scales are whole texels
    /// (cols % 256 == 0: the two sections are tiled alike).</summary>
    public static bool CanTile(GgmlType gpuType, int cols) => gpuType switch
    {
        GgmlType.F32 or GgmlType.F16 => GpuRowBytes(gpuType, cols) % 16 == 0,
        GgmlType.Q8_0 => cols % 256 == 0,
        _ => false,
    };

    /// <summary>Bytes of one row on the GPU.</summary>
    public static long GpuRowBytes(GgmlType type, int cols) => type switch
    {
        GgmlType.F32 => 4L * cols,
        GgmlType.F16 => 2L * cols,
        GgmlType.Q8_0 => cols + 2L * (cols / 32),
        // Quantised types (issue 7): the GGUF blocks in word-aligned slots, see QuantGpuLayout.
        _ when QuantGpuLayout.HasGpuKernel(type) => QuantGpuLayout.GpuBytes(type, cols),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>The GPU element type a tensor stored as <paramref name="fileType"/> is kept in.</summary>
    /// <param name="quantsAsF16">Which quantised types become F16 (dequantised at upload) instead of keeping their blocks.</param>
    public static GgmlType GpuTypeFor(GgmlType fileType, string tensorName, QuantsAsF16 quantsAsF16 = QuantsAsF16.None) => fileType switch
    {
        GgmlType.F32 or GgmlType.BF16 => GgmlType.F32,
        GgmlType.F16 => GgmlType.F16,
        GgmlType.Q8_0 => quantsAsF16 == QuantsAsF16.All ? GgmlType.F16 : GgmlType.Q8_0,
        _ when QuantGpuLayout.HasGpuKernel(fileType) && quantsAsF16 != QuantsAsF16.None => GgmlType.F16,
        _ when QuantGpuLayout.HasGpuKernel(fileType) => fileType, // issue 7: read quantised by matmul_<type>
        _ => throw new UnsupportedFeatureException($"tensor {tensorName} has type {fileType}, which Tipo cannot run yet"),
    };

    /// <summary>Uploads a 2-D model tensor, splitting it by rows at the device's binding limit.</summary>
    /// <param name="tileRows">See <see cref="TileRows"/>.</param>
    /// <param name="quantsAsF16">See <see cref="GpuTypeFor"/>.</param>
    public static unsafe GpuMatrix Upload(VulkanDevice device, ModelTensor tensor, int tileRows = 0, QuantsAsF16 quantsAsF16 = QuantsAsF16.None)
    {
        if (tensor.Shape.Length != 2)
            throw new ModelFormatException(tensor.FileName, $"tensor {tensor.SourceName} should be 2-D, has shape [{string.Join(", ", tensor.Shape)}]");
        return Upload(device, tensor.Name, tensor.Type, checked((int)tensor.Shape[0]), checked((int)tensor.Shape[1]), tensor.Data, tileRows: tileRows, quantsAsF16: quantsAsF16);
    }

    /// <summary>
    /// Uploads 2-D tensors of one type and width stacked by rows into one matrix (Q, K and V as one QKV projection:
    /// one dispatch and one read of the input instead of three).
    /// </summary>
    /// <param name="rowOrders">Per part, null (its rows in order) or the part's row each stacked row is taken from.</param>
    public static unsafe GpuMatrix UploadStacked(VulkanDevice device, string name, IReadOnlyList<ModelTensor> parts, int tileRows = 0,
        IReadOnlyList<int[]?>? rowOrders = null, QuantsAsF16 quantsAsF16 = QuantsAsF16.None)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException("nothing to stack", nameof(parts));
        ModelTensor first = parts[0];
        foreach (var t in parts)
        {
            if (t.Shape.Length != 2)
                throw new ModelFormatException(t.FileName, $"tensor {t.SourceName} should be 2-D, has shape [{string.Join(", ", t.Shape)}]");
        }
        if (!CanStack(parts, quantsAsF16))
        {
            var odd = parts.First(t => t.Type != first.Type || t.Shape[1] != first.Shape[1]);
            throw new ArgumentException($"cannot stack {odd.SourceName} ({odd.Type}, {odd.Shape[1]} columns) under {first.SourceName} ({first.Type}, {first.Shape[1]} columns)", nameof(parts));
        }
        int cols = checked((int)first.Shape[1]);
        var pieces = new List<(nint, int, GgmlType)>();
        for (int i = 0; i < parts.Count; i++)
        {
            ModelTensor t = parts[i];
            int rows = checked((int)t.Shape[0]);
            if (rowOrders?[i] is not { } order)
            {
                pieces.Add(((nint)t.Data, rows, t.Type));
                continue;
            }
            if (order.Length != rows || order.Any(r => r < 0 || r >= rows))
                throw new ArgumentException($"the row order for {t.SourceName} is not one of its {rows} rows per row", nameof(rowOrders));
            long rowBytes = GgmlTypeInfo.RowBytes(t.Type, cols);
            foreach (int r in order) pieces.Add(((nint)(t.Data + rowBytes * r), 1, t.Type));
        }
        return UploadPieces(device, name, cols, pieces, tileRows, quantsAsF16, GpuBuffer.Placement.Auto);
    }

    /// <summary>Dequantises <paramref name="rows"/> rows of <paramref name="type"/> at <paramref name="src"/> to f32 and
    /// writes them rounded to f16 (round to nearest even, as llama.cpp's conversions) at <paramref name="dst"/>. A value
    /// beyond f16's range (|x| &gt; 65504, which no trained weight is) would become infinite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RowsToF16(string name, GgmlType type, byte* src, int cols, int rows, byte* dst)
    {
        long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
        nint from = (nint)src, to = (nint)dst;
        // Load-time hot loops are compiled optimized at once: tier-0 code would run much of a load.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        float[] Row(int r, float[] row)
        {
            Dequantize.ToFloat32(type, new ReadOnlySpan<byte>((byte*)from + rowBytes * r, checked((int)rowBytes)), row, name);
            // Vectorized, rounding as the (Half) cast does (tipo-200m Q4_K_M: the scalar cast was ~15 % of its load).
            System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(row, new Span<Half>((byte*)to + 2L * cols * r, cols));
            return row;
        }
        if (rows < 16)   // a stacked piece of one reordered row: not worth a parallel loop
        {
            var row = new float[cols];
            for (int r = 0; r < rows; r++) Row(r, row);
            return;
        }
        // Rows are independent: spread them over the cores (tipo-200m Q4_K_M: load 3.2 -> 2.7 s on 2 cores).
        try
        {
            Parallel.For(0, rows, () => new float[cols], (r, _, row) => Row(r, row), _ => { });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            // The engine's own exceptions (UnsupportedFeatureException naming the tensor, ...) reach the caller unwrapped.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    /// <summary>
    /// Whether 2-D <paramref name="parts"/> can be one stacked matrix (<see cref="UploadStacked"/>): the same width, and
    /// the same file type or, with <paramref name="quantsAsF16"/>, types that are all kept as F16.
    /// </summary>
    public static bool CanStack(IReadOnlyList<ModelTensor> parts, QuantsAsF16 quantsAsF16)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0 || parts.Any(t => t.Shape.Length != 2 || t.Shape[1] != parts[0].Shape[1]))
            return false;
        if (parts.All(t => t.Type == parts[0].Type))
            return true;
        return parts.All(t => GpuTypeFor(t.Type, t.SourceName, quantsAsF16) == GgmlType.F16);
    }

    /// <summary>
    /// Uploads two matrices of one type and shape interleaved in blocks of <paramref name="blockRows"/> rows (a's rows
    /// 0..b-1, b's rows 0..b-1, a's rows b..2b-1, ...): the SwiGLU gate and up of the rows-per-lane kernel, which reads
    /// a lane's gate and up rows from one texel view. Rows must be a multiple of <paramref name="blockRows"/>.
    /// </summary>
    public static unsafe GpuMatrix UploadInterleaved(VulkanDevice device, string name, GgmlType fileType, int rows, int cols, byte* a, byte* b, int blockRows, int tileRows = 0,
        QuantsAsF16 quantsAsF16 = QuantsAsF16.None) =>
        UploadInterleaved(device, name, fileType, rows, cols, a, b, blockRows, GpuBuffer.Placement.Auto, tileRows, quantsAsF16);

    /// <summary><see cref="UploadInterleaved(VulkanDevice, string, GgmlType, int, int, byte*, byte*, int, int, QuantsAsF16)"/> into
    /// buffers of <paramref name="placement"/> (tests: <see cref="GpuBuffer.Placement.DeviceOnly"/> takes the staged path on lavapipe).</summary>
    internal static unsafe GpuMatrix UploadInterleaved(VulkanDevice device, string name, GgmlType fileType, int rows, int cols, byte* a, byte* b, int blockRows,
        GpuBuffer.Placement placement, int tileRows = 0, QuantsAsF16 quantsAsF16 = QuantsAsF16.None)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockRows);
        if (rows % blockRows != 0)
            throw new ArgumentException($"{name}: {rows} rows are not a multiple of the interleave block ({blockRows})", nameof(rows));
        long blockBytes = GgmlTypeInfo.RowBytes(fileType, cols) * blockRows;
        var pieces = new List<(nint, int, GgmlType)>();
        for (long blk = 0; blk < rows / blockRows; blk++)
        {
            pieces.Add(((nint)(a + blk * blockBytes), blockRows, fileType));
            pieces.Add(((nint)(b + blk * blockBytes), blockRows, fileType));
        }
        return UploadPieces(device, name, cols, pieces, tileRows, quantsAsF16, placement);
    }

    /// <summary>
    /// Uploads the rows of <paramref name="pieces"/> (file-layout rows of one width), one after another, as one matrix.
    /// Pieces of one type are copied as they are; pieces of several (all kept as F16 with <paramref name="quantsAsF16"/>,
    /// <see cref="CanStack"/>: V in Q6_K under Q4_K) are each dequantised to F16 rows on the way.
    /// </summary>
    private static unsafe GpuMatrix UploadPieces(VulkanDevice device, string name, int cols, IReadOnlyList<(nint Rows, int Count, GgmlType Type)> pieces,
        int tileRows, QuantsAsF16 quantsAsF16, GpuBuffer.Placement placement)
    {
        bool widen = pieces.Any(p => p.Type != pieces[0].Type);
        GgmlType type = widen ? GgmlType.F16 : pieces[0].Type;
        if (!widen && IsPlainCopy(type, GpuTypeFor(type, name, quantsAsF16)))
            return UploadRows(device, name, type, cols, pieces, long.MaxValue, tileRows, quantsAsF16, placement);
        long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
        int rows = checked(pieces.Sum(p => p.Count));
        byte* all = (byte*)NativeMemory.Alloc((nuint)(rowBytes * rows));
        try
        {
            long at = 0;
            foreach (var (src, count, pieceType) in pieces)
            {
                long bytes = rowBytes * count;
                if (widen)
                    RowsToF16(name, pieceType, (byte*)src, cols, count, all + at);
                else
                    System.Buffer.MemoryCopy((byte*)src, all + at, bytes, bytes);
                at += bytes;
            }
            return UploadRows(device, name, type, cols, [((nint)all, rows, type)], long.MaxValue, tileRows, quantsAsF16, placement);
        }
        finally
        {
            NativeMemory.Free(all);
        }
    }

    /// <summary>Uploads a matrix held in GGUF layout (<paramref name="fileType"/>, rows of <paramref name="cols"/>) at <paramref name="data"/>.</summary>
    /// <param name="maxChunkBytes">Chunk limit below the device's binding limit (tests use it to force splits).</param>
    /// <param name="tileRows">See <see cref="TileRows"/>; only where <see cref="CanTile"/>.</param>
    /// <param name="quantsAsF16">See <see cref="GpuTypeFor"/>.</param>
    public static unsafe GpuMatrix Upload(VulkanDevice device, string name, GgmlType fileType, int rows, int cols, byte* data, long maxChunkBytes = long.MaxValue, int tileRows = 0,
        QuantsAsF16 quantsAsF16 = QuantsAsF16.None)
    {
        ArgumentNullException.ThrowIfNull(device);
        return UploadRows(device, name, fileType, cols, [((nint)data, rows, fileType)], maxChunkBytes, tileRows, quantsAsF16, GpuBuffer.Placement.Auto);
    }

    /// <summary><see cref="Upload(VulkanDevice, string, GgmlType, int, int, byte*, long, int, QuantsAsF16)"/> into buffers of
    /// <paramref name="placement"/> (tests: <see cref="GpuBuffer.Placement.DeviceOnly"/> takes the staged path on lavapipe).</summary>
    internal static unsafe GpuMatrix Upload(VulkanDevice device, string name, GgmlType fileType, int rows, int cols, byte* data, GpuBuffer.Placement placement,
        long maxChunkBytes = long.MaxValue, int tileRows = 0, QuantsAsF16 quantsAsF16 = QuantsAsF16.None) =>
        UploadRows(device, name, fileType, cols, [((nint)data, rows, fileType)], maxChunkBytes, tileRows, quantsAsF16, placement);

    /// <summary>Whether a <paramref name="fileType"/> matrix kept as <paramref name="gpuType"/> is its file rows byte for
    /// byte (F32, F16), so the upload can write them from the file straight into the buffer.</summary>
    private static bool IsPlainCopy(GgmlType fileType, GgmlType gpuType) => fileType == gpuType && fileType is GgmlType.F32 or GgmlType.F16;

    /// <summary>
    /// Uploads the rows of <paramref name="pieces"/> (file-layout rows of <paramref name="fileType"/>, one after another)
    /// as one matrix, in chunks under the binding limit. Each chunk is written where the GPU reads it: into the buffer's
    /// mapped memory where the device has it (lavapipe), else into a pooled host array copied through the staging buffer.
    /// F32 and F16 rows go there straight from the file (tiled on the way, all cores); other types are converted on the
    /// way, through a row-major array where they are tiled (one contiguous piece only: <see cref="UploadPieces"/> joins
    /// the others).
    /// </summary>
    private static unsafe GpuMatrix UploadRows(VulkanDevice device, string name, GgmlType fileType, int cols,
        IReadOnlyList<(nint Rows, int Count, GgmlType Type)> pieces, long maxChunkBytes, int tileRows, QuantsAsF16 quantsAsF16, GpuBuffer.Placement placement)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegative(tileRows);
        int rows = checked(pieces.Sum(p => p.Count));
        GgmlType gpuType = GpuTypeFor(fileType, name, quantsAsF16);
        bool plain = IsPlainCopy(fileType, gpuType);
        if (!plain && pieces.Count != 1)
            throw new ArgumentException($"{name}: only F32 and F16 rows are uploaded from several pieces", nameof(pieces));
        if (gpuType == GgmlType.F16 && cols % 2 != 0)
            throw new UnsupportedFeatureException($"tensor {name}: F16 rows of odd length ({cols}) are not supported");
        if (tileRows > 0 && !CanTile(gpuType, cols))
            throw new ArgumentException($"tensor {name}: {gpuType} rows of {cols} columns cannot be stored in row tiles (F32 or F16 in whole 16-byte texels, Q8_0 with columns a multiple of 256)", nameof(tileRows));
        long rowBytes = GpuRowBytes(gpuType, cols);
        // Chunks stay under the binding limit (rounded down to 16 bytes).
        long maxRange = Math.Min((long)Math.Min(device.Info.MaxStorageBufferRange, int.MaxValue), maxChunkBytes) & ~15L;
        if (rowBytes > maxRange)
            throw new UnsupportedFeatureException($"tensor {name}: one row ({rowBytes} bytes) exceeds the device's maxStorageBufferRange ({device.Info.MaxStorageBufferRange})");
        long maxRows = maxRange / rowBytes;
        if (tileRows > 0)
        {
            maxRows = maxRows / tileRows * tileRows;   // whole tiles, the padded last one included
            if (maxRows == 0)
                throw new UnsupportedFeatureException($"tensor {name}: one tile of {tileRows} rows ({rowBytes * tileRows} bytes) exceeds the binding limit ({maxRange} bytes)");
        }
        int rowsPerChunk = (int)Math.Min(rows, maxRows);

        var chunks = new List<Chunk>();
        try
        {
            for (int start = 0; start < rows; start += rowsPerChunk)
            {
                int count = Math.Min(rowsPerChunk, rows - start);
                int stored = tileRows > 0 ? (count + tileRows - 1) / tileRows * tileRows : count;
                long bytes = (rowBytes * stored + 3) & ~3L;
                var buffer = new GpuBuffer(device, bytes, $"{name}[{start}..{start + count})", placement);
                chunks.Add(new Chunk(buffer, start, count));
                int n = checked((int)bytes);
                // Pooled host arrays where the buffer is not mapped: fresh ones cost a page fault per 4 KiB.
                byte* mapped = buffer.MappedPointer;
                byte[]? hostCopy = mapped == null ? ArrayPool<byte>.Shared.Rent(n) : null;
                try
                {
                    fixed (byte* hostCopyAt = hostCopy)
                    {
                        byte* dst = mapped != null ? mapped : hostCopyAt;
                        if (plain)
                            WriteRows(RowPointers(pieces, fileType, cols, start, count), rowBytes, dst, n, stored, tileRows);
                        else
                            ConvertChunk(name, fileType, gpuType, (byte*)pieces[0].Rows, cols, start, count, stored, tileRows, dst, n);
                    }
                    if (hostCopy != null) buffer.Upload<byte>(hostCopy.AsSpan(0, n));
                }
                finally
                {
                    if (hostCopy != null) ArrayPool<byte>.Shared.Return(hostCopy);
                }
            }
        }
        catch
        {
            foreach (var c in chunks) c.Buffer.Dispose();
            throw;
        }
        return new GpuMatrix(name, gpuType, rows, cols, chunks, tileRows);
    }

    /// <summary>The addresses of rows start .. start + count - 1 of the rows that <paramref name="pieces"/> hold one after another.</summary>
    private static nint[] RowPointers(IReadOnlyList<(nint Rows, int Count, GgmlType Type)> pieces, GgmlType type, int cols, int start, int count)
    {
        long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
        var result = new nint[count];
        int row = 0, i = 0;
        foreach (var (at, n, _) in pieces)
        {
            for (int r = Math.Max(0, start - row); r < n && i < count; r++) result[i++] = at + (nint)(rowBytes * r);
            row += n;
            if (i == count) break;
        }
        return result;
    }

    /// <summary>
    /// Writes F32 or F16 rows (<paramref name="rowBytes"/> each, at <paramref name="rows"/>) into a chunk of
    /// <paramref name="n"/> bytes at <paramref name="dst"/>: row-major, or in the row tiles of <see cref="TileRows"/> with
    /// <paramref name="stored"/> rows, the padding rows and the bytes after them zero. Tiles (or blocks of rows) are
    /// spread over the cores: on lavapipe the destination is fresh device memory, whose page faults are most of the cost.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void WriteRows(nint[] rows, long rowBytes, byte* dst, int n, int stored, int tileRows)
    {
        int count = rows.Length;
        nint to = (nint)dst;
        if (tileRows == 0)
        {
            const int block = 64;
            Parallel.For(0, (count + block - 1) / block, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (b) =>
            {
                for (int r = b * block; r < Math.Min(count, (b + 1) * block); r++)
                    System.Buffer.MemoryCopy((byte*)rows[r], (byte*)to + rowBytes * r, rowBytes, rowBytes);
            });
            new Span<byte>(dst + rowBytes * count, checked((int)(n - rowBytes * count))).Clear();
            return;
        }
        Tile(r => rows[r], count, (int)(rowBytes / 16), tileRows, stored, (UInt128*)dst);
        new Span<byte>(dst + rowBytes * stored, checked((int)(n - rowBytes * stored))).Clear();
    }

    /// <summary>Converts rows start .. start + count - 1 of a <paramref name="fileType"/> matrix at <paramref name="src"/>
    /// to <paramref name="gpuType"/> into <paramref name="dst"/> (zeroed first), in row tiles where <paramref name="tileRows"/> &gt; 0.</summary>
    private static unsafe void ConvertChunk(string name, GgmlType fileType, GgmlType gpuType, byte* src, int cols, int start, int count, int stored,
        int tileRows, byte* dst, int n)
    {
        new Span<byte>(dst, n).Clear();
        if (tileRows == 0)
        {
            FillChunk(name, fileType, gpuType, src, cols, start, count, new Span<byte>(dst, n));
            return;
        }
        byte[] rowMajor = ArrayPool<byte>.Shared.Rent(n);
        try
        {
            Array.Clear(rowMajor, 0, n);
            FillChunk(name, fileType, gpuType, src, cols, start, count, rowMajor.AsSpan(0, n));
            fixed (byte* from = rowMajor) TileChunk(gpuType, from, dst, cols, count, stored, tileRows);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rowMajor);
        }
    }

    /// <summary>Writes a chunk of <paramref name="count"/> rows as FillChunk wrote it into <paramref name="tiled"/>,
    /// in the tiled order of <see cref="TileRows"/> with <paramref name="stored"/> rows (zero rows after count). Q8_0: the
    /// quants [stored, cols] then the scales [stored, cols / 32], each section tiled.</summary>
    private static unsafe void TileChunk(GgmlType gpuType, byte* rowMajor, byte* tiled, int cols, int count, int stored, int tileRows)
    {
        nint from = (nint)rowMajor;
        if (gpuType == GgmlType.Q8_0)
        {
            Tile(r => from + r * cols, count, cols / 16, tileRows, stored, (UInt128*)tiled);
            nint scales = from + count * cols;
            Tile(r => scales + r * (cols / 16), count, cols / 256, tileRows, stored, (UInt128*)(tiled + stored * cols));
        }
        else
        {
            int rowBytes = (int)GpuRowBytes(gpuType, cols);
            Tile(r => from + r * rowBytes, count, rowBytes / 16, tileRows, stored, (UInt128*)tiled);
        }
    }

    /// <summary>
    /// Writes rows 0 .. <paramref name="count"/> - 1 (row r's <paramref name="texelsPerRow"/> 16-byte texels at
    /// <paramref name="rowAt"/>(r)) in the tiled order of <see cref="TileRows"/>: texel kt of row r at texel
    /// (r / tileRows * texelsPerRow + kt) * tileRows + r % tileRows of <paramref name="dst"/>, <paramref name="stored"/>
    /// rows in whole tiles, the padding rows zero. The tiles are spread over the cores: on lavapipe the destination is
    /// fresh device memory, whose page faults are most of the cost.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Tile(Func<int, nint> rowAt, int count, int texelsPerRow, int tileRows, int stored, UInt128* dst)
    {
        nint to = (nint)dst;
        Parallel.For(0, stored / tileRows, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (tile) =>
        {
            // Row by row: each source row read in order. (The destination in order instead, a texel of each row in turn,
            // loaded tipo-500m F16 ~15 % slower on lavapipe: 4 alternating pairs. Tiled matrices are for CPU devices, whose
            // memory is cached, not write-combined.)
            var tileTexels = new Span<UInt128>((UInt128*)to + (long)tile * texelsPerRow * tileRows, texelsPerRow * tileRows);
            for (int r = 0; r < tileRows; r++)
            {
                int row = tile * tileRows + r;
                if (row >= count)
                {
                    for (int kt = 0; kt < texelsPerRow; kt++) tileTexels[kt * tileRows + r] = UInt128.Zero;
                    continue;
                }
                var src = new ReadOnlySpan<UInt128>((void*)rowAt(row), texelsPerRow);
                for (int kt = 0; kt < texelsPerRow; kt++) tileTexels[kt * tileRows + r] = src[kt];
            }
        });
    }

    private static unsafe void FillChunk(string name, GgmlType fileType, GgmlType gpuType, byte* src, int cols, int start, int count, Span<byte> dst)
    {
        if (gpuType == GgmlType.F16 && fileType != GgmlType.F16)
        {
            // A quantised type kept as F16 (quantsAsF16).
            long rowBytes = GgmlTypeInfo.RowBytes(fileType, cols);
            fixed (byte* to = dst) RowsToF16(name, fileType, src + rowBytes * start, cols, count, to);
            return;
        }
        switch (fileType)
        {
            case GgmlType.F32:
                new ReadOnlySpan<byte>(src + 4L * cols * start, checked(4 * cols * count)).CopyTo(dst);
                break;
            case GgmlType.F16:
                new ReadOnlySpan<byte>(src + 2L * cols * start, checked(2 * cols * count)).CopyTo(dst);
                break;
            case GgmlType.BF16:
            {
                var from = new ReadOnlySpan<ushort>(src + 2L * cols * start, cols * count);
                var to = MemoryMarshal.Cast<byte, uint>(dst);
                for (int i = 0; i < from.Length; i++) to[i] = (uint)from[i] << 16;
                break;
            }
            case GgmlType.Q8_0:
            {
                // GGUF block: f16 scale d, then 32 int8 quants (34 bytes). Repacked: all quants, then all scales.
                int blocksPerRow = cols / 32;
                long blockCount = (long)blocksPerRow * count;
                byte* blocks = src + 34L * blocksPerRow * start;
                var scales = MemoryMarshal.Cast<byte, ushort>(dst[checked((int)(32 * blockCount))..]);
                for (long b = 0; b < blockCount; b++)
                {
                    byte* block = blocks + 34 * b;
                    scales[(int)b] = *(ushort*)block;
                    new ReadOnlySpan<byte>(block + 2, 32).CopyTo(dst.Slice((int)(32 * b), 32));
                }
                break;
            }
            case var q when QuantGpuLayout.HasGpuKernel(q):
            {
                // Issue 7: the GGUF blocks byte for byte, each in a word-aligned slot (QuantGpuLayout).
                long rowBytes = GgmlTypeInfo.RowBytes(q, cols);
                var from = new ReadOnlySpan<byte>(src + rowBytes * start, checked((int)(rowBytes * count)));
                QuantGpuLayout.Repack(q, from, dst[..checked((int)QuantGpuLayout.GpuBytes(q, (long)cols * count))]);
                break;
            }
            default:
                throw new UnsupportedFeatureException($"tensor {name} has type {fileType}, which Tipo cannot run yet");
        }
    }

    public void Dispose()
    {
        foreach (var c in Chunks) c.Buffer.Dispose();
    }
}
