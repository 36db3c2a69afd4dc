namespace PlaybookRunner.Runtime;

/// <summary>
/// The population statistics of spec section 5, on plain values. The sorting ones sort an array they
/// are given in place (the engine passes its own copy of the population's values), other sequences in a copy.
/// </summary>
internal static class Aggregates
{
    /// <summary>Average, or null for no values.</summary>
    public static decimal? DefaultIfEmptyAverage(this IEnumerable<decimal> values) => values.Any() ? values.Average() : null;

    /// <summary>PERCENTILE.INC: v[⌊h⌋] + (h-⌊h⌋)(v[⌊h⌋+1]-v[⌊h⌋]), h = (n-1)p.</summary>
    public static double? Percentile(IEnumerable<double> values, double p)
    {
        CheckFraction(p, nameof(p));
        var sorted = values as double[] ?? values.ToArray();
        Array.Sort(sorted);
        if (sorted.Length == 0)
        {
            return null;
        }

        var h = (sorted.Length - 1) * p;
        var lower = (int)Math.Floor(h);
        return lower + 1 < sorted.Length ? sorted[lower] + ((h - lower) * (sorted[lower + 1] - sorted[lower])) : sorted[lower];
    }

    /// <inheritdoc cref="Percentile(IEnumerable{double}, double)"/>
    public static decimal? Percentile(IEnumerable<decimal> values, double p)
    {
        CheckFraction(p, nameof(p));
        var sorted = values as decimal[] ?? values.ToArray();
        Array.Sort(sorted);
        if (sorted.Length == 0)
        {
            return null;
        }

        var h = (sorted.Length - 1) * (decimal)p;
        var lower = (int)decimal.Floor(h);
        return lower + 1 < sorted.Length ? sorted[lower] + ((h - lower) * (sorted[lower + 1] - sorted[lower])) : sorted[lower];
    }

    /// <summary>The largest t such that values ≥ t hold at least <paramref name="share"/> of the total.</summary>
    public static T Pareto<T>(IEnumerable<T> values, double share, T whenEmpty)
        where T : System.Numerics.INumber<T>
    {
        if (share is <= 0 or > 1 || double.IsNaN(share))
        {
            throw new ArgumentOutOfRangeException(nameof(share), share, "share must be greater than 0 and at most 1");
        }

        // Sorted in place (introsort) rather than through LINQ's stable keyed sort: values have no identity
        // to keep. An array is the caller's copy (the population's values) and is sorted as it is.
        var sorted = values as T[] ?? values.ToArray();
        Array.Sort(sorted);
        Array.Reverse(sorted);
        var total = T.Zero;
        foreach (var v in sorted)
        {
            total += v;
        }

        if (sorted.Length == 0 || total <= T.Zero)
        {
            return whenEmpty;
        }

        var cumulative = T.Zero;
        for (var i = 0; i < sorted.Length; i++)
        {
            cumulative += sorted[i];
            // All records tied with sorted[i] are included by "value >= t", so only stop at the end of a tie run.
            if (Reached(cumulative, total, share) && (i + 1 == sorted.Length || sorted[i + 1] != sorted[i]))
            {
                return sorted[i];
            }
        }

        return sorted[^1];
    }

    /// <summary>cumulative ≥ share × total, exactly for decimal, in double for the others (never truncating the share).</summary>
    private static bool Reached<T>(T cumulative, T total, double share)
        where T : System.Numerics.INumber<T> =>
        cumulative is decimal c && total is decimal t
            ? c >= t * (decimal)share
            : double.CreateChecked(cumulative) >= double.CreateChecked(total) * share;

    private static void CheckFraction(double p, string name)
    {
        if (p is < 0 or > 1 || double.IsNaN(p))
        {
            throw new ArgumentOutOfRangeException(name, p, "percentile must be between 0 and 1");
        }
    }
}
