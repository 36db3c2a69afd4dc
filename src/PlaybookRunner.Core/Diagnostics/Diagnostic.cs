namespace PlaybookRunner.Core.Diagnostics;

/// <summary>
/// One reported problem, of any phase (loading, compiling, reading data, evaluating, rendering, executing, the
/// command line): a descriptor from the catalogue, where it is, the message made of its arguments, and, when it
/// is about one evaluation, the playbook, rule and customer key it concerns.
/// </summary>
public sealed record Diagnostic(DiagnosticDescriptor Descriptor, SourceLocation Location, DiagnosticSeverity Severity, string Message)
{
    /// <summary>Creates a diagnostic with the descriptor's default severity.</summary>
    public static Diagnostic Create(DiagnosticDescriptor descriptor, SourceLocation location, params object?[] args) =>
        new(descriptor, location, descriptor.DefaultSeverity, descriptor.Format(args))
        {
            Arguments = [.. args.Select(a => SafeText.OneLine(System.Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture) ?? ""))],
        };

    /// <summary>A diagnostic about one evaluation (a condition that threw, a template that failed): its playbook, rule and key.</summary>
    public static Diagnostic About(DiagnosticDescriptor descriptor, string playbook, string? rule, string? key, params object?[] args) =>
        Create(descriptor, SourceLocation.None, args) with { Playbook = playbook, Rule = rule, Key = key };

    /// <summary>The message's arguments, as text (each on one line). Not part of equality: the message is made of them.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>The playbook the diagnostic concerns, when it is about an evaluation.</summary>
    public string? Playbook { get; init; }

    /// <summary>The rule it concerns, when it is about one.</summary>
    public string? Rule { get; init; }

    /// <summary>The customer key it concerns, when it is about one.</summary>
    public string? Key { get; init; }

    /// <summary>
    /// For an error the same for every key it affects (a template run would certainly fail on, at
    /// <see cref="Location"/>): what is wrong, without the key's data, so that writers report it once with the keys counted.
    /// </summary>
    public string? Problem { get; init; }

    /// <summary>The message, on one line: text from data never starts a new line of output (<see cref="SafeText"/>).</summary>
    public string Message { get; init; } = SafeText.OneLine(Message);

    /// <summary>The stable ID, e.g. PB2001.</summary>
    public string Id => Descriptor.Id;

    /// <summary>True for errors.</summary>
    public bool IsError => Severity == DiagnosticSeverity.Error;

    /// <summary>Two diagnostics are the same report when everything but the argument list (a list compares by reference) is equal.</summary>
    public bool Equals(Diagnostic? other) =>
        other is not null && Descriptor == other.Descriptor && Location == other.Location && Severity == other.Severity && Message == other.Message
        && Playbook == other.Playbook && Rule == other.Rule && Key == other.Key && Problem == other.Problem;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Descriptor, Location, Severity, Message, Playbook, Rule, Key, Problem);
}
