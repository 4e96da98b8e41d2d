using Tipo.Expansion;
using Tipo.Hub;
using Tipo.Inference;

namespace Tipo;

/// <summary>How <see cref="TipoExpander.Load"/> loads a model.</summary>
public sealed record TipoExpanderOptions
{
    /// <summary>
    /// The Vulkan device: an index or a name substring (as <c>tipo devices</c> lists them). Null uses the environment
    /// variable <c>TIPO_DEVICE</c>, then the best device (discrete, integrated, virtual, CPU).
    /// </summary>
    public string? Device { get; init; }

    /// <summary>
    /// The directory holding KGen's tag lists (<c>artist.txt</c>, <c>characters.txt</c>, <c>copyrights.txt</c>,
    /// <c>meta.txt</c>). Null uses <c>$TIPO_TAG_LISTS</c>, then a <c>tag-list</c> folder next to the program, then the
    /// tag lists <c>tipo download --tag-lists</c> cached; without any, such tags count as general tags.
    /// </summary>
    public string? TagListDirectory { get; init; }

    /// <summary>The KV cache element type: F16 (default, as llama.cpp) or F32.</summary>
    public KvCacheType KvCacheType { get; init; } = KvCacheType.F16;

    /// <summary>The context length to allocate; 0 (default) means the model's training context (2048 for TIPO).</summary>
    public int ContextLength { get; init; }

    /// <summary>
    /// Whether a model given as an alias or repository id that is not in the Hugging Face cache may be downloaded
    /// (default true). <c>HF_HUB_OFFLINE=1</c> forbids downloads as well.
    /// </summary>
    public bool AllowDownload { get; init; } = true;

    /// <summary>Receives download progress when the model is fetched; null for none.</summary>
    public IProgress<DownloadProgress>? DownloadProgress { get; init; }
}

/// <summary>
/// TIPO prompt expansion as a library: load a model once, expand many requests, dispose.
/// <code>
/// using Tipo;
/// using Tipo.Expansion;
///
/// using var tipo = TipoExpander.Load("TIPO-200M-ft2", new TipoExpanderOptions { Device = "0" });
/// TipoResult result = tipo.Expand(new TipoRequest { Tags = "1girl, scenery", Seed = 42 });
/// Console.WriteLine(result.Formatted);
/// </code>
/// One expander holds one model on one device; <see cref="Expand"/> may be called from several threads but runs one
/// request at a time. For more throughput, load one expander per device.
/// </summary>
public sealed class TipoExpander : IDisposable
{
    private readonly ITipoLanguageModel _model;
    private readonly TipoPipeline _pipeline;
    private readonly Lock _lock = new();
    private bool _disposed;

    internal TipoExpander(ITipoLanguageModel model, TagLists tagLists, string modelPath, string? deviceName)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        TagLists = tagLists ?? throw new ArgumentNullException(nameof(tagLists));
        _pipeline = new TipoPipeline(model, tagLists);
        ModelPath = modelPath;
        DeviceName = deviceName;
    }

    /// <summary>
    /// Loads a TIPO model: <paramref name="model"/> is a path to a GGUF file or Hugging Face model folder, an alias
    /// (<c>TIPO-500M-ft</c>, <c>TIPO-200M-ft2</c>, …: its F16 GGUF) or a repository id (<c>ORG/NAME</c>,
    /// <c>ORG/NAME:FILE.gguf</c>), found in the Hugging Face cache or downloaded into it. Null means the default model,
    /// <c>TIPO-500M-ft</c>, as KGen.
    /// </summary>
    /// <exception cref="FileNotFoundException">The model is neither a path nor a model reference, or (with
    /// <see cref="TipoExpanderOptions.AllowDownload"/> false) not cached.</exception>
    /// <exception cref="Errors.DownloadException">The model had to be downloaded and could not be.</exception>
    /// <exception cref="DirectoryNotFoundException"><see cref="TipoExpanderOptions.TagListDirectory"/> does not exist.</exception>
    /// <exception cref="Errors.TipoException">No Vulkan device, a malformed model, out of device memory, …</exception>
    public static TipoExpander Load(string? model = null, TipoExpanderOptions? options = null)
    {
        options ??= new TipoExpanderOptions();
        string arg = string.IsNullOrWhiteSpace(model) ? ModelAliases.Default.Alias : model;
        string path = options.AllowDownload
            ? ModelResolver.Resolve(arg, options.DownloadProgress)
            : ModelResolver.TryResolveWithoutNetwork(arg)
              ?? throw new FileNotFoundException($"model not found locally or in the Hugging Face cache: {arg}", arg);
        // Which tag lists is decided here (a missing directory fails before the model loads); reading KGen's (~0.2 s) runs
        // beside the model load.
        string? tagListDirectory = ResolveTagListDirectory(options.TagListDirectory);
        Task<TagLists> tagLists = Task.Run(() => tagListDirectory is null ? TagLists.BuiltInOnly : TagLists.Load(tagListDirectory));
        var llama = LlamaModel.Load(path, new InferenceOptions
        {
            Device = options.Device,
            KvCacheType = options.KvCacheType,
            ContextLength = options.ContextLength,
        });
        try
        {
            return new TipoExpander(new LlamaLanguageModel(llama), tagLists.GetAwaiter().GetResult(), path, llama.Device.Name);
        }
        catch
        {
            llama.Dispose();
            throw;
        }
    }

    /// <summary>The model file or folder that was loaded.</summary>
    public string ModelPath { get; }

    /// <summary>The model's name (its file or folder name), as results report it.</summary>
    public string ModelName => _model.Name;

    /// <summary>The Vulkan device the model runs on.</summary>
    public string? DeviceName { get; }

    /// <summary>The Vulkan device the model runs on (its memory counters, for <c>tipo soak</c>); null for a model that
    /// is not on Tipo's engine.</summary>
    internal Vulkan.VulkanDevice? VulkanDevice => (_model as LlamaLanguageModel)?.Model.VulkanDevice;

    /// <summary>The tag lists used to sort tags into categories.</summary>
    public TagLists TagLists { get; }

    /// <summary>
    /// Expands one request. Deterministic for a given <see cref="TipoRequest.Seed"/>, model and device; without a seed
    /// a random one is picked and reported in <see cref="TipoResult.Seed"/>.
    /// <see cref="TipoResult.Formatted"/> is the final prompt; <see cref="Expansion.TipoJson.Result"/> gives the
    /// <c>tipo expand --json</c> document.
    /// </summary>
    /// <exception cref="ArgumentException">An invalid request (unknown format, bad sampler settings, …).</exception>
    /// <exception cref="Errors.ContextOverflowException">The request's prompt does not fit the context.</exception>
    /// <exception cref="ObjectDisposedException">The expander was disposed.</exception>
    public TipoResult Expand(TipoRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _pipeline.Run(request, cancellationToken);
        }
    }

    /// <summary>Frees the model and its device memory.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            _model.Dispose();
        }
    }

    internal static void Validate(TipoRequest request)
    {
        if (request.Width <= 0 || request.Height <= 0)
            throw new ArgumentException($"width and height must be positive (got {request.Width}x{request.Height})", nameof(request));
        if (request.MaxNewTokens <= 0)
            throw new ArgumentException($"max new tokens must be positive (got {request.MaxNewTokens})", nameof(request));
        _ = TipoFormats.Resolve(request.Format);
        request.Sampling.Validate();
    }

    /// <summary>The directory <see cref="TagLists.Resolve"/> would read, else the tag-list cache's when it holds all four
    /// lists, or null for the built-in sets only, without reading it; a given or <c>$TIPO_TAG_LISTS</c> directory that
    /// does not exist throws <see cref="DirectoryNotFoundException"/>.</summary>
    internal static string? ResolveTagListDirectory(string? directory)
    {
        string? found = TagLists.ResolveDirectory(directory);
        if (found is null)
        {
            using var cache = new TagListCache();
            if (cache.IsComplete)
                return cache.Directory;
        }
        return found;
    }
}
