using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PlaybookRunner.Benchmarks;

/// <summary>
/// The shape real playbooks have (issue 21): three rules that each fire for about <c>rate</c>% of the
/// customers, a Pareto and a percentile <c>let</c>, and per rule one message and two actions, an email with a
/// multi-line body and a webhook with a JSON body, planned to a JSON file. The floor below does the same work
/// by hand and writes the same findings, byte for byte.
/// </summary>
internal static class ShapeBench
{
    /// <summary>The rules: id and the part of the condition that decides; each also needs churn_risk over the rate's threshold.</summary>
    public static readonly (string Id, string When)[] Rules =
    [
        ("at-risk", "true"),
        ("silent-at-risk", "DaysSince(last_contact) >= 0"),
        ("key-or-busy-at-risk", "(key || open_tickets >= 0) && tenure_months <= tenure_p90 + 100"),
    ];

    /// <summary>churn_risk is uniform in [0, 1) with four decimals: a threshold of 1 - rate fires for about rate of the customers.</summary>
    public static string Threshold(int ratePercent) => (1m - (ratePercent / 100m)).ToString("0.00", CultureInfo.InvariantCulture);

    private const string Body = """
        Hello {{ region }} team,

        {{ customer_id }} is on the {{ plan }} plan and pays {{ monthly_charges }} a month.
        They have {{ open_tickets }} open tickets and {{ tenure_months }} months of tenure;
        we last spoke to them {{ days_since last_contact }} days ago.

        Please call them this week.

        """;

    /// <summary>Writes the workspace (customers.csv, runner.yaml, shape.yaml for the rate); returns the csv path.</summary>
    public static string Write(string folder, int rows, int ratePercent)
    {
        var csv = BenchWorkspace.Write(folder, rows);
        File.Delete(Path.Combine(folder, "bench.yaml"));
        File.AppendAllText(Path.Combine(folder, "runner.yaml"), "\nchannels:\n  default: { kind: smtp, host: 127.0.0.1, port: 25, from: cs@example.com, tls: none }\n");
        WritePlaybook(folder, ratePercent, templates: true);
        return csv;
    }

    /// <summary>
    /// Writes shape.yaml for the rate; without <paramref name="templates"/> the rules have no message and no actions, so the
    /// same findings render nothing: the difference in time is what rendering, checking and writing the templates costs.
    /// </summary>
    public static void WritePlaybook(string folder, int ratePercent, bool templates)
    {
        var yaml = new StringBuilder().Append("""
            playbook: shape
            timezone: UTC
            source: customers
            let:
              key_threshold: ParetoThreshold(c => c.monthly_charges, 0.8)
              tenure_p90: Percentile(c => c.tenure_months, 0.9)
            segments:
              key: monthly_charges >= key_threshold
            rules:

            """);
        foreach (var (id, when) in Rules)
        {
            if (!templates)
            {
                yaml.Append(CultureInfo.InvariantCulture, $$"""
                      - id: {{id}}
                        severity: warning
                        when: 'churn_risk >= {{Threshold(ratePercent)}} && {{when}}'

                    """);
                continue;
            }

            yaml.Append(CultureInfo.InvariantCulture, $$$"""
                  - id: {{{id}}}
                    severity: warning
                    when: 'churn_risk >= {{{Threshold(ratePercent)}}} && {{{when}}}'
                    message: "{{ customer_id }} ({{ plan }}, {{ region }}): {{ open_tickets }} open tickets, {{ days_since last_contact }} days since contact"
                    actions:
                      - type: email
                        to: "cs-{{ region }}@example.com"
                        subject: "{{ customer_id }} needs a call"
                        body: |
                {{{Indent(Body, "          ")}}}
                      - type: webhook
                        url: "http://127.0.0.1:9/hook"
                        body: '{"customer": "{{ customer_id }}", "plan": "{{ plan }}", "monthly": {{ monthly_charges }}, "tickets": {{ open_tickets }}, "key": {{ key }}, "rule": "{{ rule.id }}"}'

                """);
        }

        File.WriteAllText(Path.Combine(folder, "shape.yaml"), yaml.ToString());
    }

    private static string Indent(string text, string prefix) =>
        string.Join("\n", text.TrimEnd('\n').Split('\n').Select(l => l.Length == 0 ? "" : prefix + l));

    /// <summary>
    /// The floor: Sylvan reads the csv, a first pass keeps the two let columns, a second types each row,
    /// runs the three conditions and, for each finding, builds the message and the action strings with plain
    /// string building and writes them with Utf8JsonWriter, in the plan's own JSON form. Returns the findings per rule.
    /// </summary>
    public static int[] Floor(string csv, int ratePercent, string output)
    {
        var (charges, tenures) = ReadLetColumns(csv);
        var keyThreshold = Pareto(charges, 0.8m);
        var tenureP90 = Percentile(tenures, 0.9);
        var threshold = double.Parse(Threshold(ratePercent), CultureInfo.InvariantCulture);
        var counts = new int[Rules.Length];
        using var stream = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("asOf", BenchWorkspace.AsOf.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture));
        json.WriteStartArray("findings");
        // The plan's order is rule, then key: the rows that fire are kept per rule (the generator writes keys in
        // order, so the file's order is the key order) and rendered rule by rule.
        var fired = Rules.Select(_ => new List<(Row Row, int Days)>()).ToArray();
        foreach (var row in HandWritten.ReadRows(csv))
        {
            HandWritten.Segment(row, keyThreshold);
            if (row.ChurnRisk < threshold)
            {
                continue;
            }

            var days = HandWritten.Today - row.LastContact.DayNumber;
            bool[] holds = [true, days >= 0, (row.Key || row.OpenTickets >= 0) && row.TenureMonths <= tenureP90 + 100];
            for (var rule = 0; rule < Rules.Length; rule++)
            {
                if (holds[rule])
                {
                    fired[rule].Add((row, days));
                }
            }
        }

        var body = new StringBuilder(512);
        for (var rule = 0; rule < Rules.Length; rule++)
        {
            counts[rule] = fired[rule].Count;
            foreach (var (row, days) in fired[rule])
            {
                var monthly = row.MonthlyCharges.ToString(CultureInfo.InvariantCulture);
                json.WriteStartObject();
                json.WriteString("playbook", "shape");
                json.WriteString("rule", Rules[rule].Id);
                json.WriteString("key", row.CustomerId);
                json.WriteString("severity", "warning");
                json.WriteString("message", string.Create(CultureInfo.InvariantCulture, $"{row.CustomerId} ({row.Plan}, {row.Region}): {row.OpenTickets} open tickets, {days} days since contact"));
                json.WriteBoolean("suppressed", false);
                json.WriteStartArray("actions");
                json.WriteStartObject();
                json.WriteString("type", "email");
                json.WriteString("to", $"cs-{row.Region}@example.com");
                json.WriteString("subject", $"{row.CustomerId} needs a call");
                body.Clear()
                    .Append("Hello ").Append(row.Region).Append(" team,\n\n")
                    .Append(row.CustomerId).Append(" is on the ").Append(row.Plan).Append(" plan and pays ").Append(monthly).Append(" a month.\n")
                    .Append("They have ").Append(row.OpenTickets).Append(" open tickets and ").Append(row.TenureMonths).Append(" months of tenure;\n")
                    .Append("we last spoke to them ").Append(days).Append(" days ago.\n\nPlease call them this week.\n");
                json.WriteString("body", body.ToString());
                json.WriteEndObject();
                json.WriteStartObject();
                json.WriteString("type", "webhook");
                json.WriteString("url", "http://127.0.0.1:9/hook");
                json.WriteString("body", string.Create(CultureInfo.InvariantCulture,
                    $"{{\"customer\": \"{JsonEncodedText.Encode(row.CustomerId, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)}\", \"plan\": \"{JsonEncodedText.Encode(row.Plan, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)}\", \"monthly\": {monthly}, \"tickets\": {row.OpenTickets}, \"key\": {(row.Key ? "true" : "false")}, \"rule\": \"{Rules[rule].Id}\"}}"));
                json.WriteEndObject();
                json.WriteEndArray();
                json.WriteEndObject();
                if (json.BytesPending > 64 * 1024)
                {
                    json.Flush();
                }
            }
        }

        json.WriteEndArray();
        json.WriteEndObject();
        return counts;
    }

    /// <summary>
    /// True when the floor's output is, up to the end of its findings, the same bytes as PlaybookRunner's plan
    /// (which goes on with its errors, diagnostics, summary and provenance): the same findings, in the same
    /// order, with the same rendered messages and actions. Compared as streams, neither file held in memory.
    /// </summary>
    public static bool SameFindings(string floorFile, string playbookFile, out string difference)
    {
        using var floor = new BufferedStream(File.OpenRead(floorFile), 1 << 16);
        using var playbook = new BufferedStream(File.OpenRead(playbookFile), 1 << 16);
        var prefix = new FileInfo(floorFile).Length - 2; // the floor's last bytes close its object: "\n}"
        for (long at = 0; at < prefix; at++)
        {
            int a = floor.ReadByte(), b = playbook.ReadByte();
            if (a != b)
            {
                difference = $"first difference at byte {at}";
                return false;
            }
        }

        var next = new byte[12];
        var read = playbook.Read(next);
        difference = "";
        return Encoding.UTF8.GetString(next, 0, read).StartsWith(",\n  \"errors\"", StringComparison.Ordinal) || Fail(out difference, "the plan goes on with something other than its errors");
    }

    private static bool Fail(out string difference, string text)
    {
        difference = text;
        return false;
    }

    private static (List<decimal> Charges, List<int> Tenures) ReadLetColumns(string csv)
    {
        using var reader = Sylvan.Data.Csv.CsvDataReader.Create(csv);
        int charges = reader.GetOrdinal("monthly_charges"), tenure = reader.GetOrdinal("tenure_months");
        var result = (new List<decimal>(), new List<int>());
        while (reader.Read())
        {
            result.Item1.Add(reader.GetDecimal(charges));
            result.Item2.Add(reader.GetInt32(tenure));
        }

        return result;
    }

    /// <summary>The largest t such that customers with at least t hold at least <paramref name="share"/> of the total.</summary>
    private static decimal Pareto(List<decimal> values, decimal share) => HandWritten.Pareto(values, (double)share);

    /// <summary>Excel's PERCENTILE.INC: linear interpolation between closest ranks.</summary>
    private static double Percentile(List<int> values, double p)
    {
        var sorted = values.Select(v => (double)v).Order().ToArray();
        var rank = p * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + ((rank - low) * (sorted[high] - sorted[low]));
    }
}
