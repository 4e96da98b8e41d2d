// Buffer parameters are documented with their shapes; the size parameters are self-explanatory.
#pragma warning disable CS1573
using System.Globalization;
using Tipo.Models;
using Tipo.Vulkan;

namespace Tipo.Inference.Kernels;

/// <summary>One bandwidth measurement: bytes read by the GPU and the best GPU time (timestamp queries) over the repeats.</summary>
public sealed record BandwidthResult(string Name, long BytesRead, double Milliseconds)
{
    /// <summary>Achieved read bandwidth in GB/s (1e9 bytes per second).</summary>
    public double GBps => BytesRead / (Milliseconds * 1e6);

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name}: {BytesRead / 1048576.0:0.0} MiB in {Milliseconds:0.000} ms = {GBps:0.00} GB/s");
}

/// <summary>One arithmetic-throughput measurement: floating-point operations done on the GPU and the best GPU time
/// (timestamp queries) over the repeats.</summary>
public sealed record ComputeResult(string Name, double Flops, double Milliseconds)
{
    /// <summary>Achieved rate in GFLOP/s (1e9 floating-point operations per second; a multiply-add is two).</summary>
    public double Gflops => Flops / (Milliseconds * 1e6);

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name}: {Flops / 1e9:0.00} GFLOP in {Milliseconds:0.000} ms = {Gflops:0.0} GFLOP/s");
}

/// <summary>Napkin-math measurements of weight-read bandwidth (for the <c>bench</c> command and design notes).</summary>
public static class KernelBenchmarks
{
    /// <summary>
    /// F16 matvec of 3840x1280 and 32013x1280 (GB/s of weight read) next to a plain read-bandwidth kernel summing a
    /// 256 MiB buffer bound as ranges of at most MaxStorageBufferRange. Times are the minimum over
    /// <paramref name="repeats"/> submissions (after one warm-up), from GPU timestamps.
    /// </summary>
    public static IReadOnlyList<BandwidthResult> Run(VulkanDevice device, int repeats = 5, long readBytes = 256L << 20)
    {
        ArgumentNullException.ThrowIfNull(device);
        var results = new List<BandwidthResult>
        {
            Matmul(device, GgmlType.F16, 3840, 1280, repeats),
            Matmul(device, GgmlType.F16, 32013, 1280, repeats),
            Matmul(device, GgmlType.F16, 3840, 1280, repeats, nTokens: 64),
            ReadBandwidth(device, readBytes, repeats),
            ReadBandwidthTexel(device, readBytes, repeats),
        };
        return results;
    }

    /// <summary>GB/s of weight read by the matmul kernel for a rows x cols matrix of <paramref name="type"/> (zeros).
    /// With <paramref name="nTokens"/> &gt; 1 (prefill) the GB/s counts the weight bytes once per token ("effective").</summary>
    public static unsafe BandwidthResult Matmul(VulkanDevice device, GgmlType type, int rows, int cols, int repeats = 5, int nTokens = 1, MatmulLayout? layout = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        byte[] zeros = new byte[checked((int)GgmlTypeInfo.RowBytes(type, cols) * rows)];
        MatmulLayout chosen = layout ?? MatmulKernel.LayoutFor(device, type, cols);
        // The engine's storage: row tiles wherever the rows-per-lane kernels read the matrix.
        int tileRows = chosen == MatmulLayout.RowsPerLane ? MatmulKernel.RowsTileFor(device, GpuMatrix.GpuTypeFor(type, "bench"), cols) : 0;
        GpuMatrix w;
        fixed (byte* p = zeros) w = GpuMatrix.Upload(device, $"bench-w-{rows}x{cols}", type, rows, cols, p, tileRows: tileRows);
        using var _ = w;
        using var x = new GpuBuffer(device, cols * 4L * nTokens, "bench-x");
        using var y = new GpuBuffer(device, rows * 4L * nTokens, "bench-y");
        x.Clear();
        using var k = new MatmulKernel(device, w.Type, nTokens == 1 ? 1u : MatmulKernel.PrefillTokensFor(device, w.Type, chosen), layout: chosen, tileRows: tileRows);
        var bindings = w.Chunks.Select(c => k.Bind(c.Buffer, x, y)).ToArray();
        double ms = Time(device, seq =>
        {
            for (int i = 0; i < bindings.Length; i++)
                k.Record(seq, bindings[i], w.Chunks[i].RowCount, cols, nTokens, 0, 0, rows, w.Chunks[i].RowStart, false);
        }, repeats);
        string name = (nTokens == 1 ? $"matvec {type} {rows}x{cols}" : $"matmul {type} {rows}x{cols} x {nTokens} tokens (effective)") + $" [{k.Layout}]";
        return new BandwidthResult(name, w.SizeBytes * nTokens, ms);
    }

    /// <summary>GB/s of a read-only kernel that sums <paramref name="bytes"/> bytes.</summary>
    public static BandwidthResult ReadBandwidth(VulkanDevice device, long bytes, int repeats = 5)
    {
        ArgumentNullException.ThrowIfNull(device);
        const uint wg = 256;
        bytes = bytes / 16 * 16;
        using var data = new GpuBuffer(device, bytes, "bench-read");
        data.Clear();
        IReadOnlyList<RowChunk> chunks = MatrixSplit.Rows(bytes / 16, 16, device.Info.MaxStorageBufferRange,
            Math.Max(device.Info.MinStorageBufferOffsetAlignment, 16));
        // ~16 vec4 loads per lane: enough workgroups to keep a large GPU's memory system full (an H200 read 1.8 TB/s with
        // 1024 workgroups of 64 lanes and one load in flight each).
        uint groups = (uint)Math.Clamp(chunks.Max(c => c.RowCount) / (wg * 16L), 1, 65535);
        using var output = new GpuBuffer(device, groups * 4L * chunks.Count, "bench-read-out");
        using var kernel = new ComputeKernel(device, "readbw", bindingCount: 2, pushConstantBytes: 8, [wg]);
        var bindings = chunks.Select(c => (c, kernel.Bind(new BufferRange(data, c.ByteOffset, c.ByteSize), output))).ToList();
        double ms = Time(device, seq =>
        {
            for (int i = 0; i < bindings.Count; i++)
                seq.Dispatch(bindings[i].Item2, new ReadPush((uint)bindings[i].c.RowCount, (uint)(i * groups)), groups);
        }, repeats);
        return new BandwidthResult("read bandwidth (readbw)", bytes, ms);
    }

    /// <summary>
    /// Microseconds per dispatch of a chain of dependent dispatches (a compute barrier between each) of a kernel that does
    /// almost nothing (readbw over one texel) in <paramref name="workgroups"/> workgroups of 64 lanes: the fixed cost that
    /// every dispatch of a decode step pays whatever it computes. GPU time (timestamps) of the whole chain, best of
    /// <paramref name="repeats"/>, divided by <paramref name="dispatches"/>.
    /// </summary>
    public static double DependentDispatchMicroseconds(VulkanDevice device, uint workgroups, int dispatches, int repeats = 5)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfZero(workgroups);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dispatches);
        using var data = new GpuBuffer(device, 16, "bench-dispatch-in");
        data.Clear();
        using var output = new GpuBuffer(device, workgroups * 4L, "bench-dispatch-out");
        using var kernel = new ComputeKernel(device, "readbw", bindingCount: 2, pushConstantBytes: 8, [64u]);
        KernelBinding binding = kernel.Bind(data, output);
        double ms = Time(device, seq =>
        {
            for (int i = 0; i < dispatches; i++)
            {
                if (i > 0) seq.ComputeBarrier();
                seq.Dispatch(binding, new ReadPush(1, 0), workgroups);
            }
        }, repeats);
        return ms * 1000 / dispatches;
    }

    private readonly record struct ReadPush(uint N4, uint OutOffset);
    private readonly record struct TexelReadPush(uint N, uint OutOffset, uint PerLane);

    /// <summary>GB/s of a read-only kernel that sums <paramref name="bytes"/> bytes through texel buffers (16-byte
    /// texels, views of at most 128 MiB), the path the CPU-device kernels read weights and caches through.</summary>
    public static BandwidthResult ReadBandwidthTexel(VulkanDevice device, long bytes, int repeats = 5)
    {
        ArgumentNullException.ThrowIfNull(device);
        const uint wg = 8;
        const uint groups = 256;
        const long viewBytes = 128L << 20;
        bytes = bytes / viewBytes * viewBytes;
        if (bytes == 0) bytes = viewBytes;
        using var data = new GpuBuffer(device, bytes, "bench-read-texel");
        data.Clear();
        int views = (int)(bytes / viewBytes);
        uint texels = (uint)(viewBytes / 16);
        uint perLane = (texels + groups * wg - 1) / (groups * wg);
        using var output = new GpuBuffer(device, groups * wg * 4L * views, "bench-read-texel-out");
        using var kernel = new ComputeKernel(device, "readbw_texel", [BindingKind.UniformTexelBuffer, BindingKind.StorageBuffer], pushConstantBytes: 12, [wg]);
        var bindings = Enumerable.Range(0, views).Select(v => kernel.Bind(new BufferRange(data, v * viewBytes, viewBytes), output)).ToList();
        double ms = Time(device, seq =>
        {
            for (int i = 0; i < bindings.Count; i++)
                seq.Dispatch(bindings[i], new TexelReadPush(texels, (uint)(i * groups * wg), perLane), groups);
        }, repeats);
        return new BandwidthResult("read bandwidth (readbw_texel)", bytes, ms);
    }

    /// <summary>The device's read bandwidth for the roofline: the faster of the storage-buffer and texel-buffer read kernels,
    /// each the best of at least 5 runs (on lavapipe single runs of the texel kernel ranged 14-26 GB/s).</summary>
    public static (BandwidthResult Best, BandwidthResult Storage, BandwidthResult Texel) Roofline(VulkanDevice device, long bytes, int repeats = 5)
    {
        repeats = Math.Max(repeats, 5);
        var storage = ReadBandwidth(device, bytes, repeats);
        var texel = ReadBandwidthTexel(device, bytes, repeats);
        return (storage.GBps >= texel.GBps ? storage : texel, storage, texel);
    }

    /// <summary>Lanes per workgroup, independent multiply-add chains per lane and steps of each chain per loop iteration
    /// of the arithmetic-peak probe (<see cref="PeakFlops"/>). On lavapipe 8 to 32 chains measured alike (85-115 GFLOP/s on
    /// 2 cores, within that machine's drift).</summary>
    internal const uint PeakWorkgroupSize = 64, PeakChains = 16, PeakUnroll = 8;

    /// <summary>The multiply-add the probe's chains repeat, acc = acc * PeakA + PeakB: values stay near 1.</summary>
    internal const float PeakB = 1f / 4096, PeakA = 1 - PeakB;

    /// <summary>
    /// The device's arithmetic peak for the compute roofline: GFLOP/s of peak_fma.comp, <see cref="PeakChains"/>
    /// independent fma chains per lane and no memory traffic, over enough workgroups to fill the device. The iteration
    /// count is scaled from short runs so that one run takes about <paramref name="targetMs"/> ms; the time is the best of
    /// <paramref name="repeats"/> (at least 5). A multiply-add counts as two operations, as in the models' FLOP counts.
    /// </summary>
    public static ComputeResult PeakFlops(VulkanDevice device, int repeats = 5, double targetMs = 100)
    {
        ArgumentNullException.ThrowIfNull(device);
        repeats = Math.Max(repeats, 5);
        // CPU devices: a few workgroups per thread; GPUs: many per multiprocessor (an H200 has 132).
        uint groups = device.Info.Kind == DeviceKind.Cpu ? 64u : 16384u;
        using var probe = new PeakProbe(device, groups);
        uint iterations = 16;
        double ms = probe.Time(iterations, 1);
        while (ms < targetMs / 8 && iterations < (1u << 24))
        {
            iterations *= 4;
            ms = probe.Time(iterations, 1);
        }
        iterations = (uint)Math.Clamp(iterations * targetMs / Math.Max(ms, 1e-3), 16, 1u << 26);
        ms = probe.Time(iterations, repeats);
        return new ComputeResult("fma peak (peak_fma)", PeakFlopsOf(groups, iterations), ms);
    }

    /// <summary>The floating-point operations of one peak_fma dispatch.</summary>
    internal static double PeakFlopsOf(uint groups, uint iterations) => 2.0 * PeakChains * PeakUnroll * iterations * groups * PeakWorkgroupSize;

    /// <summary>Runs peak_fma once and returns what each lane wrote (the sum of its chains), for checks against the CPU.</summary>
    internal static float[] PeakOutputs(VulkanDevice device, uint groups, uint iterations)
    {
        using var probe = new PeakProbe(device, groups);
        probe.Time(iterations, 1);
        return probe.Outputs();
    }

    /// <summary>peak_fma.comp bound to its output, [groups * PeakWorkgroupSize] f32.</summary>
    private sealed class PeakProbe : IDisposable
    {
        private readonly VulkanDevice _device;
        private readonly uint _groups;
        private readonly GpuBuffer _output;
        private readonly ComputeKernel _kernel;
        private readonly KernelBinding _binding;

        public PeakProbe(VulkanDevice device, uint groups)
        {
            _device = device;
            _groups = groups;
            _output = new GpuBuffer(device, groups * PeakWorkgroupSize * 4L, "bench-peak-out");
            _kernel = new ComputeKernel(device, "peak_fma", bindingCount: 1, pushConstantBytes: 12, [PeakWorkgroupSize, PeakChains, PeakUnroll]);
            _binding = _kernel.Bind(_output);
        }

        /// <summary>Best GPU time in ms of <paramref name="times"/> runs of <paramref name="iterations"/> loop iterations.</summary>
        public double Time(uint iterations, int times) =>
            KernelBenchmarks.Time(_device, seq => seq.Dispatch(_binding, new PeakPush(iterations, PeakA, PeakB), _groups), times);

        public float[] Outputs()
        {
            var values = new float[_groups * PeakWorkgroupSize];
            _output.Download<float>(values);
            return values;
        }

        public void Dispose()
        {
            _kernel.Dispose();
            _output.Dispose();
        }
    }

    private readonly record struct PeakPush(uint Iterations, float A, float B);

    private static double Time(VulkanDevice device, Action<CommandSequence> record, int repeats)
    {
        using var seq = new CommandSequence(device);
        using var ts = new TimestampQueries(device, 2);
        seq.Begin();
        seq.WriteTimestamp(ts, 0);
        record(seq);
        seq.WriteTimestamp(ts, 1);
        seq.End();
        seq.Submit(); // warm-up
        double best = double.MaxValue;
        for (int i = 0; i < Math.Max(1, repeats); i++)
        {
            seq.Submit();
            best = Math.Min(best, ts.ElapsedMilliseconds(0, 1));
        }
        return best;
    }
}
