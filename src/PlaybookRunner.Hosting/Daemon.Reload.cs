using PlaybookRunner.Core.Planning;
using PlaybookRunner.Core;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Hosting;

/// <summary>One loaded version of the workspace: compiled, with its schedules and the fingerprint of the files it came from.</summary>
internal sealed record DaemonVersion(Prepared Prepared, IReadOnlyList<ScheduledUnit> Units, string Fingerprint);

internal sealed partial class Daemon
{
    private string? _rejectedFingerprint;

    /// <summary>A handle to the load context of the version the last reload replaced (tests check it is collected).</summary>
    internal WeakReference? LastUnloaded { get; private set; }

    /// <summary>
    /// Loads the workspace again when its files changed. A playbook file whose new version does not
    /// validate keeps its last good version (and the others load); when runner.yaml or suppressions.yaml
    /// do not validate, the whole last good version keeps running. Rejections are logged with their
    /// diagnostics. The replaced version's compiled rules are unloaded. True when a version is running.
    /// </summary>
    public bool Reload(DateTimeOffset now)
    {
        var fingerprint = Fingerprint();
        if (_current is not null && (fingerprint == _current.Fingerprint || fingerprint == _rejectedFingerprint))
        {
            return true;
        }

        var diagnostics = new DiagnosticBag();
        var workspace = WorkspaceLoader.Load(_paths, _host, diagnostics);
        var rejected = diagnostics.Items.Where(d => d.IsError).ToList();
        Prepared? prepared = null;
        var kept = new List<string>();
        if (_current is null)
        {
            prepared = PrepareChecked(workspace, diagnostics, now);
            rejected = [.. diagnostics.Items.Where(d => d.IsError)];
        }
        else if (workspace is not null && rejected.All(IsPlaybookFile))
        {
            // Broken playbook files keep their last good version; then compile, and once more if the
            // compiler blames further files.
            var broken = rejected.Select(d => d.Location.Path).ToHashSet(StringComparer.Ordinal);
            for (var round = 0; round < 2 && prepared is null; round++)
            {
                var merged = Merge(workspace, _current.Prepared.Workspace, broken, kept);
                var compile = new DiagnosticBag();
                prepared = PrepareChecked(merged, compile, now);
                var errors = compile.Items.Where(d => d.IsError).ToList();
                rejected.AddRange(errors);
                if (prepared is null && (errors.Count == 0 || !errors.All(IsPlaybookFile)))
                {
                    break;
                }

                broken.UnionWith(errors.Select(d => d.Location.Path));
            }
        }

        if (prepared is not null && kept.Count > 0 && Options.Worker is not null && !Rebuilds(prepared.Workspace, now, rejected))
        {
            // A kept playbook was checked against the old runner.yaml; the worker rebuilds the version
            // from its files with the new one. When that fails, the whole edit is rejected.
            prepared.Compiled?.Unload();
            prepared = null;
        }

        if (prepared is null)
        {
            Reject(fingerprint, rejected, prepared);
            return _current is not null;
        }

        var old = _current;
        _current = new DaemonVersion(prepared, ScheduledUnit.From(prepared.Workspace, Unscheduled), fingerprint);
        if (old is null)
        {
            // The first load found runner.yaml, which the fingerprint covers from now on.
            _current = _current with { Fingerprint = Fingerprint() };
        }

        RejectedDiagnostics = rejected;
        _rejectedFingerprint = null;
        if (old is not null)
        {
            LastUnloaded = old.Prepared.Compiled?.Unload();
            foreach (var removed in _nextDue.Keys.Where(k => !_current.Units.Any(u => u.Identity == k)).ToList())
            {
                _nextDue.Remove(removed);
            }

            foreach (var unit in _current.Units.Where(u => !_nextDue.ContainsKey(u.Identity)))
            {
                _nextDue[unit.Identity] = unit.NextAfter(now);
            }

            if (rejected.Count == 0)
            {
                // An edit with a rejected file is counted and logged as rejected (below), not as loaded.
                Metrics.Reload(loaded: true);
                _logger.LogInformation("Reloaded the playbooks: {Playbooks} playbooks, {Schedules} schedules", prepared.Workspace.Playbooks.Count, _current.Units.Count);
            }
        }

        if (rejected.Count > 0)
        {
            Metrics.Reload(loaded: false);
            LogRejected(rejected, kept.Count > 0 ? $"kept the last good version of {string.Join(", ", kept)}" : "the files in error are not running");
        }

        return true;
    }

    /// <summary>
    /// Compiles and loads a version; an edit (every load after the first) with the evaluation worker only
    /// after the worker loaded and compiled it, so an edit that would hang or crash the compiler takes down
    /// a worker, never the daemon, and the daemon's own load is a compile-cache hit: Roslyn never runs in
    /// it on an edit. The first load is what the operator started the daemon on, checked like `validate`.
    /// </summary>
    private Prepared? PrepareChecked(WorkspaceDefinition? workspace, DiagnosticBag diagnostics, DateTimeOffset now)
    {
        if (_current is not null && workspace is not null && Options.Worker is { } worker && !diagnostics.HasErrors)
        {
            var check = new DiagnosticBag();
            var ok = EvaluationWorker.CheckAsync(worker, workspace, _secrets, check, CancellationToken.None).GetAwaiter().GetResult();
            if (!ok)
            {
                diagnostics.AddRange(check.Items);
                return null;
            }
        }

        return PlaybookEngine.Prepare(workspace, diagnostics, now, load: true);
    }

    /// <summary>True when the evaluation worker can rebuild <paramref name="workspace"/> from its files; otherwise the reasons go to <paramref name="rejected"/>.</summary>
    private static bool Rebuilds(WorkspaceDefinition workspace, DateTimeOffset now, List<Diagnostic> rejected)
    {
        var diagnostics = new DiagnosticBag();
        var rebuilt = WorkspaceLoader.Load(WorkspaceSnapshot.Of(workspace), workspace.Host, diagnostics);
        if (!diagnostics.HasErrors)
        {
            PlaybookEngine.Prepare(rebuilt, diagnostics, now, load: false);
        }

        rejected.AddRange(diagnostics.Items.Where(d => d.IsError));
        return !diagnostics.HasErrors;
    }

    private void Reject(string fingerprint, IReadOnlyList<Diagnostic> rejected, Prepared? prepared)
    {
        if (prepared?.Compiled is { } unused)
        {
            unused.Unload();
        }

        _rejectedFingerprint = fingerprint;
        RejectedDiagnostics = rejected;
        if (_current is null)
        {
            LogRejected(rejected, "nothing to run");
            return;
        }

        Metrics.Reload(loaded: false);
        LogRejected(rejected, "the last good version keeps running");
    }

    private void LogRejected(IReadOnlyList<Diagnostic> rejected, string consequence)
    {
        // One log line per diagnostic, each with its path relative to the working folder, as validate prints it.
        _logger.LogError("The playbooks do not validate ({Errors} errors); {Consequence}", rejected.Count, consequence);
        foreach (var diagnostic in DiagnosticBag.Sort(rejected))
        {
            _logger.LogError("{Diagnostic}", DiagnosticFormatter.FormatText(diagnostic, Directory.GetCurrentDirectory()));
        }
    }

    private bool IsPlaybookFile(Diagnostic diagnostic) =>
        diagnostic.Location.Path.Length > 0 && _current!.Prepared.Workspace.Playbooks.Any(p => p.Path == diagnostic.Location.Path)
        || (diagnostic.Location.Path.EndsWith(".yaml", StringComparison.Ordinal) || diagnostic.Location.Path.EndsWith(".yml", StringComparison.Ordinal))
            && Path.GetFileName(diagnostic.Location.Path) is not (WorkspaceLoader.RunnerFileName or "suppressions.yaml");

    /// <summary>The new workspace with each broken file's playbook replaced by its last good version (if it had one).</summary>
    private static WorkspaceDefinition Merge(WorkspaceDefinition fresh, WorkspaceDefinition good, IReadOnlySet<string> broken, List<string> kept)
    {
        kept.Clear();
        var playbooks = fresh.Playbooks.Where(p => !broken.Contains(p.Path)).ToList();
        foreach (var old in good.Playbooks.Where(p => broken.Contains(p.Path)))
        {
            if (playbooks.Any(p => p.Id == old.Id))
            {
                continue;
            }

            // A source named in runner.yaml is taken from the new runner.yaml, so that all playbooks share it.
            var source = good.Sources.TryGetValue(old.Source.Name, out var named) && ReferenceEquals(named, old.Source) && fresh.Sources.TryGetValue(old.Source.Name, out var current)
                ? current
                : old.Source;
            playbooks.Add(old with { Source = source });
            kept.Add(old.Id);
        }

        // The worker is handed these bytes: a kept playbook's are those of its last good version.
        var files = new Dictionary<string, byte[]>(fresh.Files, StringComparer.Ordinal);
        foreach (var path in kept.Select(id => playbooks.First(p => p.Id == id).Path))
        {
            files[path] = good.Files[path];
        }

        return fresh with { Playbooks = [.. playbooks.OrderBy(p => p.Path, StringComparer.Ordinal)], Files = files };
    }

    private void Unscheduled(PlaybookDefinition playbook, IReadOnlyList<string> rules) =>
        _logger.LogWarning("{Path}: playbook {Playbook} has no schedule for rules {Rules}; the daemon does not run them", playbook.Path, playbook.Id, string.Join(", ", rules));

    /// <summary>A hash of every YAML file the workspace is made of (playbooks, runner.yaml, suppressions.yaml).</summary>
    private string Fingerprint()
    {
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var raw in _paths)
        {
            var path = Path.GetFullPath(raw);
            if (Directory.Exists(path))
            {
                files.UnionWith(WorkspacePaths.Files(path, f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal)));
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
        }

        if (_current?.Prepared.Workspace.RunnerPath is { } runner)
        {
            files.Add(runner);
            files.Add(Path.Combine(Path.GetDirectoryName(runner)!, "suppressions.yaml"));
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(file + "\0"));
            try
            {
                hash.AppendData(File.ReadAllBytes(file));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                hash.AppendData("missing"u8);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
