using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Compilation;

/// <summary>
/// Generated assemblies kept on disk, keyed by a hash of everything that affects them: the expressions
/// and where they are written (for <c>#line</c>), the record types, the engine build, the compiler and
/// the runtime. A hit skips Roslyn entirely. Entries are written atomically (temporary file + rename)
/// and carry a SHA-256 of their content, so a torn or corrupt entry is detected, deleted and rebuilt.
/// The cache is best effort: a folder that cannot be written only means compiling every time.
/// </summary>
internal sealed class CompileCache
{
    /// <summary>Set to a folder to move the cache, or to <c>off</c> to disable it.</summary>
    public const string Variable = "PLAYBOOK_CACHE_DIR";

    /// <summary>The most entries kept; the least recently used go first.</summary>
    public const int MaxEntries = 200;

    private const string Extension = ".pbc";
    private static readonly byte[] Magic = "PBC1"u8.ToArray();
    private static readonly Lazy<string> Environment = new(DescribeEnvironment);

    private readonly TimeProvider _time;

    private CompileCache(string folder, TimeProvider time)
    {
        Folder = folder;
        _time = time;
    }

    /// <summary>Where the entries are.</summary>
    public string Folder { get; }

    /// <summary>
    /// The cache in <c>$PLAYBOOK_CACHE_DIR</c>, else <c>$XDG_CACHE_HOME/playbookrunner/compiled</c>, else
    /// <c>~/.cache/playbookrunner/compiled</c>; null when disabled or there is no home.
    /// </summary>
    public static CompileCache? Of(HostContext host) => FromSetting(host.Variable(Variable), host);

    /// <summary>The cache a value of <see cref="Variable"/> names (null: the default folder; empty or <c>off</c>: none).</summary>
    public static CompileCache? FromSetting(string? configured, HostContext host)
    {
        if (configured is not null)
        {
            return configured.Length == 0 || configured.Equals("off", StringComparison.OrdinalIgnoreCase) ? null : new CompileCache(Path.GetFullPath(configured), host.Time);
        }

        var root = host.Variable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile) is { Length: > 0 } home ? Path.Combine(home, ".cache")
            : null;
        return root is null ? null : new CompileCache(Path.Combine(root, "playbookrunner", "compiled"), host.Time);
    }

    /// <summary>The entry's file for a key.</summary>
    public string PathOf(string key) => Path.Combine(Folder, key + Extension);

    /// <summary>The cached assembly, or null when there is none or it is corrupt (then it is deleted).</summary>
    public byte[]? TryRead(string key)
    {
        var path = PathOf(key);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var headerLength = Magic.Length + SHA256.HashSizeInBytes;
        if (bytes.Length > headerLength && bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)
            && SHA256.HashData(bytes.AsSpan(headerLength)).AsSpan().SequenceEqual(bytes.AsSpan(Magic.Length, SHA256.HashSizeInBytes)))
        {
            Touch(path);
            return bytes[headerLength..];
        }

        TryDelete(path);
        return null;
    }

    /// <summary>Stores an assembly under a key, atomically; failures are ignored (the cache is best effort).</summary>
    public void Write(string key, byte[] image)
    {
        var path = PathOf(key);
        var temporary = $"{path}.{System.Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Folder);
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                file.Write(Magic);
                file.Write(SHA256.HashData(image));
                file.Write(image);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            Prune();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
        }
    }

    /// <summary>
    /// The key of a workspace's generated assembly: a SHA-256 over the engine, compiler and runtime
    /// identities and every input of <see cref="CSharpSourceBuilder"/>. Computed without Roslyn.
    /// </summary>
    public static string Key(WorkspaceDefinition workspace, IReadOnlyList<SourceDefinition> sources)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text)
        {
            hash.AppendData(BitConverter.GetBytes(text.Length));
            hash.AppendData(Encoding.UTF8.GetBytes(text));
        }

        void AddText(SpannedText text)
        {
            Add(text.Value);
            Add(text.Location.Path);
            Add(string.Join(";", text.Lines.Select(l => $"{l.Line},{l.Column}")));
        }

        Add(Environment.Value);
        foreach (var source in sources)
        {
            Add("source");
            Add(source.Key);
            foreach (var field in source.Fields)
            {
                Add($"{field.Name}:{field.Type.Kind}:{field.Type.IsNullable}");
            }

            foreach (var related in source.Related)
            {
                var target = workspace.Sources.TryGetValue(related.Source, out var t) ? PlaybookCompiler.IndexOf(sources, t) : -1;
                Add($"related {related.Name}:{target.ToString(CultureInfo.InvariantCulture)}:{related.Key}");
            }
        }

        foreach (var playbook in workspace.Playbooks)
        {
            Add("playbook");
            Add(playbook.Id);
            Add(PlaybookCompiler.IndexOf(sources, playbook.Source).ToString(CultureInfo.InvariantCulture));
            foreach (var (kind, items) in new[] { ("let", playbook.Lets), ("value", playbook.Values), ("segment", playbook.Segments) })
            {
                foreach (var item in items)
                {
                    Add(kind);
                    Add(item.Name);
                    AddText(item.Expression);
                }
            }

            foreach (var rule in playbook.Rules)
            {
                Add("rule");
                Add(rule.Id);
                AddText(rule.When);
                foreach (var (inhibited, _) in rule.Inhibits)
                {
                    Add("inhibits");
                    Add(inhibited);
                }

                if (rule.OnResolve is not null)
                {
                    Add("on_resolve"); // the generated code looks for resolutions of this rule
                }
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// The engine build (its module version id changes with every change to the engine), the compiler's
    /// file version (read from disk, not loaded) and the runtime.
    /// </summary>
    private static string DescribeEnvironment()
    {
        var engine = typeof(CompileCache).Assembly;
        var text = new StringBuilder("playbook-compile-cache v1\n")
            .Append(engine.ManifestModule.ModuleVersionId).Append('\n')
            .Append(RuntimeInformation.FrameworkDescription).Append(' ').Append(RuntimeInformation.ProcessArchitecture).Append('\n');
        foreach (var reference in engine.GetReferencedAssemblies().Where(a => a.Name?.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) == true))
        {
            text.Append(reference.FullName).Append(' ').Append(CompilerFileVersion(reference.Name!)).Append('\n');
        }

        return text.ToString();
    }

    private static string CompilerFileVersion(string name)
    {
        var trusted = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "";
        var path = trusted.Split(Path.PathSeparator).FirstOrDefault(p => Path.GetFileNameWithoutExtension(p) == name)
            ?? Path.Combine(AppContext.BaseDirectory, name + ".dll");
        return File.Exists(path) ? FileVersionInfo.GetVersionInfo(path).FileVersion ?? "" : "";
    }

    private void Prune()
    {
        var entries = new DirectoryInfo(Folder).GetFiles("*" + Extension);
        foreach (var old in entries.OrderByDescending(f => f.LastWriteTimeUtc).Skip(MaxEntries))
        {
            TryDelete(old.FullName);
        }
    }

    private void Touch(string path)
    {
        try
        {
            File.SetLastWriteTimeUtc(path, _time.GetUtcNow().UtcDateTime);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only cache still serves hits.
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Another process may hold or have removed it; the next write replaces it.
        }
    }
}
