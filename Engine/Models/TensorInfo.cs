namespace Tipo.Models;

/// <summary>One tensor as stored in a GGUF or safetensors file.</summary>
public sealed class TensorInfo
{
    public TensorInfo(string name, GgmlType type, long[] shape, long elementCount, long byteSize, long dataOffset)
    {
        Name = name;
        Type = type;
        Shape = shape;
        ElementCount = elementCount;
        ByteSize = byteSize;
        DataOffset = dataOffset;
    }

    public string Name { get; }
    public GgmlType Type { get; }

    /// <summary>PyTorch order, outermost dimension first (a matrix is [rows = nOut, cols = nIn]). GGUF's ne[] reversed.</summary>
    public long[] Shape { get; }

    public long ElementCount { get; }
    public long ByteSize { get; }

    /// <summary>Absolute byte offset of the data in the file.</summary>
    public long DataOffset { get; }

    public override string ToString() => $"{Name} {GgmlTypeInfo.Name(Type)} [{string.Join(", ", Shape)}]";
}
