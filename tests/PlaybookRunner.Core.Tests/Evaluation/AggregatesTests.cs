using PlaybookRunner.Core.Evaluation;

namespace PlaybookRunner.Core.Tests.Evaluation;

public sealed class AggregatesTests
{
    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.25, 1.75)]
    [InlineData(0.5, 2.5)]
    [InlineData(0.9, 3.7)]
    [InlineData(1.0, 4.0)]
    public void Percentile_interpolates_like_numpy_and_excel(double p, double expected)
    {
        // numpy.percentile([1, 2, 3, 4], 100 * p) with linear interpolation.
        Assert.Equal(expected, Aggregates.Percentile([4.0, 1.0, 3.0, 2.0], p)!.Value, 10);
    }

    [Fact]
    public void Percentile_of_nothing_is_null_and_p_is_checked()
    {
        Assert.Null(Aggregates.Percentile(Array.Empty<double>(), 0.5));
        Assert.Equal(7.5m, Aggregates.Percentile([5m, 10m], 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Aggregates.Percentile([1.0], 1.5));
    }

    [Fact]
    public void Pareto_threshold_is_the_smallest_top_value_holding_the_share()
    {
        // Total 200: 100 + 50 = 150 (75%) is not enough; adding 20 reaches 170 (85%).
        Assert.Equal(20m, Aggregates.Pareto([100m, 50m, 20m, 10m, 10m, 5m, 5m], 0.80, decimal.MaxValue));
        Assert.Equal(100m, Aggregates.Pareto([100m, 50m, 20m, 10m, 10m, 5m, 5m], 0.50, decimal.MaxValue));
    }

    [Fact]
    public void Pareto_never_truncates_the_share_for_integer_values()
    {
        // Total 16: 10 alone is 62.5%, 10 + 5 is 93.75% >= 80%.
        Assert.Equal(5L, Aggregates.Pareto([10L, 5L, 1L], 0.80, long.MaxValue));
        Assert.Equal(10.0, Aggregates.Pareto([10.0, 5.0, 1.0], 0.50, double.MaxValue));
    }

    [Fact]
    public void Pareto_includes_ties_and_handles_empty_populations()
    {
        // 10 + 10 + 10 = 30 of 40: ties at 10 are all in, so t = 10 holds 75%.
        Assert.Equal(10m, Aggregates.Pareto([10m, 10m, 10m, 5m, 5m], 0.70, decimal.MaxValue));
        Assert.Equal(decimal.MaxValue, Aggregates.Pareto(Array.Empty<decimal>(), 0.8, decimal.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => Aggregates.Pareto([1m], 0, decimal.MaxValue));
    }
}
