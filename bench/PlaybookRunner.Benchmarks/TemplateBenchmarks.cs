using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using PlaybookRunner.Core;
using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Model;
using Scriban.Runtime;

namespace PlaybookRunner.Benchmarks;

/// <summary>
/// What rendering one finding's templates costs (issue 21, goal 3): the shape benchmark's six templates (the message, the
/// email's recipient, subject and six-line body, the webhook's URL and JSON body), compiled by the real compile path and
/// rendered as the planner renders them (a scope per finding reading the values by slot, each field in its sink's
/// escaping), next to the floor's plain string building of the same six strings. Preflight, the finding's other parts and
/// writing the JSON are not in it: the shape benchmark's <c>--render-cost</c> measures the whole.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class TemplateBenchmarks
{
    private const int Findings = 1_000;

    private (CompiledTemplate Template, TemplateSink Sink)[] _templates = null!;
    private ScriptObject _shared = null!;
    private TemplateHelpers _helpers = null!;
    private List<Row> _rows = null!;

    [GlobalSetup]
    public void Setup()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"playbook-bench-templates-{Findings}");
        var csv = ShapeBench.Write(dir, Findings, 100);
        var diagnostics = new DiagnosticBag();
        var prepared = PlaybookEngine.Prepare(WorkspaceLoader.Load([dir], new HostContext(TimeProvider.System, Environment.GetEnvironmentVariable), diagnostics), diagnostics, BenchWorkspace.AsOf, load: true)
            ?? throw new InvalidOperationException(string.Join("\n", diagnostics.Items.Select(d => d.Message)));
        var rule = prepared.Compiled!.Playbooks[0].Templates[0];
        _templates =
        [
            (rule.Message!, TemplateSink.Text),
            .. rule.Actions.SelectMany(a => a.Fields.Where(f => f.Template is not null).Select(f => (f.Template!, Core.Planning.Planner.SinkOf(a, f.Name)))),
        ];
        if (_templates.Length != 6)
        {
            throw new InvalidOperationException($"expected the shape's six templates, found {_templates.Length}");
        }

        _helpers = new TemplateHelpers(BenchWorkspace.AsOf, TimeZoneInfo.Utc);
        var ruleObject = new ScriptObject { ["id"] = ShapeBench.Rules[0].Id, ["title"] = ShapeBench.Rules[0].Id, ["severity"] = "warning" };
        ruleObject.IsReadOnly = true;
        _shared = new ScriptObject();
        _shared.SetValue("rule", ruleObject, true);
        _shared.SetValue("playbook", new ScriptObject { ["id"] = "shape", ["title"] = "shape" }, true);
        _shared.SetValue("now", BenchWorkspace.AsOf.UtcDateTime, true);
        _helpers.AddTo(_shared);
        _shared.IsReadOnly = true;
        var threshold = HandWritten.Pareto([.. HandWritten.ReadRows(csv).Select(r => r.MonthlyCharges)], 0.8);
        _rows = [.. HandWritten.ReadRows(csv)];
        _rows.ForEach(r => HandWritten.Segment(r, threshold));
        if (ByHand() != Rendered())
        {
            // The same work or no comparison: both make the same six strings (the shape benchmark compares them byte for byte).
            throw new InvalidOperationException($"the templates rendered {Rendered()} characters, the floor {ByHand()}");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Findings, Description = "floor: the six strings built by hand")]
    public int ByHand()
    {
        var length = 0;
        var body = new StringBuilder(512);
        foreach (var row in _rows)
        {
            var days = HandWritten.Today - row.LastContact.DayNumber;
            var monthly = row.MonthlyCharges.ToString(CultureInfo.InvariantCulture);
            length += string.Create(CultureInfo.InvariantCulture, $"{row.CustomerId} ({row.Plan}, {row.Region}): {row.OpenTickets} open tickets, {days} days since contact").Length;
            length += $"cs-{row.Region}@example.com".Length + $"{row.CustomerId} needs a call".Length;
            body.Clear()
                .Append("Hello ").Append(row.Region).Append(" team,\n\n")
                .Append(row.CustomerId).Append(" is on the ").Append(row.Plan).Append(" plan and pays ").Append(monthly).Append(" a month.\n")
                .Append("They have ").Append(row.OpenTickets).Append(" open tickets and ").Append(row.TenureMonths).Append(" months of tenure;\n")
                .Append("we last spoke to them ").Append(days).Append(" days ago.\n\nPlease call them this week.\n");
            length += body.ToString().Length + "http://127.0.0.1:9/hook".Length;
            length += string.Create(CultureInfo.InvariantCulture,
                $"{{\"customer\": \"{JsonEncodedText.Encode(row.CustomerId, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)}\", \"plan\": \"{JsonEncodedText.Encode(row.Plan, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)}\", \"monthly\": {monthly}, \"tickets\": {row.OpenTickets}, \"key\": {(row.Key ? "true" : "false")}, \"rule\": \"{ShapeBench.Rules[0].Id}\"}}").Length;
        }

        return length;
    }

    [Benchmark(OperationsPerInvoke = Findings, Description = "PlaybookRunner: the six templates rendered")]
    public int Rendered()
    {
        var length = 0;
        foreach (var row in _rows)
        {
            var scope = new TemplateScope(new RowValues(row), _shared) { Helpers = _helpers };
            foreach (var (template, sink) in _templates)
            {
                length += TemplateRenderer.Render(template, scope, sink).Length;
            }
        }

        return length;
    }

    /// <summary>A customer's values by slot, as the planner reads a record's: the boxed values a template sees.</summary>
    private sealed class RowValues(Row row) : IFindingValues
    {
        private static readonly string[] Names = ["customer_id", "plan", "region", "tenure_months", "monthly_charges", "last_contact", "open_tickets", "key"];

        public object Layout => Names;

        public bool TryGet(string name, out object? value)
        {
            var slot = Slot(name);
            value = slot >= 0 ? At(slot) : null;
            return slot >= 0;
        }

        public int Slot(string name) => Array.IndexOf(Names, name);

        public object? At(int slot) => slot switch
        {
            0 => row.CustomerId,
            1 => row.Plan,
            2 => row.Region,
            3 => row.TenureMonths,
            4 => row.MonthlyCharges,
            5 => row.LastContact.ToDateTime(TimeOnly.MinValue),
            6 => row.OpenTickets,
            _ => row.Key,
        };

        public ScriptObject Build()
        {
            var values = new ScriptObject();
            for (var slot = 0; slot < Names.Length; slot++)
            {
                values.SetValue(Names[slot], At(slot), false);
            }

            return values;
        }
    }
}
