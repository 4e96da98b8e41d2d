namespace Tipo.Fuzzing;

/// <summary>The file readers a fuzz campaign exercises.</summary>
public enum FuzzTarget
{
    Gguf,
    Safetensors,
    Config,
    Tokenizer,
}

/// <summary>
/// One mutated file: <see cref="Head"/> (mutated bytes) followed by <see cref="TailLength"/> unmodified bytes of the
/// original file from <see cref="TailOffset"/>. Small files are all head; large ones keep only their header region as
/// the head, so a case writes the bulk of the file by copying, not by mutating.
/// </summary>
public sealed class FuzzInput
{
    public required byte[] Head { get; set; }
    public required string Source { get; init; }
    public long TailOffset { get; set; }
    public long TailLength { get; set; }
    public long Length => Head.LongLength + TailLength;

    /// <summary>Writes the file to <paramref name="path"/>.</summary>
    public void WriteTo(string path)
    {
        using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        output.Write(Head);
        if (TailLength > 0)
        {
            using var input = new FileStream(Source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            input.Position = TailOffset;
            byte[] buffer = new byte[1 << 20];
            long left = TailLength;
            while (left > 0)
            {
                int n = input.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (n <= 0)
                    break;
                output.Write(buffer, 0, n);
                left -= n;
            }
        }
    }

    /// <summary>Cuts the file to <paramref name="length"/> bytes.</summary>
    public void Truncate(long length)
    {
        if (length >= Length)
            return;
        if (length <= Head.LongLength)
        {
            Head = Head[..(int)length];
            TailLength = 0;
        }
        else
        {
            TailLength = length - Head.LongLength;
        }
    }
}
