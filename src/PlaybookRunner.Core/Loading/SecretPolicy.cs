using System.Data.Common;
using System.Text.RegularExpressions;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Loading;

/// <summary>
/// Which environment variables a workspace may read through <c>${env:NAME}</c>, and to which hosts each
/// may be sent: the operator's decision, in <c>PLAYBOOK_ALLOWED_ENV</c>, never the workspace's. Entries
/// are separated by commas or spaces; each is a name (or a prefix ending in <c>*</c>), optionally
/// followed by <c>@host</c> or <c>@host:port</c> once or more: <c>CRM_PG_PASSWORD@db.internal,
/// SLACK_TOKEN@hooks.slack.com, CS_*</c>. A name without hosts may go to any host of a credential field.
/// </summary>
internal sealed partial class SecretPolicy
{
    /// <summary>The operator's variable.</summary>
    public const string Variable = "PLAYBOOK_ALLOWED_ENV";

    /// <summary>The settings a secret may be written in: credentials, and the headers of a channel.</summary>
    public static readonly IReadOnlySet<string> CredentialKeys = new HashSet<string>(StringComparer.Ordinal)
    {
        "connection", "token", "password", "user", "username", "signing_secret",
    };

    private readonly List<(string Name, bool Prefix, string[] Hosts)> _entries = [];

    private SecretPolicy(string? text)
    {
        foreach (var entry in (text ?? "").Split([',', ' ', '\t', '\n', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = entry.Split('@', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 0)
            {
                continue;
            }

            var name = parts[0];
            var prefix = name.EndsWith('*');
            _entries.Add((prefix ? name[..^1] : name, prefix, [.. parts.Skip(1).Select(h => h.ToLowerInvariant())]));
        }
    }

    /// <summary>The policy the operator set for the process <paramref name="host"/> describes.</summary>
    public static SecretPolicy Of(HostContext host) => new(host.Variable(Variable));

    /// <summary>A policy from a text in the <see cref="Variable"/> form (tests).</summary>
    public static SecretPolicy Parse(string? text) => new(text);

    /// <summary>True when <paramref name="setting"/> (a key of a source, channel or state) may hold a secret.</summary>
    public static bool IsCredential(string setting) =>
        CredentialKeys.Contains(setting) || setting.StartsWith("headers.", StringComparison.Ordinal);

    /// <summary>The names a text refers to with <c>${env:NAME}</c>.</summary>
    public static IEnumerable<string> References(string text) => Reference().Matches(text).Select(m => m.Groups[1].Value);

    [GeneratedRegex(@"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", RegexOptions.CultureInvariant)]
    private static partial Regex Reference();

    /// <summary>True when the operator allows the workspace to read <paramref name="name"/>.</summary>
    public bool Allows(string name) => Entry(name) is not null;

    /// <summary>The hosts <paramref name="name"/> may be sent to; empty when any.</summary>
    public IReadOnlyList<string> HostsOf(string name) => Entry(name)?.Hosts ?? [];

    /// <summary>The most specific entry for a name: the exact name, else the longest prefix.</summary>
    private (string Name, bool Prefix, string[] Hosts)? Entry(string name) =>
        _entries.Where(e => e.Prefix ? name.StartsWith(e.Name, StringComparison.Ordinal) : name == e.Name)
            .OrderBy(e => e.Prefix).ThenByDescending(e => e.Name.Length)
            .FirstOrDefault() is { Name: not null } found ? found : null;

    /// <summary>
    /// Where a mapping's credentials are sent: the host (and port when written) of its <c>url</c>, of its
    /// <c>host</c> and <c>port</c>, or of the Host/Server in its <c>connection</c>. Null when it cannot be
    /// told without resolving a secret (the operator then wrote the destination too).
    /// </summary>
    public static string? Destination(IReadOnlyDictionary<string, string> settings)
    {
        if (settings.TryGetValue("url", out var url))
        {
            return !References(url).Any() && Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{uri.Host.ToLowerInvariant()}:{uri.Port}" : null;
        }

        if (settings.TryGetValue("host", out var host))
        {
            return References(host).Any() ? null : $"{host.ToLowerInvariant()}:{settings.GetValueOrDefault("port", "")}";
        }

        if (settings.TryGetValue("connection", out var connection) && !(References(connection).Count() == 1 && Reference().Match(connection).Value == connection.Trim()))
        {
            try
            {
                // Every key a provider may read the host from: Npgsql takes Host and Server as one setting
                // and uses the last written, so all of them must agree (and name one host), or the
                // destination cannot be told.
                var hosts = new List<string>();
                var ports = new List<string>();
                foreach (var pair in connection.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var builder = new DbConnectionStringBuilder { ConnectionString = pair };
                    foreach (var key in builder.Keys.Cast<string>())
                    {
                        var value = Convert.ToString(builder[key], System.Globalization.CultureInfo.InvariantCulture) ?? "";
                        var name = key.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant();
                        if (name is "HOST" or "SERVER" or "DATASOURCE" or "ADDRESS" or "ADDR" or "NETWORKADDRESS")
                        {
                            hosts.Add(value.ToLowerInvariant());
                        }
                        else if (name == "PORT")
                        {
                            ports.Add(value);
                        }
                    }
                }

                if (hosts.Distinct().Count() == 1 && ports.Distinct().Count() <= 1 && hosts[0] is var host1
                    && !References(host1).Any() && !host1.Contains(',', StringComparison.Ordinal) && !ports.Any(p => References(p).Any()))
                {
                    return $"{host1}:{ports.FirstOrDefault() ?? ""}";
                }
            }
            catch (ArgumentException)
            {
                // Not a key=value connection string: the check below refuses a bound secret in it.
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="destination"/> (host:port, the port possibly empty) is one of <paramref name="hosts"/>.</summary>
    public static bool Matches(string? destination, IReadOnlyList<string> hosts)
    {
        if (hosts.Count == 0)
        {
            return true;
        }

        if (destination is null)
        {
            return false;
        }

        // A bound host without a port allows any port of it; a bound host:port needs that port written.
        var host = destination[..destination.LastIndexOf(':')];
        return hosts.Any(h => h == destination || h == host);
    }
}
