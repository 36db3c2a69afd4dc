namespace PlaybookRunner.Core.Model;

/// <summary>
/// A rule named across a workspace: <c>playbook/rule</c>, <c>playbook/*</c> for every rule of a playbook, or a pattern
/// where <c>*</c> stands for any text in either part (<c>*/*</c> every rule of every playbook, <c>key-client-care/renewal-*</c>)
/// (suppressions, <c>run --rule</c>, the plan's findings). Parsed once where it is read, never split again.
/// </summary>
/// <param name="Playbook">The playbook id.</param>
/// <param name="Rule">The rule id, or <c>*</c>.</param>
public readonly record struct RuleRef(string Playbook, string Rule)
{
    /// <summary>True for <c>playbook/*</c>.</summary>
    public bool IsWholePlaybook => Rule == "*";

    /// <summary>Reads <c>playbook/rule</c> or <c>playbook/*</c>; false when the text is not of that form.</summary>
    public static bool TryParse(string text, out RuleRef rule)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        rule = slash > 0 && slash < text.Length - 1 && text.IndexOf('/', slash + 1) < 0 ? new RuleRef(text[..slash], text[(slash + 1)..]) : default;
        return slash > 0 && rule.Playbook is not null;
    }

    /// <summary>True when either part has a <c>*</c> standing for any text.</summary>
    public bool IsPattern => Playbook.Contains('*', StringComparison.Ordinal) || Rule.Contains('*', StringComparison.Ordinal);

    /// <summary>True when this names <paramref name="rule"/> of <paramref name="playbook"/>.</summary>
    public bool Matches(string playbook, string rule) => Glob(Playbook, playbook) && Glob(Rule, rule);

    /// <summary>The playbooks of <paramref name="playbooks"/> with a rule this names (none: it names nothing here).</summary>
    public IEnumerable<PlaybookDefinition> MatchingPlaybooks(IEnumerable<PlaybookDefinition> playbooks)
    {
        var self = this;
        return playbooks.Where(p => p.Rules.Any(r => self.Matches(p.Id, r.Id)));
    }

    /// <summary>Whether <paramref name="text"/> matches <paramref name="pattern"/>, where each <c>*</c> stands for any text (empty too).</summary>
    private static bool Glob(string pattern, string text)
    {
        var parts = pattern.Split('*');
        if (parts.Length == 1)
        {
            return pattern == text;
        }

        if (!text.StartsWith(parts[0], StringComparison.Ordinal) || !text.EndsWith(parts[^1], StringComparison.Ordinal) || text.Length < parts[0].Length + parts[^1].Length)
        {
            return false;
        }

        var at = parts[0].Length;
        var end = text.Length - parts[^1].Length;
        foreach (var middle in parts[1..^1])
        {
            var found = text.IndexOf(middle, at, end - at, StringComparison.Ordinal);
            if (found < 0)
            {
                return false;
            }

            at = found + middle.Length;
        }

        return true;
    }

    /// <summary><c>playbook/rule</c>.</summary>
    public override string ToString() => $"{Playbook}/{Rule}";
}
