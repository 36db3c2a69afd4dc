using System.Text.RegularExpressions;

namespace PlaybookRunner.Runtime;

/// <summary>
/// What <c>Regex</c> means in playbook expressions: the static Regex methods, each with a fixed match
/// timeout, so a pathological pattern fails for one record (PB5001) instead of running forever. It does
/// not depend on when the process initialised <see cref="Regex"/>.
/// </summary>
public static class TimedRegex
{
    /// <summary>How long one match may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(250);

    /// <summary>Regex.IsMatch with the fixed timeout.</summary>
    public static bool IsMatch(string input, string pattern, RegexOptions options = RegexOptions.None) => Regex.IsMatch(input, pattern, options, Timeout);

    /// <summary>Regex.Match with the fixed timeout.</summary>
    public static Match Match(string input, string pattern, RegexOptions options = RegexOptions.None) => Regex.Match(input, pattern, options, Timeout);

    /// <summary>Regex.Matches with the fixed timeout.</summary>
    public static MatchCollection Matches(string input, string pattern, RegexOptions options = RegexOptions.None) => Regex.Matches(input, pattern, options, Timeout);

    /// <summary>Regex.Count with the fixed timeout.</summary>
    public static int Count(string input, string pattern, RegexOptions options = RegexOptions.None) => Regex.Count(input, pattern, options, Timeout);

    /// <summary>Regex.Replace with the fixed timeout.</summary>
    public static string Replace(string input, string pattern, string replacement, RegexOptions options = RegexOptions.None) => Regex.Replace(input, pattern, replacement, options, Timeout);

    /// <summary>Regex.Split with the fixed timeout.</summary>
    public static string[] Split(string input, string pattern, RegexOptions options = RegexOptions.None) => Regex.Split(input, pattern, options, Timeout);

    /// <summary>Regex.Escape.</summary>
    public static string Escape(string text) => Regex.Escape(text);

    /// <summary>Regex.Unescape.</summary>
    public static string Unescape(string text) => Regex.Unescape(text);
}
