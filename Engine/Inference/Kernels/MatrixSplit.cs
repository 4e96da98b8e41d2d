// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
namespace Tipo.Inference.Kernels;

/// <summary>A contiguous run of rows of a row-major matrix, bindable as one storage-buffer range.</summary>
/// <param name="FirstRow">First row of the chunk.</param>
/// <param name="RowCount">Rows in the chunk.</param>
/// <param name="ByteOffset">Byte offset of the chunk from the start of the matrix.</param>
/// <param name="ByteSize">Bytes of the chunk.</param>
public readonly record struct RowChunk(long FirstRow, long RowCount, long ByteOffset, long ByteSize);

/// <summary>Splits matrices larger than maxStorageBufferRange into row chunks.</summary>
public static class MatrixSplit
{
    /// <summary>
    /// Splits <paramref name="rows"/> rows of <paramref name="bytesPerRow"/> bytes into chunks of at most
    /// <paramref name="maxRange"/> bytes each, every chunk starting at a byte offset that is a multiple of
    /// <paramref name="alignment"/> (minStorageBufferOffsetAlignment; also keep the matrix's own offset aligned).
    /// </summary>
    public static IReadOnlyList<RowChunk> Rows(long rows, long bytesPerRow, ulong maxRange, ulong alignment = 4)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerRow);
        long align = (long)Math.Max(alignment, 1);
        long maxRows = (long)Math.Min(maxRange / (ulong)bytesPerRow, long.MaxValue);
        // Chunk starts must be aligned: make the row count of every chunk but the last a multiple of this step.
        long step = align / Gcd(bytesPerRow, align);
        long perChunk = maxRows / step * step;
        if (perChunk <= 0)
            throw new ArgumentException($"a row of {bytesPerRow} bytes (x{step} for offset alignment {align}) does not fit in a binding of {maxRange} bytes");
        var list = new List<RowChunk>();
        for (long r = 0; r < rows; r += perChunk)
        {
            long n = Math.Min(perChunk, rows - r);
            list.Add(new RowChunk(r, n, r * bytesPerRow, n * bytesPerRow));
        }
        return list;
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0)
            (a, b) = (b, a % b);
        return a;
    }
}
