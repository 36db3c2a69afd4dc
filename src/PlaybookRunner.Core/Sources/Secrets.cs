using System.Text.RegularExpressions;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Sources;

/// <summary>
/// Resolves <c>${env:NAME}</c> in option values when they are used, and remembers every resolved value
/// so that messages can be scrubbed of them before they reach output, logs or the store.
/// </summary>
internal sealed partial class Secrets
{
    private readonly HashSet<string> _resolved = new(StringComparer.Ordinal);
    private readonly Func<string, string?> _environment;

    /// <summary>Secrets from the operator's environment, for the names the operator allows (<see cref="SecretPolicy"/>) only.</summary>
    public Secrets(HostContext host)
    {
        var policy = SecretPolicy.Of(host);
        _environment = name => policy.Allows(name) ? host.Variable(name) : null;
    }

    /// <param name="environment">Where values come from, every name allowed (tests).</param>
    public Secrets(Func<string, string?> environment) => _environment = environment;

    [GeneratedRegex(@"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", RegexOptions.CultureInvariant)]
    private static partial Regex Reference();

    /// <summary>True when the text refers to an environment variable.</summary>
    public static bool HasReference(string text) => Reference().IsMatch(text);

    /// <summary>Replaces every reference; returns false with the first missing variable's name.</summary>
    public bool TryResolve(string text, out string resolved, out string? missing)
    {
        string? firstMissing = null;
        resolved = Reference().Replace(text, m =>
        {
            var value = _environment(m.Groups[1].Value);
            if (value is null)
            {
                firstMissing ??= m.Groups[1].Value;
                return "";
            }

            if (value.Length > 0)
            {
                lock (_resolved)
                {
                    _resolved.Add(value);
                }
            }

            return value;
        });
        missing = firstMissing;
        return missing is null;
    }

    /// <summary>
    /// The text with every resolved secret replaced by <c>***</c>, in any letter case (a server that
    /// upper-cases what it echoes must not reveal a token either).
    /// </summary>
    public string Scrub(string text)
    {
        lock (_resolved)
        {
            foreach (var secret in _resolved.OrderByDescending(s => s.Length))
            {
                text = text.Replace(secret, "***", StringComparison.OrdinalIgnoreCase);
            }
        }

        return text;
    }
}
