using System.Globalization;
using System.Text;

namespace PlaybookRunner.Benchmarks;

/// <summary>
/// The benchmark's data and playbook: a deterministic customer file (same seed, same bytes) and one
/// playbook with 10 rules, 2 segments and 1 Pareto let over it, written to a folder.
/// </summary>
internal static class BenchWorkspace
{
    /// <summary>The evaluation instant of every run.</summary>
    public static readonly DateTimeOffset AsOf = new(2026, 6, 1, 9, 0, 0, TimeSpan.Zero);

    public static readonly string[] Plans = ["Basic", "Pro", "Enterprise", "Pro", "Basic", "Basic", "Pro", "Basic", "Pro", "Basic"];
    public static readonly string[] Regions = ["north", "south", "east", "west"];

    /// <summary>The rules, as a playbook writes them (ids and conditions).</summary>
    public static readonly (string Id, string When)[] Rules =
    [
        ("key-silent-30d", "key && DaysSince(last_contact) > 30"),
        ("silent-40d", "DaysSince(last_contact) > 40 && tenure_months > 12"),
        ("detractor-with-tickets", "nps == 0 && open_tickets >= 3"),
        ("many-tickets", "open_tickets >= 6"),
        ("key-at-risk", "key && churn_risk > 0.98"),
        ("enterprise-no-renewal", "enterprise && !auto_renew && churn_risk > 0.9"),
        ("new-and-silent", "tenure_months < 3 && DaysSince(last_contact) > 14"),
        ("big-spender-unhappy", "total_charges > 7000m && nps != null && nps < 3"),
        ("north-watch", "region == \"north\" && churn_risk > 0.99"),
        ("long-tenure-thanks", "tenure_months >= 70 && monthly_charges > 110m"),
    ];

    public const string ParetoLet = "ParetoThreshold(c => c.monthly_charges, 0.8)";

    /// <summary>Writes runner.yaml, the playbook and customers.csv with <paramref name="rows"/> rows; returns the csv path.</summary>
    public static string Write(string folder, int rows)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "runner.yaml"), """
            sources:
              customers:
                kind: csv
                path: customers.csv
                key: customer_id
                timezone: UTC
                fields:
                  customer_id: string
                  plan: string
                  region: string
                  tenure_months: int
                  monthly_charges: decimal
                  total_charges: decimal?
                  last_contact: date
                  nps: int?
                  open_tickets: int
                  churn_risk: double
                  auto_renew: bool
            state:
              kind: sqlite
              path: bench-state.db
            """);
        var playbook = PlaybookHeader("bench");
        foreach (var (id, when) in Rules)
        {
            playbook.Append(CultureInfo.InvariantCulture, $"  - id: {id}\n    when: '{when}'\n");
        }

        File.WriteAllText(Path.Combine(folder, "bench.yaml"), playbook.ToString());
        var csv = Path.Combine(folder, "customers.csv");
        if (!File.Exists(csv) || CountLines(csv) != rows + 1)
        {
            WriteCsv(csv, rows);
        }

        return csv;
    }

    /// <summary>
    /// Writes the start-up workspace: one playbook of 100 rules (the ten rules above, each in ten
    /// variants) over 100 customers, for timing <c>validate</c> with and without the compile cache.
    /// </summary>
    public static void WriteStartup(string folder)
    {
        Write(folder, 100);
        var playbook = PlaybookHeader("startup");
        for (var variant = 0; variant < 10; variant++)
        {
            foreach (var (id, when) in Rules)
            {
                playbook.Append(CultureInfo.InvariantCulture, $"  - id: {id}-{variant}\n    when: '{when} && open_tickets >= {variant}'\n");
            }
        }

        File.Delete(Path.Combine(folder, "bench.yaml"));
        File.WriteAllText(Path.Combine(folder, "startup.yaml"), playbook.ToString());
    }

    /// <summary>A playbook over the customers up to its rules: the Pareto let and the two segments.</summary>
    private static StringBuilder PlaybookHeader(string id) => new StringBuilder().Append(CultureInfo.InvariantCulture, $"playbook: {id}\n").Append("""
        timezone: UTC
        source: customers
        let:
          key_threshold: ParetoThreshold(c => c.monthly_charges, 0.8)
        segments:
          key: monthly_charges >= key_threshold
          enterprise: plan == "Enterprise"
        rules:

        """);

    private static long CountLines(string path)
    {
        using var reader = new StreamReader(path);
        long lines = 0;
        while (reader.ReadLine() is not null)
        {
            lines++;
        }

        return lines;
    }

    private static void WriteCsv(string path, int rows)
    {
        var random = new Random(20261123);
        var today = DateOnly.FromDateTime(AsOf.UtcDateTime);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16);
        writer.Write("customer_id,plan,region,tenure_months,monthly_charges,total_charges,last_contact,nps,open_tickets,churn_risk,auto_renew\n");
        for (var i = 1; i <= rows; i++)
        {
            var tenure = random.Next(0, 73);
            var u = random.NextDouble();
            var monthly = Math.Round(18m + (decimal)(u * u) * 102m, 2);
            var total = random.Next(500) == 0 ? "" : Math.Round(monthly * tenure * (decimal)(0.9 + (random.NextDouble() * 0.2)), 2).ToString(CultureInfo.InvariantCulture);
            var daysAgo = (int)(-Math.Log(1 - random.NextDouble()) * 6);
            var nps = random.Next(10) < 3 ? "" : random.Next(0, 11).ToString(CultureInfo.InvariantCulture);
            var tickets = (int)(-Math.Log(1 - random.NextDouble()) * 0.7);
            writer.Write(string.Create(CultureInfo.InvariantCulture,
                $"C{i:D7},{Plans[random.Next(Plans.Length)]},{Regions[random.Next(Regions.Length)]},{tenure},{monthly},{total},{today.AddDays(-daysAgo):yyyy-MM-dd},{nps},{tickets},{random.NextDouble():F4},{(random.Next(10) < 7 ? "true" : "false")}\n"));
        }
    }
}
