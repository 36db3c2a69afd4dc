using System.Globalization;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Yaml;

namespace PlaybookRunner.Core.Testing;

/// <summary>Finds and reads *.test.yaml files, checked against the embedded tests.schema.json.</summary>
internal static class PlaybookTestLoader
{
    public static bool IsTestFile(string path) => path.EndsWith(".test.yaml", StringComparison.Ordinal) || path.EndsWith(".test.yml", StringComparison.Ordinal);

    public static IReadOnlyList<string> Find(IReadOnlyList<string> paths)
    {
        var files = new List<string>();
        foreach (var raw in paths)
        {
            var path = Path.GetFullPath(raw);
            if (Directory.Exists(path))
            {
                files.AddRange(Loading.WorkspacePaths.Files(path, IsTestFile));
            }
            else if (File.Exists(path) && IsTestFile(path))
            {
                files.Add(path);
            }
        }

        return [.. files.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    public static IReadOnlyList<PlaybookTest> Load(string file, DiagnosticBag diagnostics)
    {
        if (YamlTreeReader.ReadFile(file, diagnostics) is not { } node
            || !YamlSchemaValidator.ForEmbedded("tests.schema.json").Validate(node, diagnostics))
        {
            return [];
        }

        var tests = new List<PlaybookTest>();
        foreach (var item in ((YamlSequence)((YamlMapping)node)["tests"]!).Items.Cast<YamlMapping>())
        {
            var asOfNode = (YamlScalar)item["as_of"]!;
            if (Instant(asOfNode, diagnostics) is not { } asOf)
            {
                continue;
            }

            var history = new List<HistoryExpectation>();
            foreach (var entry in (item["history"] as YamlSequence)?.Items.Cast<YamlMapping>() ?? [])
            {
                if (entry["at"] is null && entry["held_since"] is null)
                {
                    diagnostics.Add(DiagnosticDescriptors.TestBadEntry, entry.Location, "a history entry needs at (when the rule fired), held_since (since when its condition has held), or both");
                    continue;
                }

                var at = entry["at"] is YamlScalar atText ? Instant(atText, diagnostics) : null;
                var since = entry["held_since"] is YamlScalar sinceText ? Instant(sinceText, diagnostics) : null;
                if ((entry["at"] is null || at is not null) && (entry["held_since"] is null || since is not null))
                {
                    history.Add(new HistoryExpectation(entry.Text("rule")!, entry.Text("key")!, at, entry["rule"]!.Location) { HeldSince = since });
                }
            }

            var expectations = new List<Expectation>();
            foreach (var expectation in ((YamlSequence)item["expect"]!).Items.Cast<YamlMapping>())
            {
                if ((expectation["fires"] is null) == (expectation["resolves"] is null))
                {
                    diagnostics.Add(DiagnosticDescriptors.TestBadEntry, expectation.Location, "an expectation gives exactly one of fires (the rule fires) and resolves (its on_resolve runs)");
                    continue;
                }

                expectations.Add(Expectation(expectation));
            }

            tests.Add(new PlaybookTest(item.Text("name")!, file, item.Location, item.Text("playbook")!, item["playbook"]!.Location, asOf,
                [.. ((YamlSequence)item["records"]!).Items.Cast<YamlMapping>()], history, expectations)
            {
                Sources = item["sources"] is YamlMapping sources ? sources.Entries : [],
                Digests = [.. ((item["digests"] as YamlSequence)?.Items.Cast<YamlMapping>() ?? []).Select(d => new DigestExpectation(
                    d.Text("digest")!, d.Text("group")!,
                    d["keys"] is YamlSequence keys ? [.. keys.Items.OfType<YamlScalar>().Select(k => k.Value)] : null,
                    ActionExpectations(d["actions"]), d.Location))],
            });
        }

        return tests;
    }

    private static Expectation Expectation(YamlMapping map)
    {
        var actions = ActionExpectations(map["actions"]);
        return new Expectation(map.Text("rule")!, map.Text("key")!, map["fires"] is YamlScalar fires && fires.AsBool, map.Text("message_contains"), actions, map.Location, map["rule"]!.Location)
        {
            Resolves = map["resolves"] is YamlScalar resolves ? resolves.AsBool : null,
        };
    }

    /// <summary>Expected actions: each its type and field checks (equals, or contains with the _contains suffix).</summary>
    private static List<ActionExpectation>? ActionExpectations(YamlNode? node)
    {
        List<ActionExpectation>? actions = null;
        if (node is YamlSequence list)
        {
            actions = [];
            foreach (var action in list.Items.Cast<YamlMapping>())
            {
                var fields = action.Entries.Where(e => e.Key.Value != "type").Select(e =>
                {
                    var contains = e.Key.Value.EndsWith("_contains", StringComparison.Ordinal);
                    var name = contains ? e.Key.Value[..^"_contains".Length] : e.Key.Value;
                    return new FieldExpectation(name, ((YamlScalar)e.Value).Value, contains, e.Value.Location);
                });
                actions.Add(new ActionExpectation(action.Text("type")!, [.. fields], action.Location));
            }
        }

        return actions;
    }

    private static DateTimeOffset? Instant(YamlScalar scalar, DiagnosticBag diagnostics)
    {
        if (DateTimeOffset.TryParse(scalar.Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant)
            && scalar.Value.Length >= 10 && char.IsDigit(scalar.Value[0]))
        {
            return instant;
        }

        diagnostics.Add(DiagnosticDescriptors.BadInstant, scalar.Location, scalar.Value);
        return null;
    }
}
