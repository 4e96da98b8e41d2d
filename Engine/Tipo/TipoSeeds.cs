namespace Tipo.Expansion;

/// <summary>
/// Seed derivation from one master seed, so a whole request is reproducible from it.
/// <list type="bullet">
/// <item>Operation <c>k</c> (0-based) gets <c>opSeed = Mix(master, k + 1)</c>; its attempt <c>i</c> (0 = first call,
/// 1.. = retries) samples with <c>opSeed + i</c> (KGen's <c>seed + iter</c>).</item>
/// <item>The shuffles of post-processing draw from one <see cref="TipoRandom"/> seeded with <c>Mix(master, 0)</c>.</item>
/// <item><c>Mix(a, b)</c> = SplitMix64's finalizer of <c>a + (b + 1) · 0x9E3779B97F4A7C15</c> (wrapping 64-bit).</item>
/// </list>
/// A request without a seed gets a random master seed in [0, 2^32), which is reported so the run can be replayed.
/// </summary>
public static class TipoSeeds
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>SplitMix64's output function of <paramref name="a"/> + (<paramref name="b"/> + 1)·golden.</summary>
    public static ulong Mix(ulong a, ulong b)
    {
        ulong z = unchecked(a + (b + 1) * Golden);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>The seed of operation <paramref name="operationIndex"/> (before adding the attempt number).</summary>
    public static ulong ForOperation(ulong master, int operationIndex) => Mix(master, (ulong)operationIndex + 1);

    /// <summary>The seed of the shuffle RNG.</summary>
    public static ulong ForShuffle(ulong master) => Mix(master, 0);

    /// <summary>A fresh random master seed in [0, 2^32).</summary>
    public static ulong Random() => (ulong)System.Random.Shared.NextInt64(0, 1L << 32);
}
