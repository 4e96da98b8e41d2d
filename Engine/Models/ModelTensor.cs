using Tipo.Errors;

namespace Tipo.Models;

/// <summary>A weight of a <see cref="LlamaModelFile"/>, under its canonical (GGUF-style) name, memory-mapped.</summary>
public sealed unsafe class ModelTensor
{
    private readonly Func<bool> _isOpen;

    internal ModelTensor(string name, string fileName, TensorInfo info, byte* basePointer, Func<bool> isOpen)
    {
        Name = name;
        FileName = fileName;
        SourceName = info.Name;
        Type = info.Type;
        Shape = info.Shape;
        ElementCount = info.ElementCount;
        ByteSize = info.ByteSize;
        FileOffset = info.DataOffset;
        Data = basePointer + info.DataOffset;
        _isOpen = isOpen;
    }

    /// <summary>Canonical name, e.g. blk.0.attn_q.weight.</summary>
    public string Name { get; }
    /// <summary>The file the data lives in.</summary>
    public string FileName { get; }
    /// <summary>The name in that file, e.g. model.layers.0.self_attn.q_proj.weight.</summary>
    public string SourceName { get; }
    public GgmlType Type { get; }
    /// <summary>Outermost first: a matrix is [rows, cols] = [nOut, nIn]; a norm is [n].</summary>
    public long[] Shape { get; }
    public long ElementCount { get; }
    public long ByteSize { get; }
    /// <summary>Absolute offset of the data in <see cref="FileName"/>.</summary>
    public long FileOffset { get; }

    /// <summary>The mapped data; valid while the model file is open.</summary>
    public byte* Data { get; }

    /// <summary>Rows of a matrix (Shape[0]); elements of a vector.</summary>
    public long Rows => Shape.Length >= 2 ? Shape[0] : 1;
    /// <summary>Innermost dimension.</summary>
    public long Cols => Shape[^1];

    /// <summary>The mapped bytes. Throws when over int.MaxValue bytes or after the model file is disposed.</summary>
    public ReadOnlySpan<byte> Bytes
    {
        get
        {
            if (!_isOpen())
                throw new ObjectDisposedException(FileName, $"tensor {Name}: its model file is closed");
            if (ByteSize > int.MaxValue)
                throw new UnsupportedFeatureException($"tensor {Name} is {ByteSize} bytes, too large for a single span");
            return new ReadOnlySpan<byte>(Data, (int)ByteSize);
        }
    }

    public bool IsSupportedForCompute => GgmlTypeInfo.IsSupportedForCompute(Type);

    /// <summary>Dequantises to float32 (F32, F16, BF16, Q8_0). Other types throw <see cref="UnsupportedFeatureException"/>.</summary>
    public float[] ToFloat32()
    {
        if (!IsSupportedForCompute)
            throw new UnsupportedFeatureException($"tensor {Name} has type {GgmlTypeInfo.Name(Type)}, not supported yet ({FileName})");
        if (ElementCount > Array.MaxLength)
            throw new UnsupportedFeatureException($"tensor {Name} has {ElementCount} elements, too many for one float array");
        var result = new float[ElementCount];
        Dequantize.ToFloat32(Type, Bytes, result, Name);
        return result;
    }

    public override string ToString() => $"{Name} {GgmlTypeInfo.Name(Type)} [{string.Join(", ", Shape)}]";
}
