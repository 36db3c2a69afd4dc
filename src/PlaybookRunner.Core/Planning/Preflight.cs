using System.Globalization;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// What <c>run</c> would certainly fail on for reasons outside any one finding, found while planning: a
/// channel that pending actions need whose <c>${env:...}</c> is unset (or not allowed, so it resolves as
/// unset). One error at the channel, with the actions it affects counted. The per-finding checks (bodies,
/// URLs, recipients, headers, paths) are in <see cref="Planner"/>.
/// </summary>
internal static class Preflight
{
    public static IReadOnlyList<Diagnostic> ChannelSecrets(Plan plan, WorkspaceDefinition workspace)
    {
        var needed = PendingActions.Of(plan).ByChannel;
        var result = new List<Diagnostic>();
        var secrets = new Secrets(workspace.Host);
        foreach (var (name, count) in needed.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!workspace.Channels.TryGetValue(name, out var channel))
            {
                continue;
            }

            foreach (var value in channel.Settings.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Value).Where(Secrets.HasReference))
            {
                if (!secrets.TryResolve(value, out _, out var missing))
                {
                    result.Add(Diagnostic.Create(DiagnosticDescriptors.ChannelSecretUnset, channel.Location, name, missing!, count.ToString(CultureInfo.InvariantCulture)));
                    break;
                }
            }
        }

        return result;
    }
}
