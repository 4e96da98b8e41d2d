using Tipo.Errors;
using Tipo.Models;

namespace Tipo.Inference;

/// <summary>
/// Token embedding lookup on the host: the table stays memory-mapped in the model file and one row per
/// token is dequantised by the reference dequantisers (the same math as the GPU kernels) into the
/// activations that are uploaded.
/// </summary>
public sealed class EmbeddingTable
{
    private readonly ModelTensor _table;   // [vocab, dim], any type the dequantisers read
    private readonly long _rowBytes;
    public int VocabSize { get; }
    public int Dim { get; }

    public EmbeddingTable(ModelTensor table)
    {
        ArgumentNullException.ThrowIfNull(table);
        _table = table;
        VocabSize = checked((int)table.Shape[0]);
        Dim = checked((int)table.Shape[1]);
        if (!GgmlTypeInfo.IsSupportedForCompute(table.Type))
            throw new UnsupportedFeatureException($"tensor {table.Name} has type {table.Type}, which Tipo cannot run yet");
        _rowBytes = GgmlTypeInfo.RowBytes(table.Type, Dim);
    }

    /// <summary>Writes the embedding of <paramref name="token"/> into <paramref name="row"/> ([dim] f32).</summary>
    public unsafe void Lookup(int token, Span<float> row)
    {
        if ((uint)token >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"token id outside the vocabulary (0..{VocabSize - 1})");
        var bytes = new ReadOnlySpan<byte>(_table.Data + _rowBytes * token, checked((int)_rowBytes));
        Dequantize.ToFloat32(_table.Type, bytes, row[..Dim], _table.Name);
    }
}
