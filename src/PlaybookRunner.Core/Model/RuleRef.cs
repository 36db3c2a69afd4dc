namespace PlaybookRunner.Core.Model;

/// <summary>
/// A rule named across a workspace: <c>playbook/rule</c>, or <c>playbook/*</c> for every rule of a playbook
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

    /// <summary>True when this names <paramref name="rule"/> of <paramref name="playbook"/>.</summary>
    public bool Matches(string playbook, string rule) => Playbook == playbook && (IsWholePlaybook || Rule == rule);

    /// <summary><c>playbook/rule</c>.</summary>
    public override string ToString() => $"{Playbook}/{Rule}";
}
