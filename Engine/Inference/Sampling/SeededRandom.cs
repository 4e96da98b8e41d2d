using System.Numerics;

namespace Tipo.Inference.Sampling;

/// <summary>
/// A small deterministic pseudo-random generator: xoshiro256** (Blackman &amp; Vigna) whose 256-bit state is
/// filled from a 64-bit seed with splitmix64. Only integer arithmetic is involved, so a given seed yields the
/// same sequence on every platform and .NET version (unlike <see cref="System.Random"/>, whose algorithm is
/// not specified). Not cryptographically secure; not thread-safe.
/// </summary>
public sealed class SeededRandom
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Creates a generator whose whole sequence is determined by <paramref name="seed"/>.</summary>
    public SeededRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
        // Four successive splitmix64 outputs are distinct (its finalizer is a bijection), so the state is never all zero.
    }

    /// <summary>The next 64 uniformly distributed bits (xoshiro256**).</summary>
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>
    /// A uniformly distributed double in [0, 1): the top 53 bits of <see cref="NextUInt64"/> times 2^-53,
    /// so every value is an exact multiple of 2^-53 and 1.0 is never returned.
    /// </summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// Derives an independent-looking seed for sub-stream <paramref name="stream"/> of a master seed
    /// (e.g. one per generation or per call), by splitmix64-style mixing. Deterministic and platform-independent;
    /// for a fixed master, distinct streams give distinct seeds (and vice versa).
    /// </summary>
    public static ulong DeriveSeed(ulong master, ulong stream)
    {
        // Mix64 is a bijection, and so is adding a constant, so the result is injective in each argument separately.
        return Mix64(master ^ Mix64(stream + Golden)) + Golden;
    }

    /// <summary>One splitmix64 step: advances <paramref name="state"/> and returns the mixed output.</summary>
    private static ulong SplitMix64(ref ulong state)
    {
        state += Golden;
        return Mix64(state);
    }

    /// <summary>The splitmix64 finalizer (a bijection on 64-bit values).</summary>
    private static ulong Mix64(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
