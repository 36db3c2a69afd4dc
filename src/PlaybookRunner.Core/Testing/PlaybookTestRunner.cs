using System.Diagnostics;
using System.Globalization;
using PlaybookRunner.Abstractions;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Core.Sources;
using PlaybookRunner.Core.Yaml;

namespace PlaybookRunner.Core.Testing;

/// <summary>
/// Runs playbook tests against the compiled workspace: the test's records replace the playbook's
/// source and the related records they carry its related sources (empty otherwise), its history replaces the state store, and the evaluation is
/// the one <c>plan</c> does, suppressions and severity overrides included.
/// </summary>
internal static class PlaybookTestRunner
{
    public static async Task<TestCaseResult> RunAsync(Prepared prepared, PlaybookTest test, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var failures = new DiagnosticBag();
        var unit = prepared.Compiled!.Playbooks.FirstOrDefault(p => p.Definition.Id == test.Playbook);
        if (unit is null)
        {
            var known = string.Join(", ", prepared.Workspace.Playbooks.Select(p => p.Id).Order(StringComparer.Ordinal));
            failures.Add(DiagnosticDescriptors.TestUnknownTarget, test.PlaybookLocation, $"Test '{test.Name}': no playbook '{test.Playbook}' (playbooks: {known})");
            return Result(test, failures, started);
        }

        var playbook = unit.Definition;
        var (rows, relatedRows) = Rows(test, playbook.Source, prepared.Workspace, failures);
        var history = new TestHistory();
        foreach (var entry in test.History)
        {
            var (playbookId, ruleId) = entry.Rule.Contains('/', StringComparison.Ordinal)
                ? (entry.Rule[..entry.Rule.IndexOf('/', StringComparison.Ordinal)], entry.Rule[(entry.Rule.IndexOf('/', StringComparison.Ordinal) + 1)..])
                : (playbook.Id, entry.Rule);
            if (!prepared.Workspace.Playbooks.Any(p => p.Id == playbookId && p.Rules.Any(r => r.Id == ruleId)))
            {
                failures.Add(DiagnosticDescriptors.TestUnknownTarget, entry.Location, $"Test '{test.Name}': history names rule '{entry.Rule}', which does not exist");
                continue;
            }

            history.Add(playbookId, ruleId, entry.Key, entry.At, entry.HeldSince);
        }

        foreach (var expectation in test.Expect.Where(e => !playbook.Rules.Any(r => r.Id == e.Rule)))
        {
            failures.Add(DiagnosticDescriptors.TestUnknownTarget, expectation.RuleLocation,
                $"Test '{test.Name}': playbook '{playbook.Id}' has no rule '{expectation.Rule}' (rules: {string.Join(", ", playbook.Rules.Select(r => r.Id))}){YamlSchemaValidator.Suggest(expectation.Rule, playbook.Rules.Select(r => r.Id))}");
        }

        if (failures.HasErrors)
        {
            return Result(test, failures, started);
        }

        var evaluation = new DiagnosticBag();
        var plan = await Planner.PlanAsync(prepared.Compiled, test.AsOf, history, prepared.Catalog, new Secrets(prepared.Workspace.Host), evaluation, cancellationToken,
            new PlanScope(playbook.Id, playbook.Rules.Select(r => r.Id).ToHashSet(StringComparer.Ordinal)),
            source => ReferenceEquals(source, playbook.Source) ? rows : relatedRows.TryGetValue(source.Name, out var related) ? related : []);
        if (plan is null)
        {
            foreach (var diagnostic in evaluation.Items.Where(d => d.IsError))
            {
                failures.Add(DiagnosticDescriptors.TestFailed, test.Location, test.Name, $"the playbook could not be evaluated: {diagnostic.Message}");
            }

            return Result(test, failures, started);
        }

        foreach (var expectation in test.Expect)
        {
            Check(test, expectation, plan, failures, prepared.Workspace, playbook);
        }

        foreach (var expected in test.Digests)
        {
            CheckDigest(test, expected, plan, failures);
        }

        return Result(test, failures, started);
    }

    private static TestCaseResult Result(PlaybookTest test, DiagnosticBag failures, long started) =>
        new(test.File, test.Name, test.Location.Line, failures.Items, Stopwatch.GetElapsedTime(started));

    private static void Check(PlaybookTest test, Expectation expectation, Plan plan, DiagnosticBag failures, WorkspaceDefinition workspace, PlaybookDefinition playbook)
    {
        if (expectation.Resolves is { } expected)
        {
            CheckResolution(test, expectation, expected, plan, failures, playbook);
            return;
        }

        var finding = plan.Findings.FirstOrDefault(f => f.Rule == expectation.Rule && f.Key == expectation.Key && !f.IsResolution);
        var fires = finding?.IsPending ?? false;
        var subject = $"rule {expectation.Rule} for key {expectation.Key}";
        if (fires != expectation.Fires)
        {
            var actual = finding switch
            {
                { IsPending: true } => $"it fires (message: {finding.Message})",
                { Suppressed: true } => $"it is suppressed ({finding.Justification})",
                { WaitingUntil: { } firesAt } => $"it is waiting: its condition holds since {DateFormats.FormatInstant(finding.PendingSince!.Value)}, and fires {DateFormats.FormatInstant(firesAt)} if it still holds (for:)",
                { InhibitedBy: { } inhibitor } => $"it is inhibited by rule '{inhibitor}', which fires too",
                { HeldBackUntil: { } until } => $"it is held back by its cooldown until {DateFormats.FormatInstant(until)}",
                { Deferred: { } deferred } => $"it is deferred by the {deferred.By} throttle (number {deferred.Place} in its queue)",
                _ when playbook.Rules.FirstOrDefault(r => r.Id == expectation.Rule) is { } rule && Planner.EffectiveSeverity(workspace, playbook, rule) is null
                    => "it does not: the rule is turned off by severity_overrides (none) in runner.yaml",
                _ => plan.Errors.FirstOrDefault(e => e.Rule == expectation.Rule && e.Key == expectation.Key) is { } error
                    ? $"it does not: {error.Message}"
                    : "it does not: the condition is false",
            };
            failures.Add(DiagnosticDescriptors.TestFailed, expectation.Location, test.Name,
                $"{subject}: expected fires: {(expectation.Fires ? "true" : "false")}, but {actual}");
            return;
        }

        if (finding is null || !fires)
        {
            return;
        }

        CheckRendered(test, expectation, finding, subject, failures);
    }

    /// <summary>A <c>resolves:</c> expectation: whether the rule's resolution runs for the key, and what it renders.</summary>
    private static void CheckResolution(PlaybookTest test, Expectation expectation, bool expected, Plan plan, DiagnosticBag failures, PlaybookDefinition playbook)
    {
        var subject = $"rule {expectation.Rule} for key {expectation.Key}";
        var resolution = plan.Findings.FirstOrDefault(f => f.Rule == expectation.Rule && f.Key == expectation.Key && f.IsResolution);
        var resolves = resolution?.IsPending ?? false;
        if (resolves != expected)
        {
            var holds = plan.Findings.FirstOrDefault(f => f.Rule == expectation.Rule && f.Key == expectation.Key && !f.IsResolution);
            var actual = resolution switch
            {
                { IsPending: true } => $"it resolves (message: {resolution.Message})",
                { Suppressed: true } => $"its resolution is suppressed ({resolution.Justification})",
                _ when playbook.Rules.FirstOrDefault(r => r.Id == expectation.Rule) is { OnResolve: null } => "it does not: the rule has no on_resolve",
                _ when holds is not null => "it does not: the condition still holds",
                _ => plan.Errors.FirstOrDefault(e => e.Rule == expectation.Rule && e.Key == expectation.Key) is { } error
                    ? $"it does not: {error.Message}"
                    : "it does not: the rule did not fire during a hold of its condition (give the firing in history: with at:)",
            };
            failures.Add(DiagnosticDescriptors.TestFailed, expectation.Location, test.Name,
                $"{subject}: expected resolves: {(expected ? "true" : "false")}, but {actual}");
            return;
        }

        if (resolution is { IsPending: true })
        {
            CheckRendered(test, expectation, resolution, subject, failures);
        }
    }

    /// <summary>A <c>digests:</c> expectation: the digest's action for the group exists, lists the keys given, and renders as expected.</summary>
    private static void CheckDigest(PlaybookTest test, DigestExpectation expected, Plan plan, DiagnosticBag failures)
    {
        var subject = $"digest {expected.Digest} for {expected.Group}";
        if (plan.Digests.FirstOrDefault(d => d.Name == expected.Digest && d.Group == expected.Group) is not { } digest)
        {
            var groups = plan.Digests.Where(d => d.Name == expected.Digest).Select(d => d.Group).ToList();
            failures.Add(DiagnosticDescriptors.TestFailed, expected.Location, test.Name,
                $"{subject}: expected its action, but there is none ({(groups.Count == 0 ? "no finding joined the digest" : $"its groups: {string.Join(", ", groups)}")})");
            return;
        }

        var keys = digest.Findings.Select(f => f.Key).ToList();
        if (expected.Keys is { } wanted && !wanted.SequenceEqual(keys, StringComparer.Ordinal))
        {
            failures.Add(DiagnosticDescriptors.TestFailed, expected.Location, test.Name, $"{subject}: expected it to list {string.Join(", ", wanted)}, but it lists {string.Join(", ", keys)}");
        }

        var asFinding = new PlannedFinding(expected.Digest, expected.Digest, -1, expected.Group, digest.Severity, null, false, [digest.Action]);
        CheckRendered(test, new Expectation(expected.Digest, expected.Group, true, null, expected.Actions, expected.Location, expected.Location), asFinding, subject, failures);
    }

    /// <summary>The message and actions of a finding or resolution that runs, against the expectation's checks.</summary>
    private static void CheckRendered(PlaybookTest test, Expectation expectation, PlannedFinding finding, string subject, DiagnosticBag failures)
    {
        if (expectation.MessageContains is { } text && !(finding.Message ?? "").Contains(text, StringComparison.Ordinal))
        {
            failures.Add(DiagnosticDescriptors.TestFailed, expectation.Location, test.Name, $"{subject}: expected the message to contain {Quote(text)}, but it is {Quote(finding.Message ?? "")}");
        }

        for (var i = 0; i < (expectation.Actions?.Count ?? 0); i++)
        {
            var expected = expectation.Actions![i];
            if (i >= finding.Actions.Count)
            {
                failures.Add(DiagnosticDescriptors.TestFailed, expected.Location, test.Name, $"{subject}: expected action {i + 1} ({expected.Type}), but the rule has {finding.Actions.Count} actions");
                continue;
            }

            var actual = finding.Actions[i];
            if (actual.Type != expected.Type)
            {
                failures.Add(DiagnosticDescriptors.TestFailed, expected.Location, test.Name, $"{subject}: expected action {i + 1} to be {expected.Type}, but it is {actual.Type}");
                continue;
            }

            foreach (var field in expected.Fields)
            {
                var value = actual.Fields.FirstOrDefault(f => f.Name == field.Field) is { } f ? f.Text ?? (f.Flag is { } flag ? (flag ? "true" : "false") : null) : null;
                if (value is null)
                {
                    failures.Add(DiagnosticDescriptors.TestFailed, field.Location, test.Name,
                        $"{subject}: action {i + 1} ({actual.Type}) has no field '{field.Field}' (fields: {string.Join(", ", actual.Fields.Select(a => a.Name))})");
                }
                else if (field.Contains ? !value.Contains(field.Value, StringComparison.Ordinal) : value != field.Value)
                {
                    failures.Add(DiagnosticDescriptors.TestFailed, field.Location, test.Name,
                        $"{subject}: action {i + 1} ({actual.Type}) field '{field.Field}': expected {(field.Contains ? "to contain " : "")}{Quote(field.Value)}, actual {Quote(value)}");
                }
            }
        }
    }

    /// <summary>
    /// The test's records as typed rows of the source, in declared field order; and the related records each carries
    /// under a <c>related:</c> name of the source, as rows of the related source, their join field filled with the
    /// record's key when they leave it out.
    /// </summary>
    private static (List<SourceRow> Rows, Dictionary<string, List<SourceRow>> Related) Rows(PlaybookTest test, SourceDefinition source, WorkspaceDefinition workspace, DiagnosticBag failures)
    {
        var rows = new List<SourceRow>();
        var related = new Dictionary<string, List<SourceRow>>(StringComparer.Ordinal);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (var r = 0; r < test.Records.Count; r++)
        {
            var record = test.Records[r];
            var prefix = $"Test '{test.Name}', record {(r + 1).ToString(CultureInfo.InvariantCulture)}";
            foreach (var entry in record.Entries.Where(e => !source.Fields.Any(f => f.Name == e.Key.Value) && !source.Related.Any(x => x.Name == e.Key.Value)))
            {
                var lists = source.Related.Count == 0 ? "" : $"; related lists: {string.Join(", ", source.Related.Select(x => x.Name))}";
                failures.Add(DiagnosticDescriptors.TestBadRecord, entry.Key.Location,
                    $"{prefix}: '{entry.Key.Value}' is not a field of source '{source.Name}' (fields: {string.Join(", ", source.Fields.Select(f => f.Name))}{lists})");
            }

            var values = Typed(record, source, prefix, null, failures);
            var keyField = source.Fields.ToList().FindIndex(f => f.Name == source.Key);
            var key = keyField < 0 ? "" : values[keyField] is { } k ? Convert.ToString(k, CultureInfo.InvariantCulture) ?? "" : "";
            if (keyField >= 0 && !keys.Add(key))
            {
                failures.Add(DiagnosticDescriptors.TestBadRecord, record.Location, $"{prefix}: key '{key}' appears twice");
            }

            rows.Add(new SourceRow(values, r + 1, record.Location.Line));
            foreach (var link in source.Related.Where(x => record[x.Name] is not null))
            {
                if (record[link.Name] is not YamlSequence items || items.Items.Any(i => i is not YamlMapping) || !workspace.Sources.TryGetValue(link.Source, out var target))
                {
                    failures.Add(DiagnosticDescriptors.TestBadRecord, record[link.Name]!.Location, $"{prefix}: related list '{link.Name}' must be a list of records of source '{link.Source}'");
                    continue;
                }

                AddRelated(items, target, $"{prefix}, {link.Name}", (link.Key, key), related, failures);
            }
        }

        // Related sources given once for the test: their records are joined to the test's records by their join field.
        foreach (var (name, node) in test.Sources)
        {
            var link = source.Related.FirstOrDefault(x => x.Source == name.Value);
            if (link is null || !workspace.Sources.TryGetValue(name.Value, out var target))
            {
                var known = source.Related.Count == 0 ? "it has none" : $"its related sources: {string.Join(", ", source.Related.Select(x => x.Source))}";
                failures.Add(DiagnosticDescriptors.TestBadRecord, name.Location, $"Test '{test.Name}': '{name.Value}' is not a related source of source '{source.Name}' ({known})");
                continue;
            }

            // tests.schema.json makes it a list of records (mappings).
            AddRelated((YamlSequence)node, target, $"Test '{test.Name}', source '{name.Value}' record", null, related, failures);
        }

        return (rows, related);
    }

    /// <summary>
    /// Related records as rows of <paramref name="target"/>, each checked like a record (an unknown field, a wrong value: PB6003
    /// at its position); <paramref name="join"/> fills a join field left out with the record's key.
    /// </summary>
    private static void AddRelated(YamlSequence items, SourceDefinition target, string prefix, (string Field, string Key)? join, Dictionary<string, List<SourceRow>> related, DiagnosticBag failures)
    {
        if (!related.TryGetValue(target.Name, out var list))
        {
            related[target.Name] = list = [];
        }

        foreach (var (item, n) in items.Items.Cast<YamlMapping>().Select((item, n) => (item, n)))
        {
            var itemPrefix = $"{prefix} {(n + 1).ToString(CultureInfo.InvariantCulture)}";
            foreach (var entry in item.Entries.Where(e => !target.Fields.Any(f => f.Name == e.Key.Value)))
            {
                failures.Add(DiagnosticDescriptors.TestBadRecord, entry.Key.Location,
                    $"{itemPrefix}: '{entry.Key.Value}' is not a field of source '{target.Name}' (fields: {string.Join(", ", target.Fields.Select(f => f.Name))})");
            }

            list.Add(new SourceRow(Typed(item, target, itemPrefix, join, failures), list.Count + 1, item.Location.Line));
        }
    }

    /// <summary>One test record's fields typed as <paramref name="source"/> declares them; <paramref name="join"/> fills a missing join field.</summary>
    private static object?[] Typed(YamlMapping record, SourceDefinition source, string prefix, (string Field, string Key)? join, DiagnosticBag failures)
    {
        var values = new object?[source.Fields.Count];
        for (var i = 0; i < source.Fields.Count; i++)
        {
            var field = source.Fields[i];
            var node = record[field.Name];
            object? value = null;
            var problem = "";
            var ok = node switch
            {
                null when join is { } j && j.Field == field.Name => FieldParser.TryParse(j.Key, field.Type, source.TimeZone, out value, out problem),
                null or YamlScalar { IsNull: true } => field.Type.IsNullable || Fail("is missing", out problem),
                YamlSequence list when field.Type.Kind == FieldKind.StringArray && list.Items.All(n => n is YamlScalar) =>
                    Set([.. list.Items.Cast<YamlScalar>().Select(s => s.Value)], out value, out problem),
                YamlScalar scalar => FieldParser.TryParse(scalar.Value, field.Type, source.TimeZone, out value, out problem),
                _ => Fail($"is {node.Describe()}", out problem),
            };
            if (!ok)
            {
                failures.Add(DiagnosticDescriptors.TestBadRecord, node?.Location ?? record.Location,
                    $"{prefix}: field '{field.Name}' ({field.Type}) {problem}");
            }

            values[i] = value;
        }

        return values;
    }

    /// <summary>A value on one line of a diagnostic: quoted, with line breaks escaped, long text shortened.</summary>
    private static string Quote(string value)
    {
        var escaped = value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);
        return "\"" + (escaped.Length > 300 ? escaped[..300] + "..." : escaped) + "\"";
    }

    private static bool Fail(string message, out string problem)
    {
        problem = message;
        return false;
    }

    private static bool Set(string[] items, out object? value, out string problem)
    {
        value = items;
        problem = "";
        return true;
    }

    /// <summary>A firing history made of the test's history entries.</summary>
    private sealed class TestHistory : IFiringHistory
    {
        private readonly Dictionary<(string, string, string), DateTimeOffset> _last = [];
        private readonly Dictionary<(string, string, string), DateTimeOffset> _since = [];
        private readonly List<(string Playbook, string Rule, DateTimeOffset At)> _all = [];

        public void Add(string playbook, string rule, string key, DateTimeOffset? at, DateTimeOffset? heldSince)
        {
            if (at is { } fired)
            {
                _all.Add((playbook, rule, fired));
                _last[(playbook, rule, key)] = _last.TryGetValue((playbook, rule, key), out var earlier) && earlier > fired ? earlier : fired;
            }

            // A hold starts at held_since, or else at the earliest firing given: the condition held then.
            if ((heldSince ?? at) is { } start)
            {
                _since[(playbook, rule, key)] = _since.TryGetValue((playbook, rule, key), out var before) && before < start ? before : start;
            }
        }

        public DateTimeOffset? LastFired(string playbook, string rule, string key) => _last.TryGetValue((playbook, rule, key), out var at) ? at : null;

        /// <summary>A throttle's per_day counts the test's firings of the rule that day.</summary>
        public int FiredBetween(string playbook, string rule, DateTimeOffset since, DateTimeOffset until) =>
            _all.Count(f => f.Playbook == playbook && f.Rule == rule && f.At >= since && f.At < until);

        /// <summary>A test's history entry is a firing that was delivered.</summary>
        public DateTimeOffset? LastDelivered(string playbook, string rule, string key) => LastFired(playbook, rule, key);

        /// <summary>A test's history entries for a rule are one hold that lasts up to the test's evaluation.</summary>
        public (DateTimeOffset Since, DateTimeOffset? FiredAt)? Holding(string playbook, string rule, string key) =>
            _since.TryGetValue((playbook, rule, key), out var since) ? (since, LastFired(playbook, rule, key)) : null;
    }
}
