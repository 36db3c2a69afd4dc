using PlaybookRunner.Core;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Loading;
using PlaybookRunner.Core.Model;
using PlaybookRunner.Core.Planning;
using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Hosting;

/// <summary>How the daemon starts its evaluation worker: the program and the arguments that come before nothing else (the request is sent on standard input).</summary>
public sealed record WorkerCommand(string FileName, IReadOnlyList<string> Arguments);

/// <summary>One tick for the worker: the workspace version to load, the playbook and rules, the instant.</summary>
internal sealed record WorkerRequest(WorkspaceSnapshot Snapshot, string Playbook, IReadOnlyList<string> Rules, DateTimeOffset AsOf, bool Check = false);

/// <summary>What the worker sends back: the plan (null when there is none) and the diagnostics of loading, compiling and reading.</summary>
internal sealed record WorkerResponse(Plan? Plan, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>
    /// The answer as JSON: <c>{ "plan": PLAN-DOCUMENT or null, "diagnostics": [...] }</c>, the plan in the same
    /// document <c>plan --format json</c> writes (<see cref="PlanDocument"/>), compact, paths as they are.
    /// </summary>
    public void Write(Stream output)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WritePropertyName("plan");
        if (Plan is null)
        {
            json.WriteNullValue();
        }
        else
        {
            PlanDocument.Write(json, Plan, "");
        }

        json.WriteStartArray("diagnostics");
        foreach (var diagnostic in Diagnostics)
        {
            DiagnosticFormatter.WriteJsonDiagnostic(json, diagnostic, "");
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>
    /// Reads an answer written by <see cref="Write"/> from <paramref name="answer"/> a finding at a time, each bound to
    /// <paramref name="workspace"/> as it is read: past the host's limit (<see cref="HostContext.FindingsInMemory"/>) the findings
    /// go to spill files, so the daemon never holds a large answer whole. Throws <see cref="JsonException"/> or
    /// <see cref="FormatException"/> when it is not one, <see cref="IOException"/> when spilling fails.
    /// </summary>
    public static WorkerResponse Read(Stream answer, WorkspaceDefinition workspace)
    {
        var reader = new JsonValueReader(answer);
        if (reader.Next() != JsonTokenType.StartObject)
        {
            throw new FormatException("no plan and diagnostics[]");
        }

        Plan? plan = null;
        List<Diagnostic>? diagnostics = null;
        var names = new HashSet<string>(StringComparer.Ordinal);
        var spool = new FindingSpool(workspace.Host.FindingsInMemory, workspace.Host.SpillFolder);
        try
        {
            while (reader.Next() == JsonTokenType.PropertyName)
            {
                if (!names.Add(reader.Name!))
                {
                    throw new FormatException($"'{reader.Name}' appears twice");
                }

                switch (reader.Name)
                {
                    case "plan":
                        plan = reader.Next() switch
                        {
                            JsonTokenType.Null => null,
                            JsonTokenType.StartObject => PlanDocument.Read(reader, SavedPlan.Binder(workspace), spool) with { DigestDirectory = workspace.RunnerDirectory },
                            _ => throw new FormatException("it is not a plan (no asOf and findings[])"),
                        };
                        break;
                    case "diagnostics":
                        using (var list = reader.NextValue())
                        {
                            diagnostics = list?.RootElement is { ValueKind: JsonValueKind.Array } array
                                ? [.. array.EnumerateArray().Select(d => PlanDocument.ReadDiagnostic(d))]
                                : throw new FormatException("no plan and diagnostics[]");
                        }

                        break;
                    default:
                        reader.NextValue()?.Dispose();
                        break;
                }
            }

            reader.ExpectEnd();
        }
        catch
        {
            spool.Abandon();
            throw;
        }

        if (!names.Contains("plan") || diagnostics is null)
        {
            plan?.ReleaseFindings();
            throw new FormatException("no plan and diagnostics[]");
        }

        return new WorkerResponse(plan, diagnostics);
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(WorkerRequest))]
internal sealed partial class WorkerJson : JsonSerializerContext;

/// <summary>
/// Evaluates one daemon tick in a separate process (<c>playbook __evaluate</c>) that can be killed: the
/// in-process guards stop runaway expressions at the next lambda or record, and the worker closes what
/// they cannot reach. Its heap has a hard limit (<c>execution: worker_memory_mb</c>), so one allowed call
/// that allocates without bound fails inside the worker with an out-of-memory error, reported as PB5007
/// with the rule and key; a worker that does not answer within <c>execution: worker_timeout_seconds</c>
/// is killed with its process tree (PB5008). Either way the daemon records nothing for that tick and
/// goes on. The worker loads the exact YAML bytes of the version the daemon runs (the last good one),
/// compiles it (a compile-cache hit: the daemon compiled the same version), reads the sources, reads the
/// store's history read-only, and answers with the plan; the daemon records what fired.
/// </summary>
public static class EvaluationWorker
{
    private const int MaxErrorChars = 2000;

    /// <summary>How long the worker's output may stay open after it exited or was killed (a process it started still holding it).</summary>
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(3);

    /// <summary>The longest a reload check (load and compile, no data) may take in the worker.</summary>
    internal static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Checks an edited version in a worker process: loads and compiles it there (no data is read), so that
    /// the daemon never compiles an unchecked change in its own process. True when it compiled; otherwise
    /// the compile errors, or PB5009 when the worker failed (crashed, timed out), are in <paramref name="diagnostics"/>.
    /// A successful check also fills the compile cache, so the daemon's own load of that version is a cache hit.
    /// </summary>
    internal static async Task<bool> CheckAsync(WorkerCommand command, WorkspaceDefinition workspace, Secrets secrets, DiagnosticBag diagnostics, CancellationToken cancellationToken)
    {
        var request = new WorkerRequest(WorkspaceSnapshot.Of(workspace), "", [], DateTimeOffset.UnixEpoch, Check: true);
        var timeout = TimeSpan.FromSeconds(Math.Min(CheckTimeout.TotalSeconds, workspace.ExecutionOptions.WorkerTimeout.TotalSeconds));
        var failed = false;
        var response = await ExchangeAsync(command, workspace, request, timeout, secrets, what =>
        {
            failed = true;
            diagnostics.Add(DiagnosticDescriptors.ReloadCheckFailed, SourceLocation.None, what);
        }, cancellationToken);
        if (response is null)
        {
            return false;
        }

        diagnostics.AddRange(response.Diagnostics ?? []);
        return !failed && !(response.Diagnostics ?? []).Any(d => d.IsError);
    }

    /// <summary>The daemon's side: runs the tick in a worker and returns its plan, or null with a PB5008 diagnostic (or the worker's own).</summary>
    internal static async Task<Plan?> EvaluateAsync(WorkerCommand command, WorkspaceDefinition workspace, PlanScope scope, DateTimeOffset asOf, Secrets secrets, DiagnosticBag diagnostics, CancellationToken cancellationToken)
    {
        // The worker resolves the secrets its sources use; the daemon learns them too, to scrub the worker's errors.
        foreach (var setting in workspace.Sources.Values.SelectMany(s => s.Options.Values)
            .Concat(workspace.Channels.Values.SelectMany(c => c.Settings.Values)).Concat(workspace.State.Settings.Values).Where(Secrets.HasReference))
        {
            secrets.TryResolve(setting, out _, out _);
        }

        var timeout = workspace.ExecutionOptions.WorkerTimeout;
        var request = new WorkerRequest(WorkspaceSnapshot.Of(workspace), scope.Playbook, [.. scope.Rules.Order(StringComparer.Ordinal)], asOf);
        var response = await ExchangeAsync(command, workspace, request, timeout, secrets, what => Failed(diagnostics, scope.Playbook, what), cancellationToken);
        if (response is null)
        {
            return null;
        }

        diagnostics.AddRange(response.Diagnostics ?? []);
        return response.Plan;
    }

    /// <summary>Sends one request to a new worker process and reads its answer; null (after <paramref name="fail"/>) when the worker failed.</summary>
    private static async Task<WorkerResponse?> ExchangeAsync(WorkerCommand command, WorkspaceDefinition workspace, WorkerRequest request, TimeSpan timeout, Secrets secrets, Action<string> fail, CancellationToken cancellationToken)
    {
        var memoryMb = workspace.ExecutionOptions.WorkerMemoryMb;
        var info = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workspace.Root,
        };
        foreach (var argument in command.Arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // A hard heap limit: past it an allocation throws OutOfMemoryException in the worker instead of
        // taking the machine's memory. Workstation GC keeps a small worker small.
        info.Environment["DOTNET_GCHeapHardLimit"] = ((long)memoryMb * 1024 * 1024).ToString("X", CultureInfo.InvariantCulture);
        info.Environment["DOTNET_gcServer"] = "0";

        // The answer goes to an unlinked file as it arrives (a plan of millions of findings is larger than the daemon
        // should hold), and is read from there a finding at a time once the worker has exited.
        FileStream answer;
        try
        {
            answer = SpillSegment.CreateFile(workspace.Host.SpillFolder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            fail($"could not be given a file for its answer in {workspace.Host.SpillFolder} ({ex.Message.TrimEnd('.')})");
            return null;
        }

        await using var answerFile = answer;
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("no process was started");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            fail($"could not be started ({command.FileName}: {ex.Message.TrimEnd('.')})");
            return null;
        }

        using (process)
        {
            var output = process.StandardOutput.BaseStream.CopyToAsync(answer, CancellationToken.None);
            // Only the end of the error output is kept: a plugin writing a lot cannot grow the daemon.
            var error = TailAsync(process.StandardError, MaxErrorChars * 4);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            try
            {
                await JsonSerializer.SerializeAsync(process.StandardInput.BaseStream, request, WorkerJson.Default.WorkerRequest, deadline.Token);
                process.StandardInput.Close();
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                Kill(process);
                var drained = await Drained(output, error);
                cancellationToken.ThrowIfCancellationRequested();
                if (ex is IOException)
                {
                    fail($"stopped reading its request{(process.HasExited ? $" (exit code {process.ExitCode})" : "")}{(drained ? LastLine(await error, secrets) : "")}");
                }
                else
                {
                    fail($"did not finish within {(long)timeout.TotalSeconds} s (execution: worker_timeout_seconds) and was killed");
                }

                return null;
            }

            if (!await Drained(output, error))
            {
                Kill(process);
                fail($"exited but its output stayed open for {(long)Drain.TotalSeconds} s (a process it started still holds it)");
                return null;
            }

            try
            {
                await output;
            }
            catch (IOException ex)
            {
                fail($"answered, but its answer could not be stored in {workspace.Host.SpillFolder} ({ex.Message.TrimEnd('.')})");
                return null;
            }

            if (process.ExitCode != 0)
            {
                fail($"exited with code {process.ExitCode}{LastLine(await error, secrets)}");
                return null;
            }

            await answer.FlushAsync(CancellationToken.None);
            if (!HasContent(answer))
            {
                fail("answered with nothing");
                return null;
            }

            try
            {
                answer.Position = 0;
                return WorkerResponse.Read(answer, workspace);
            }
            catch (Exception ex) when (ex is JsonException or FormatException)
            {
                fail($"answered with something that is not a plan ({ex.Message.Split(" LineNumber:", StringSplitOptions.None)[0].TrimEnd('.')})");
                return null;
            }
            catch (IOException ex)
            {
                fail($"answered, but its findings could not be spilled to {workspace.Host.SpillFolder} ({ex.Message.TrimEnd('.')})");
                return null;
            }
        }
    }

    /// <summary>
    /// The worker's side (<c>playbook __evaluate</c>): reads one request from <paramref name="input"/>,
    /// evaluates it, writes the response to <paramref name="output"/>. Returns the exit code: 0 with a
    /// response (diagnostics included), 2 when the request cannot be read.
    /// </summary>
    public static async Task<int> ServeAsync(Stream input, Stream output, TextWriter error, EngineOptions engine, CancellationToken cancellationToken)
    {
        WorkerRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(input, WorkerJson.Default.WorkerRequest, cancellationToken);
        }
        catch (JsonException ex)
        {
            await error.WriteLineAsync(Refusal(ex.Message.Split(" LineNumber:", StringSplitOptions.None)[0].TrimEnd('.')));
            return 2;
        }

        if (request?.Snapshot?.Playbooks is null || request.Snapshot.Files is null || request.Playbook is null || request.Rules is null)
        {
            await error.WriteLineAsync(Refusal("a snapshot, a playbook and rules are required"));
            return 2;
        }

        var diagnostics = new DiagnosticBag();
        var host = engine.Host();
        var plan = request.Check ? Check(request, host, diagnostics) : await PlanAsync(request, host, diagnostics, cancellationToken);
        new WorkerResponse(plan, diagnostics.Items).Write(output);
        await output.FlushAsync(cancellationToken);
        return 0;
    }

    private static string Refusal(string why) =>
        DiagnosticFormatter.FormatText(Diagnostic.Create(DiagnosticDescriptors.BadWorkerRequest, SourceLocation.None, why), "");

    /// <summary>A reload check: load and compile the snapshot (into the compile cache), read no data.</summary>
    private static Plan? Check(WorkerRequest request, HostContext host, DiagnosticBag diagnostics)
    {
        var workspace = WorkspaceLoader.Load(request.Snapshot, host, diagnostics);
        if (!diagnostics.HasErrors)
        {
            PlaybookEngine.Prepare(workspace, diagnostics, DateTimeOffset.UnixEpoch, load: false)?.Compiled?.Unload();
        }

        return null;
    }

    private static async Task<Plan?> PlanAsync(WorkerRequest request, HostContext host, DiagnosticBag diagnostics, CancellationToken cancellationToken)
    {
        var workspace = WorkspaceLoader.Load(request.Snapshot, host, diagnostics);
        if (diagnostics.HasErrors || PlaybookEngine.Prepare(workspace, diagnostics, request.AsOf, load: true) is not { Compiled: { } compiled } prepared)
        {
            return null;
        }

        var secrets = new Secrets(host);
        using var store = PlaybookEngine.OpenStore(prepared.Workspace, write: false, secrets, host.Time, diagnostics);
        if (store is null)
        {
            return null;
        }

        var scope = new PlanScope(request.Playbook, request.Rules.ToHashSet(StringComparer.Ordinal));
        return await Planner.PlanAsync(compiled, request.AsOf, store, prepared.Catalog, secrets, diagnostics, cancellationToken, scope);
    }

    private static void Failed(DiagnosticBag diagnostics, string playbook, string what) =>
        diagnostics.Add(DiagnosticDescriptors.WorkerFailed, SourceLocation.None, playbook, what);

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(Drain);
        }
        catch (Exception ex) when (ex is InvalidOperationException or AggregateException or System.ComponentModel.Win32Exception)
        {
            // It had already exited, or part of its tree could not be signalled (already gone).
        }
    }

    /// <summary>True when both outputs reached their end within <see cref="Drain"/> (or failed: a failure is reported by whoever awaits it).</summary>
    private static async Task<bool> Drained(Task output, Task<string> error)
    {
        var both = Task.WhenAll(output, error);
        return await Task.WhenAny(both, Task.Delay(Drain)) == both;
    }

    /// <summary>True when the answer has anything but white space (a worker that printed nothing, or only line breaks, answered with nothing).</summary>
    private static bool HasContent(FileStream answer)
    {
        answer.Position = 0;
        var buffer = new byte[4096];
        int read;
        while ((read = answer.Read(buffer)) > 0)
        {
            if (buffer.AsSpan(0, read).IndexOfAnyExcept(" \t\r\n"u8) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Reads a stream to its end and keeps its last <paramref name="keep"/> characters.</summary>
    private static async Task<string> TailAsync(StreamReader reader, int keep)
    {
        var tail = new System.Text.StringBuilder();
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            tail.Append(buffer, 0, read);
            if (tail.Length > keep * 2)
            {
                tail.Remove(0, tail.Length - keep);
            }
        }

        return tail.Length > keep ? tail.ToString(tail.Length - keep, keep) : tail.ToString();
    }

    /// <summary>The worker's last line of error output, scrubbed of secrets, for the daemon's log.</summary>
    private static string LastLine(string error, Secrets secrets)
    {
        var line = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (line is null)
        {
            return "";
        }

        line = secrets.Scrub(line);
        return ": " + (line.Length > MaxErrorChars ? line[..MaxErrorChars] + "..." : line);
    }
}
