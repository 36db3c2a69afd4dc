using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PlaybookRunner.Core.Diagnostics;

/// <summary>Writes diagnostics as text (the MSBuild form), JSON, or SARIF 2.1.0.</summary>
public static partial class DiagnosticFormatter
{
    private static readonly JsonWriterOptions JsonOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// A path as shown to the user: relative to <paramref name="baseDirectory"/> when inside it, with '/'.
    /// A file name is workspace text: its control characters are escaped, and a relative path that would
    /// start a line with ':' (a forged <c>::error</c> workflow command) starts with <c>./</c>.
    /// </summary>
    public static string DisplayPath(string path, string baseDirectory)
    {
        if (path.Length == 0 || baseDirectory.Length == 0)
        {
            // No base (a plan compared with a baseline is written without one): the path as it is.
            return Inert(path.Replace('\\', '/'));
        }

        var relative = Path.GetRelativePath(baseDirectory, path);
        return Inert((relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? path : relative).Replace('\\', '/'));
    }

    private static string Inert(string display) =>
        ParenDigit().Replace(SafeText.OneLine(display.StartsWith(':') ? "./" + display : display), "(\u2060");

    /// <summary>'(' before a digit in a file name: a word joiner after it, so the name cannot hold a forged <c>(line,col)</c>.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"\((?=\d)")]
    private static partial System.Text.RegularExpressions.Regex ParenDigit();

    /// <summary>
    /// A SARIF artifact URI: relative (forward slashes, escaped) under the base directory, which is
    /// where code scanning resolves it; an absolute <c>file://</c> URI for a file outside it.
    /// </summary>
    private static string SarifUri(string path, string baseDirectory)
    {
        var display = DisplayPath(path, baseDirectory);
        return Path.IsPathRooted(display) ? new Uri(Path.GetFullPath(path)).AbsoluteUri : string.Join("/", display.Split('/').Select(Uri.EscapeDataString));
    }

    /// <summary><c>path(line,col): error PB1234: message</c>; without a file, <c>playbook: error PB1234: message</c>.</summary>
    public static string FormatText(Diagnostic diagnostic, string baseDirectory)
    {
        var location = diagnostic.Location;
        var where = location.HasPath
            ? $"{DisplayPath(location.Path, baseDirectory)}({location.Line},{location.Column})"
            : "playbook";
        return $"{where}: {SeverityName(diagnostic.Severity)} {diagnostic.Id}: {diagnostic.Message}";
    }

    public static string SeverityName(DiagnosticSeverity severity) => severity switch
    {
        DiagnosticSeverity.Error => "error",
        DiagnosticSeverity.Warning => "warning",
        _ => "info",
    };

    /// <summary>All diagnostics in canonical order, one per line.</summary>
    public static string WriteText(IEnumerable<Diagnostic> diagnostics, string baseDirectory)
    {
        var builder = new StringBuilder();
        foreach (var diagnostic in DiagnosticBag.Sort(diagnostics))
        {
            builder.Append(FormatText(diagnostic, baseDirectory)).Append('\n');
        }

        return builder.ToString();
    }

    /// <summary>JSON: <c>{ "diagnostics": [ { id, severity, message, file, line, column, endLine, endColumn } ], "errors": n, "warnings": n }</c>.</summary>
    public static string WriteJson(IEnumerable<Diagnostic> diagnostics, string baseDirectory)
    {
        var sorted = DiagnosticBag.Sort(diagnostics);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteStartArray("diagnostics");
            foreach (var d in sorted)
            {
                WriteJsonDiagnostic(json, d, baseDirectory);
            }

            json.WriteEndArray();
            json.WriteNumber("errors", sorted.Count(d => d.Severity == DiagnosticSeverity.Error));
            json.WriteNumber("warnings", sorted.Count(d => d.Severity == DiagnosticSeverity.Warning));
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>Writes one diagnostic as a JSON object.</summary>
    public static void WriteJsonDiagnostic(Utf8JsonWriter json, Diagnostic d, string baseDirectory)
    {
        json.WriteStartObject();
        json.WriteString("id", d.Id);
        json.WriteString("severity", SeverityName(d.Severity));
        json.WriteString("message", d.Message);
        if (d.Location.HasPath)
        {
            WriteJsonLocation(json, d.Location, baseDirectory);
        }

        // About one evaluation: which, and (for an error the same for every key) what is wrong without the key's data.
        foreach (var (name, value) in new[] { ("playbook", d.Playbook), ("rule", d.Rule), ("key", d.Key), ("problem", d.Problem) })
        {
            if (value is not null)
            {
                json.WriteString(name, value);
            }
        }

        json.WriteEndObject();
    }

    /// <summary>Writes where a diagnostic is as members of the current JSON object: <c>file</c>, <c>line</c>, <c>column</c>, <c>endLine</c>, <c>endColumn</c>.</summary>
    public static void WriteJsonLocation(Utf8JsonWriter json, SourceLocation location, string baseDirectory)
    {
        json.WriteString("file", DisplayPath(location.Path, baseDirectory));
        json.WriteNumber("line", location.Line);
        json.WriteNumber("column", location.Column);
        json.WriteNumber("endLine", location.EndLine);
        json.WriteNumber("endColumn", location.EndColumn);
    }

    /// <summary>SARIF 2.1.0 with the full rule catalogue and 1-based regions (endColumn one past the end).</summary>
    public static string WriteSarif(IEnumerable<Diagnostic> diagnostics, string baseDirectory, string toolVersion)
    {
        var sorted = DiagnosticBag.Sort(diagnostics);
        var rules = DiagnosticDescriptors.All;
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("$schema", "https://json.schemastore.org/sarif-2.1.0.json");
            json.WriteString("version", "2.1.0");
            json.WriteStartArray("runs");
            json.WriteStartObject();
            json.WriteStartObject("tool");
            json.WriteStartObject("driver");
            json.WriteString("name", "PlaybookRunner");
            json.WriteString("version", toolVersion);
            json.WriteString("informationUri", "https://playbookrunner.dev/");
            json.WriteStartArray("rules");
            foreach (var rule in rules)
            {
                json.WriteStartObject();
                json.WriteString("id", rule.Id);
                json.WriteString("name", string.Concat(rule.Title.Split(' ').Select(w => w.Length == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..])));
                json.WriteStartObject("shortDescription");
                json.WriteString("text", rule.Title);
                json.WriteEndObject();
                json.WriteStartObject("fullDescription");
                json.WriteString("text", rule.Help);
                json.WriteEndObject();
                json.WriteStartObject("help");
                json.WriteString("text", rule.Help);
                json.WriteEndObject();
                json.WriteStartObject("defaultConfiguration");
                json.WriteString("level", SarifLevel(rule.DefaultSeverity));
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteStartArray("results");
            foreach (var d in sorted)
            {
                json.WriteStartObject();
                json.WriteString("ruleId", d.Id);
                json.WriteNumber("ruleIndex", IndexOf(rules, d.Id));
                json.WriteString("level", SarifLevel(d.Severity));
                json.WriteStartObject("message");
                json.WriteString("text", d.Message);
                json.WriteEndObject();
                if (d.Location.HasPath)
                {
                    json.WriteStartArray("locations");
                    json.WriteStartObject();
                    json.WriteStartObject("physicalLocation");
                    json.WriteStartObject("artifactLocation");
                    json.WriteString("uri", SarifUri(d.Location.Path, baseDirectory));
                    json.WriteEndObject();
                    json.WriteStartObject("region");
                    json.WriteNumber("startLine", d.Location.Line);
                    json.WriteNumber("startColumn", d.Location.Column);
                    json.WriteNumber("endLine", Math.Max(d.Location.EndLine, d.Location.Line));
                    json.WriteNumber("endColumn", d.Location.EndLine > d.Location.Line ? d.Location.EndColumn : Math.Max(d.Location.EndColumn, d.Location.Column + 1));
                    json.WriteEndObject();
                    json.WriteEndObject();
                    json.WriteEndObject();
                    json.WriteEndArray();
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static int IndexOf(IReadOnlyList<DiagnosticDescriptor> rules, string id)
    {
        for (var i = 0; i < rules.Count; i++)
        {
            if (rules[i].Id == id)
            {
                return i;
            }
        }

        return -1;
    }

    private static string SarifLevel(DiagnosticSeverity severity) => severity switch
    {
        DiagnosticSeverity.Error => "error",
        DiagnosticSeverity.Warning => "warning",
        _ => "note",
    };
}
