using Tipo.Inference.Kernels;
using Tipo.Inference.Sampling;

namespace Tipo.Inference;

/// <summary>
/// The decode steps of one sampled generation, as <see cref="Generator"/> and the sampled bench run them: each step leaves
/// either the GPU's best logits (<see cref="LlamaModel.EvaluateTopK"/>, where <see cref="Generator.UsesGpuTopK"/> says the
/// sampler chooses the same token from them) or the whole row, and <see cref="Choose"/> samples from what the last step
/// left. The row it was made with is where the caller puts a prompt's logits (then <see cref="RowFilled"/>).
/// </summary>
internal sealed class SampledDecode
{
    private readonly LlamaModel _model;
    private readonly float[] _row;                                     // [vocab] the last row of logits read back
    private readonly int[] _ids = new int[TopKKernel.Capacity];        // the GPU's best logits' ids (GpuTopK)
    private readonly float[] _logits = new float[TopKKernel.Capacity];
    private readonly int[] _one = new int[1];
    private int _candidates;   // > 0: the last step left candidates, not a row

    /// <summary>Whether each step reads back the GPU's best logits instead of the row.</summary>
    public bool GpuTopK { get; }

    /// <param name="row">[vocab]: the logits the first choice is made from, filled by the caller.</param>
    public SampledDecode(LlamaModel model, SamplingOptions options, float[] row)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(row);
        _model = model;
        _row = row;
        GpuTopK = Generator.UsesGpuTopK(model, options);
    }

    /// <summary>The caller has written a whole row of logits (a prompt's): the next choice is made from it.</summary>
    public void RowFilled() => _candidates = 0;

    /// <summary>The next token, from the last step's candidates or the row.</summary>
    public int Choose(Sampler sampler, ReadOnlySpan<int> history)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        return _candidates > 0
            ? sampler.SampleFromCandidates(_ids.AsSpan(0, _candidates), _logits.AsSpan(0, _candidates), history)
            : sampler.Sample(_row, history);
    }

    /// <summary>Runs one decode step of <paramref name="token"/>, leaving what <see cref="Choose"/> reads.</summary>
    public void Step(int token)
    {
        if (GpuTopK)
        {
            _candidates = _model.EvaluateTopK(token, _ids, _logits);
            return;
        }
        _one[0] = token;
        _model.Evaluate(_one, LogitsMode.Last, _row);
        _candidates = 0;
    }
}
