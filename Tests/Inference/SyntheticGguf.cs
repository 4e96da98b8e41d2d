using Tipo.Inference.Benchmarks;

namespace Tipo.Tests.Inference;

/// <summary>A synthetic model of <see cref="SyntheticShape"/> written as a GGUF (random F16 weights) into a fresh temporary
/// directory, deleted on dispose: for shapes the shared models do not have.</summary>
internal sealed class SyntheticGguf : IDisposable
{
    private readonly string _dir;

    public string Path { get; }

    public SyntheticGguf(SyntheticShape shape, ulong seed)
    {
        _dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"tipo-{shape.Name}-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_dir);
        Path = System.IO.Path.Combine(_dir, shape.Name + ".gguf");
        SyntheticModels.WriteGguf(shape, Path, seed);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
