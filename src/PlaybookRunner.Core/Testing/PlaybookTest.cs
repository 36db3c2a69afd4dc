using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Yaml;

namespace PlaybookRunner.Core.Testing;

/// <summary>One test of a *.test.yaml file (spec section 9).</summary>
internal sealed record PlaybookTest(
    string Name,
    string File,
    SourceLocation Location,
    string Playbook,
    SourceLocation PlaybookLocation,
    DateTimeOffset AsOf,
    IReadOnlyList<YamlMapping> Records,
    IReadOnlyList<HistoryExpectation> History,
    IReadOnlyList<Expectation> Expect)
{
    /// <summary>What the test expects of digests (<c>digests:</c>).</summary>
    public IReadOnlyList<DigestExpectation> Digests { get; init; } = [];

    /// <summary>Related sources given once for the test (<c>sources:</c>): each name with its list of records.</summary>
    public IReadOnlyList<KeyValuePair<YamlScalar, YamlNode>> Sources { get; init; } = [];
}

/// <summary>An earlier firing the test assumes (<c>at</c>), or since when the rule's condition has held (<c>held_since</c>), or both.</summary>
internal sealed record HistoryExpectation(string Rule, string Key, DateTimeOffset? At, SourceLocation Location)
{
    /// <summary><c>held_since</c>: the rule's condition has held for the customer at every evaluation since then.</summary>
    public DateTimeOffset? HeldSince { get; init; }
}

/// <summary>Whether a rule fires for a key (or, with <see cref="Resolves"/>, whether it resolves), and what its actions must hold.</summary>
internal sealed record Expectation(string Rule, string Key, bool Fires, string? MessageContains, IReadOnlyList<ActionExpectation>? Actions, SourceLocation Location, SourceLocation RuleLocation)
{
    /// <summary><c>resolves:</c> instead of <c>fires:</c>: whether the rule's resolution (<c>on_resolve:</c>) runs for the key.</summary>
    public bool? Resolves { get; init; }
}

/// <summary>A digest's action for one group: the keys it lists (when given) and its rendered action's fields.</summary>
internal sealed record DigestExpectation(string Digest, string Group, IReadOnlyList<string>? Keys, IReadOnlyList<ActionExpectation>? Actions, SourceLocation Location);

/// <summary>One expected action: its type and field checks (equals, or contains with the _contains suffix).</summary>
internal sealed record ActionExpectation(string Type, IReadOnlyList<FieldExpectation> Fields, SourceLocation Location);

/// <summary>One field check of an expected action.</summary>
internal sealed record FieldExpectation(string Field, string Value, bool Contains, SourceLocation Location);

/// <summary>How one test went: its failures (empty when it passed).</summary>
public sealed record TestCaseResult(string File, string Name, int Line, IReadOnlyList<Diagnostic> Failures, TimeSpan Duration)
{
    /// <summary>True when every expectation held.</summary>
    public bool Passed => Failures.Count == 0;
}

/// <summary>The outcome of <c>playbook test</c>.</summary>
/// <param name="Tests">Every test that ran, in file and file order.</param>
/// <param name="Diagnostics">Problems outside any one test (files that do not load, playbooks that do not compile).</param>
/// <param name="Rules">Every rule of the workspace, as playbook/rule.</param>
/// <param name="UncoveredRules">The rules no expectation names.</param>
public sealed record TestRunResult(IReadOnlyList<TestCaseResult> Tests, IReadOnlyList<Diagnostic> Diagnostics, IReadOnlyList<string> Rules, IReadOnlyList<string> UncoveredRules)
{
    /// <summary>True when there were tests, all passed, and nothing is an error.</summary>
    public bool Success => Tests.Count > 0 && Tests.All(t => t.Passed) && !Diagnostics.Any(d => d.IsError);
}
