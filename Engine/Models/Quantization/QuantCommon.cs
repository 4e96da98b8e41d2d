using System.Buffers.Binary;

namespace Tipo.Models.Quantization;

internal static class QuantCommon
{
    public static float Half(ReadOnlySpan<byte> block, int offset) =>
        (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block[offset..]));

    /// <summary>Checks that dst is whole blocks and src holds exactly that many blocks; returns the block count.</summary>
    public static int Blocks(string type, int blockElements, int blockBytes, int srcLength, int dstLength)
    {
        if (dstLength % blockElements != 0)
            throw new ArgumentException($"{type} needs whole blocks of {blockElements}, got {dstLength} elements");
        int blocks = dstLength / blockElements;
        if (srcLength != (long)blocks * blockBytes)
            throw new ArgumentException($"{type}: source has {srcLength} bytes, expected {(long)blocks * blockBytes}");
        return blocks;
    }
}
