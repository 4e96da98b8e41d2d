using System.IO.MemoryMappedFiles;
using Tipo.Errors;

namespace Tipo.Models;

/// <summary>A whole file mapped read-only into memory.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private bool _disposed;

    public string Path { get; }
    public long Length { get; }
    public byte* Pointer { get; private set; }

    private MappedFile(string path, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* pointer)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        Pointer = pointer;
    }

    /// <summary>Maps <paramref name="path"/> and parses it; the mapping is released if parsing throws, else owned by the result.</summary>
    public static T OpenAndParse<T>(string path, Func<MappedFile, T> parse)
    {
        var file = Open(path);
        try
        {
            return parse(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static MappedFile Open(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new ModelFormatException(full, "is a directory, expected a file");
        if (!File.Exists(full))
            throw new ModelFormatException(full, "file not found");
        FileStream stream;
        try
        {
            stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(full, $"cannot open: {e.Message}", e);
        }
        long length = stream.Length;
        if (length == 0)
        {
            stream.Dispose();
            return new MappedFile(full, 0, null, null, null);
        }
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            return new MappedFile(full, length, map, view, p);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw new ModelFormatException(full, $"cannot map: {e.Message}", e);
        }
    }

    public ReadOnlySpan<byte> Span(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || length < 0 || offset > Length || length > Length - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{offset}+{length} outside {Length}-byte file {Path}");
        if (length > int.MaxValue)
            throw new InvalidOperationException($"{length} bytes do not fit a span");
        return new ReadOnlySpan<byte>(Pointer + offset, (int)length);
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        Pointer = null;
    }
}
