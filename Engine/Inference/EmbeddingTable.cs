using Tipo.Errors;
using Tipo.Models;

namespace Tipo.Inference;

/// <summary>
/// Token embedding lookup on the host: the table stays memory-mapped in the model file and one row per
/// token is dequantised (exactly as the GPU kernels would) into the activations that are uploaded.
/// </summary>
public sealed class EmbeddingTable
{
    private readonly ModelTensor _table;   // [vocab, dim]
    public int VocabSize { get; }
    public int Dim { get; }

    public EmbeddingTable(ModelTensor table)
    {
        _table = table;
        VocabSize = checked((int)table.Shape[0]);
        Dim = checked((int)table.Shape[1]);
        if (table.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0)
            && !Models.Quantization.QuantGpuLayout.HasGpuKernel(table.Type)) // issue 7: quantised rows via the C# dequantisers
            throw new UnsupportedFeatureException($"tensor {table.Name} has type {table.Type}, which Tipo cannot run yet");
    }

    /// <summary>Writes the embedding of <paramref name="token"/> into <paramref name="row"/> ([dim] f32).</summary>
    public unsafe void Lookup(int token, Span<float> row)
    {
        if ((uint)token >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"token id outside the vocabulary (0..{VocabSize - 1})");
        switch (_table.Type)
        {
            case GgmlType.F32:
                new ReadOnlySpan<float>(_table.Data + 4L * Dim * token, Dim).CopyTo(row);
                break;
            case GgmlType.F16:
            {
                var src = new ReadOnlySpan<Half>(_table.Data + 2L * Dim * token, Dim);
                for (int i = 0; i < Dim; i++) row[i] = (float)src[i];
                break;
            }
            case GgmlType.BF16:
            {
                var src = new ReadOnlySpan<ushort>(_table.Data + 2L * Dim * token, Dim);
                for (int i = 0; i < Dim; i++) row[i] = BitConverter.Int32BitsToSingle(src[i] << 16);
                break;
            }
            case GgmlType.Q8_0:
            {
                byte* block = _table.Data + 34L * (Dim / 32) * token;
                for (int b = 0; b < Dim / 32; b++, block += 34)
                {
                    float d = (float)*(Half*)block;
                    var q = new ReadOnlySpan<sbyte>(block + 2, 32);
                    for (int j = 0; j < 32; j++) row[b * 32 + j] = d * q[j];
                }
                break;
            }
            default:
            {
                // Issue 7: quantised types, one row through the reference dequantiser.
                long rowBytes = GgmlTypeInfo.RowBytes(_table.Type, Dim);
                Dequantize.ToFloat32(_table.Type, new ReadOnlySpan<byte>(_table.Data + rowBytes * token, checked((int)rowBytes)), row[..Dim], _table.Name);
                break;
            }
        }
    }
}
