using System.Globalization;
using Sylvan.Data.Csv;

namespace PlaybookRunner.Benchmarks;

/// <summary>One customer as a hand-written program would type it.</summary>
internal sealed class Row
{
    public string CustomerId = "";
    public string Plan = "";
    public string Region = "";
    public int TenureMonths;
    public decimal MonthlyCharges;
    public decimal? TotalCharges;
    public DateOnly LastContact;
    public int? Nps;
    public int OpenTickets;
    public double ChurnRisk;
    public bool AutoRenew;

    // Segments, computed once per row as the engine does.
    public bool Key;
    public bool Enterprise;

    /// <summary>For RulesEngine, whose expression language has no DateOnly: days since last contact as of the run.</summary>
    public int DaysSinceContact;
}

/// <summary>
/// The floor: what a developer would write by hand for the same playbook. Sylvan reads the csv, a
/// first pass keeps only the Pareto column, a second types each row and runs the ten conditions as
/// lambdas. No diagnostics, no duplicate-key check, no plan: the least work that gives the same findings.
/// </summary>
internal static class HandWritten
{
    public static readonly int Today = DateOnly.FromDateTime(BenchWorkspace.AsOf.UtcDateTime).DayNumber;

    public static Func<Row, bool>[] Conditions() =>
    [
        r => r.Key && Today - r.LastContact.DayNumber > 30,
        r => Today - r.LastContact.DayNumber > 40 && r.TenureMonths > 12,
        r => r.Nps == 0 && r.OpenTickets >= 3,
        r => r.OpenTickets >= 6,
        r => r.Key && r.ChurnRisk > 0.98,
        r => r.Enterprise && !r.AutoRenew && r.ChurnRisk > 0.9,
        r => r.TenureMonths < 3 && Today - r.LastContact.DayNumber > 14,
        r => r.TotalCharges > 7000m && r.Nps != null && r.Nps < 3,
        r => r.Region == "north" && r.ChurnRisk > 0.99,
        r => r.TenureMonths >= 70 && r.MonthlyCharges > 110m,
    ];

    /// <summary>Reads the file twice and returns the findings per rule.</summary>
    public static int[] Run(string csv)
    {
        var threshold = Pareto(ReadMonthlyCharges(csv), 0.8);
        var conditions = Conditions();
        var counts = new int[conditions.Length];
        foreach (var row in ReadRows(csv))
        {
            Segment(row, threshold);
            for (var i = 0; i < conditions.Length; i++)
            {
                if (conditions[i](row))
                {
                    counts[i]++;
                }
            }
        }

        return counts;
    }

    public static void Segment(Row row, decimal threshold)
    {
        row.Key = row.MonthlyCharges >= threshold;
        row.Enterprise = row.Plan == "Enterprise";
        row.DaysSinceContact = Today - row.LastContact.DayNumber;
    }

    public static List<decimal> ReadMonthlyCharges(string csv)
    {
        using var reader = CsvDataReader.Create(csv);
        var ordinal = reader.GetOrdinal("monthly_charges");
        var values = new List<decimal>();
        while (reader.Read())
        {
            values.Add(reader.GetDecimal(ordinal));
        }

        return values;
    }

    public static IEnumerable<Row> ReadRows(string csv)
    {
        using var reader = CsvDataReader.Create(csv);
        while (reader.Read())
        {
            yield return new Row
            {
                CustomerId = reader.GetString(0),
                Plan = reader.GetString(1),
                Region = reader.GetString(2),
                TenureMonths = reader.GetInt32(3),
                MonthlyCharges = reader.GetDecimal(4),
                TotalCharges = reader.GetFieldSpan(5).IsEmpty ? null : reader.GetDecimal(5),
                LastContact = DateOnly.ParseExact(reader.GetString(6), "yyyy-MM-dd", CultureInfo.InvariantCulture),
                Nps = reader.GetFieldSpan(7).IsEmpty ? null : reader.GetInt32(7),
                OpenTickets = reader.GetInt32(8),
                ChurnRisk = reader.GetDouble(9),
                AutoRenew = reader.GetBoolean(10),
            };
        }
    }

    /// <summary>The same 80/20 threshold as the engine's ParetoThreshold.</summary>
    public static decimal Pareto(List<decimal> values, double share)
    {
        values.Sort((a, b) => b.CompareTo(a));
        var total = 0m;
        foreach (var v in values)
        {
            total += v;
        }

        var cumulative = 0m;
        for (var i = 0; i < values.Count; i++)
        {
            cumulative += values[i];
            if (cumulative >= total * (decimal)share && (i + 1 == values.Count || values[i + 1] != values[i]))
            {
                return values[i];
            }
        }

        return values.Count == 0 ? decimal.MaxValue : values[^1];
    }
}
