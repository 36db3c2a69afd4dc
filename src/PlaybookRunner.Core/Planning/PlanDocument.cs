using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// The plan as one JSON document, the stable contract of <c>plan --format json</c>: written here, and read
/// back here by <c>run --plan</c> (a reviewed plan), by <c>plan --baseline</c> and by the daemon from its
/// evaluation worker, so that there is one shape of a plan in JSON and one reader of it.
/// </summary>
public static class PlanDocument
{
    /// <summary>How the document is written: indented, with only what JSON requires escaped.</summary>
    internal static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // The names every finding and action writes, encoded once (a spilled plan writes them millions of times).
    private static readonly JsonEncodedText PlaybookName = JsonEncodedText.Encode("playbook");
    private static readonly JsonEncodedText RuleName = JsonEncodedText.Encode("rule");
    private static readonly JsonEncodedText KeyName = JsonEncodedText.Encode("key");
    private static readonly JsonEncodedText SeverityName = JsonEncodedText.Encode("severity");
    private static readonly JsonEncodedText MessageName = JsonEncodedText.Encode("message");
    private static readonly JsonEncodedText SuppressedName = JsonEncodedText.Encode("suppressed");
    private static readonly JsonEncodedText ActionsName = JsonEncodedText.Encode("actions");
    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");

    /// <summary>The document as text. Byte-identical for identical inputs.</summary>
    public static string Write(Plan plan, string baseDirectory, PlanChanges? changes = null)
    {
        using var stream = new MemoryStream();
        Write(stream, plan, baseDirectory, changes);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The document written to <paramref name="stream"/> as it is produced (a file: no copy of the whole plan in memory), then a line break.</summary>
    public static void Write(Stream stream, Plan plan, string baseDirectory, PlanChanges? changes = null)
    {
        using (var json = new Utf8JsonWriter(stream, Indented))
        {
            Write(json, plan, baseDirectory, changes);
        }

        stream.WriteByte((byte)'\n');
    }

    /// <summary>
    /// The document as one JSON object on <paramref name="json"/>. File paths in errors and diagnostics are
    /// relative to <paramref name="baseDirectory"/> when they are inside it; with an empty one they are as they are.
    /// </summary>
    public static void Write(Utf8JsonWriter json, Plan plan, string baseDirectory, PlanChanges? changes = null)
    {
        json.WriteStartObject();
        json.WriteString("asOf", DateFormats.FormatInstant(plan.AsOf));
        json.WriteStartArray("findings");
        if (plan.Findings is SpooledFindings spooled)
        {
            // A large plan's findings were written as these bytes when they were rendered: copied out as they are.
            spooled.WriteTo(json);
        }
        else
        {
            foreach (var f in plan.Findings)
            {
                if (json.BytesPending > 64 * 1024)
                {
                    // Out to the stream as it goes: a file never holds a second copy of the plan in memory.
                    json.Flush();
                }

                WriteFinding(json, f);
            }
        }

        json.WriteEndArray();
        json.WriteStartArray("errors");
        foreach (var e in plan.Errors)
        {
            WriteError(json, e, baseDirectory);
        }

        json.WriteEndArray();
        json.WriteStartArray("diagnostics");
        foreach (var d in plan.Diagnostics)
        {
            DiagnosticFormatter.WriteJsonDiagnostic(json, d, baseDirectory);
        }

        json.WriteEndArray();
        json.WriteStartObject("summary");
        json.WriteNumber("records", plan.Summary.Records);
        json.WriteNumber("findings", plan.Summary.Findings);
        json.WriteNumber("actions", plan.Summary.Actions);
        json.WriteNumber("suppressed", plan.Summary.Suppressed);
        json.WriteNumber("heldBack", plan.Summary.HeldBack);
        json.WriteNumber("inhibited", plan.Summary.Inhibited);
        json.WriteNumber("waiting", plan.Summary.Waiting);
        json.WriteNumber("resolved", plan.Summary.Resolved);
        json.WriteNumber("deferred", plan.Summary.Deferred);
        json.WriteNumber("errors", plan.Summary.Errors);
        json.WriteEndObject();
        if (plan.Digests.Count > 0)
        {
            json.WriteStartArray("digests");
            foreach (var digest in plan.Digests)
            {
                json.WriteStartObject();
                json.WriteString("name", digest.Name);
                json.WriteString("group", digest.Group);
                json.WriteString("severity", Planner.SeverityName(digest.Severity));
                json.WriteStartArray("findings");
                foreach (var member in digest.Findings)
                {
                    WriteId(json, member);
                }

                json.WriteEndArray();
                json.WritePropertyName("action");
                WriteAction(json, digest.Action);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        if (plan.Report.Owner is not null || plan.Report.SortBy is not null)
        {
            json.WriteStartObject("report");
            if (plan.Report.Owner is { } owner)
            {
                json.WriteString("owner", owner);
            }

            if (plan.Report.SortBy is { } sortBy)
            {
                json.WriteString("sortBy", sortBy);
                json.WriteBoolean("descending", plan.Report.Descending);
            }

            json.WriteEndObject();
        }

        if (plan.Tracked.Count > 0)
        {
            json.WriteStartArray("tracked");
            foreach (var rule in plan.Tracked)
            {
                json.WriteStringValue(rule);
            }

            json.WriteEndArray();
        }
        if (changes is not null)
        {
            WriteChanges(json, changes);
        }

        if (plan.Provenance is { } provenance)
        {
            WriteProvenance(json, provenance);
        }

        json.WriteEndObject();
    }

    /// <summary>
    /// Reads a plan document from a file; null with <paramref name="bad"/> at the place (file, line, column)
    /// when the file cannot be read, is not JSON or is not a plan.
    /// </summary>
    public static Plan? Load(string path, DiagnosticDescriptor bad, DiagnosticBag diagnostics)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            if (!IsPlan(document.RootElement))
            {
                diagnostics.Add(bad, SourceLocation.At(path, 1, 1), "it is JSON, but not a plan (no asOf and findings[]); write it with plan --format json --out FILE");
                return null;
            }

            // A baseline or a reviewed plan is its findings (and provenance): the errors of the run that wrote it are not read.
            return Read(document.RootElement, reports: false);
        }
        catch (JsonException ex)
        {
            diagnostics.Add(bad, SourceLocation.At(path, (int)(ex.LineNumber ?? 0) + 1, (int)(ex.BytePositionInLine ?? 0) + 1),
                "not valid JSON: " + ex.Message.Split(" LineNumber:", StringSplitOptions.None)[0].TrimEnd('.'));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            diagnostics.Add(bad, SourceLocation.At(path, 0, 0), ex.Message.TrimEnd('.'));
        }
        catch (FormatException ex)
        {
            diagnostics.Add(bad, SourceLocation.At(path, 1, 1), $"{ex.Message}; write it with plan --format json --out FILE");
        }

        return null;
    }

    /// <summary>True when <paramref name="root"/> has the two members every plan has: <c>asOf</c> and <c>findings[]</c>.</summary>
    public static bool IsPlan(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("findings", out var findings) && findings.ValueKind == JsonValueKind.Array
        && Text(root, "asOf") is { } asOf && TryInstant(asOf, out _);

    /// <summary>
    /// The plan a document holds: findings, errors, diagnostics, summary and provenance. Findings are not yet bound to
    /// a workspace (<see cref="PlannedFinding.RuleIndex"/> is -1; see <see cref="SavedPlan.Binder"/>). Throws
    /// <see cref="FormatException"/> naming what is not in the plan's format. Without <paramref name="reports"/>, the
    /// errors and diagnostics are not read (left empty).
    /// </summary>
    public static Plan Read(JsonElement root, bool reports = true)
    {
        if (!IsPlan(root))
        {
            throw new FormatException("it is not a plan (no asOf and findings[])");
        }

        try
        {
            var findings = root.GetProperty("findings").EnumerateArray().Select(ReadFinding).ToList();
            var errors = reports ? Array(root, "errors").Select(e => ReadDiagnostic(e, DiagnosticSeverity.Error)).ToList() : [];
            var diagnostics = reports ? Array(root, "diagnostics").Select(d => ReadDiagnostic(d, null)).ToList() : [];
            var summary = root.TryGetProperty("summary", out var s) && s.ValueKind == JsonValueKind.Object
                ? new PlanSummary(Number(s, "records"), Number(s, "findings"), Number(s, "actions"), Number(s, "suppressed"), Number(s, "errors")) { HeldBack = Number(s, "heldBack"), Inhibited = Number(s, "inhibited"), Waiting = Number(s, "waiting"), Resolved = Number(s, "resolved"), Deferred = Number(s, "deferred"), Digests = Number(s, "digests") }
                : new PlanSummary(0, findings.Count, 0, 0, errors.Count);
            TryInstant(Text(root, "asOf")!, out var asOf);
            return new Plan(asOf, findings, errors, diagnostics, summary)
            {
                Provenance = root.TryGetProperty("provenance", out var provenance) ? ReadProvenance(provenance) : null,
                Report = root.TryGetProperty("report", out var report) && report.ValueKind == JsonValueKind.Object
                    ? new ReportDefinition(Text(report, "owner"), Text(report, "sortBy"), report.TryGetProperty("descending", out var descending) && descending.ValueKind == JsonValueKind.True)
                    : ReportDefinition.Default,
                Digests = root.TryGetProperty("digests", out var digests) && digests.ValueKind == JsonValueKind.Array ? [.. digests.EnumerateArray().Select(ReadDigest)] : [],
                Tracked = root.TryGetProperty("tracked", out var tracked) && tracked.ValueKind == JsonValueKind.Array
                    ? [.. tracked.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!)]
                    : [],
            };
        }
        catch (Exception ex) when (ex is InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new FormatException($"a finding or an error is not in the plan's format ({ex.Message.TrimEnd('.')})", ex);
        }
    }

    /// <summary>
    /// Reads the plan object <paramref name="reader"/> has just entered (its <c>{</c> read) one finding at a time: each
    /// finding is bound by <paramref name="bind"/> (null drops it) and handed to <paramref name="spool"/>, which spills past
    /// its limit, so the findings are never all held. The rest of the plan is small and read as <see cref="Read(JsonElement, bool)"/>
    /// does; the summary is counted from the findings kept. Throws what <see cref="Read(JsonElement, bool)"/> throws, and
    /// <see cref="JsonException"/> or <see cref="IOException"/> (spilling).
    /// </summary>
    internal static Plan Read(JsonValueReader reader, Func<PlannedFinding, PlannedFinding?> bind, FindingSpool spool)
    {
        // Everything but the findings, rewritten as a plan with an empty findings array and read the usual way.
        var rest = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(rest))
        {
            json.WriteStartObject();
            var names = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Next() == JsonTokenType.PropertyName)
            {
                var name = reader.Name!;
                if (!names.Add(name))
                {
                    throw new FormatException($"'{name}' appears twice in the plan");
                }

                if (name == "findings")
                {
                    if (reader.Next() != JsonTokenType.StartArray)
                    {
                        throw new FormatException("it is not a plan (no asOf and findings[])");
                    }

                    while (reader.NextValue() is { } finding)
                    {
                        using (finding)
                        {
                            if (bind(ReadFindingChecked(finding.RootElement)) is { } bound)
                            {
                                spool.Add(bound);
                            }
                        }
                    }

                    json.WriteStartArray(name);
                    json.WriteEndArray();
                    continue;
                }

                using var value = reader.NextValue() ?? throw new JsonException($"'{name}' has no value");
                json.WritePropertyName(name);
                value.RootElement.WriteTo(json);
            }

            json.WriteEndObject();
        }

        using var document = JsonDocument.Parse(rest.WrittenMemory);
        var plan = Read(document.RootElement);
        return plan with
        {
            Findings = spool.Complete(),
            Summary = spool.Summary(plan.Summary.Records, plan.Errors.Count, plan.Digests.Count),
            Pending = plan.Digests.Count == 0 ? spool.Pending : null,
        };
    }

    private static PlannedFinding ReadFindingChecked(JsonElement finding)
    {
        try
        {
            return ReadFinding(finding);
        }
        catch (Exception ex) when (ex is InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new FormatException($"a finding or an error is not in the plan's format ({ex.Message.TrimEnd('.')})", ex);
        }
    }

    /// <summary>One finding as an object of the document's <c>findings</c> array.</summary>
    internal static void WriteFinding(Utf8JsonWriter json, PlannedFinding f)
    {
        json.WriteStartObject();
        json.WriteString(PlaybookName, f.Playbook);
        json.WriteString(RuleName, f.Rule);
        json.WriteString(KeyName, f.Key);
        json.WriteString(SeverityName, Planner.SeverityName(f.Severity));
        JsonText.Write(json, MessageName, f.Message);
        json.WriteBoolean(SuppressedName, f.Suppressed);
        if (f.Justification is not null)
        {
            json.WriteString("justification", f.Justification);
        }

        if (f.HeldBackUntil is { } until)
        {
            json.WriteString("heldBackUntil", DateFormats.FormatInstant(until));
        }

        if (f.InhibitedBy is not null)
        {
            json.WriteString("inhibitedBy", f.InhibitedBy);
        }

        if (f.Resolves is { } firedAt)
        {
            json.WriteStartObject("resolves");
            json.WriteString("firedAt", DateFormats.FormatInstant(firedAt));
            if (f.PendingSince is { } held)
            {
                json.WriteString("heldSince", DateFormats.FormatInstant(held));
            }

            json.WriteEndObject();
        }
        else if (f.PendingSince is { } since)
        {
            json.WriteString("pendingSince", DateFormats.FormatInstant(since));
        }

        if (f.WaitingUntil is { } waiting)
        {
            json.WriteString("waitingUntil", DateFormats.FormatInstant(waiting));
        }

        if (f.Owner is not null)
        {
            json.WriteString("owner", f.Owner);
        }

        if (f.SortValue is not null)
        {
            json.WritePropertyName("sortValue");
            json.WriteRawValue(f.SortValue);
        }

        if (f.Digests.Count > 0)
        {
            json.WriteStartArray("digests");
            foreach (var (digest, group) in f.Digests)
            {
                json.WriteStartObject();
                json.WriteString("name", digest);
                json.WriteString("group", group);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        if (f.Deferred is { } deferred)
        {
            json.WriteStartObject("deferred");
            json.WriteNumber("place", deferred.Place);
            json.WriteString("by", deferred.By);
            json.WriteEndObject();
        }

        if (f.DeadLetter is { } dead)
        {
            json.WriteStartObject("deadLetter");
            json.WriteString("firedAt", DateFormats.FormatInstant(dead.FiredAt));
            json.WriteString("error", dead.Error);
            json.WriteEndObject();
        }

        if (f.Values.Count > 0)
        {
            json.WriteStartObject("values");
            foreach (var (name, literal) in f.Values)
            {
                json.WritePropertyName(name);
                json.WriteRawValue(literal);
            }

            json.WriteEndObject();
        }

        if (f.Explanation is { } parts)
        {
            json.WriteStartArray("explain");
            foreach (var part in parts)
            {
                json.WriteStartObject();
                json.WriteString("expression", part.Expression);
                json.WriteNumber("depth", part.Depth);
                json.WriteBoolean("evaluated", part.Evaluated);
                json.WriteString("value", part.Value);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteStartArray(ActionsName);
        foreach (var action in f.Actions)
        {
            WriteAction(json, action);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>An evaluation error: its ID, playbook, rule, key and message; where it is and what is wrong for every key, when that is known.</summary>
    private static void WriteError(Utf8JsonWriter json, Diagnostic e, string baseDirectory)
    {
        json.WriteStartObject();
        json.WriteString("id", e.Id);
        json.WriteString("playbook", e.Playbook);
        json.WriteString("rule", e.Rule);
        json.WriteString("key", e.Key);
        json.WriteString("message", e.Message);
        if (e.Location.HasPath)
        {
            DiagnosticFormatter.WriteJsonLocation(json, e.Location, baseDirectory);
        }

        if (e.Problem is not null)
        {
            json.WriteString("problem", e.Problem);
        }

        json.WriteEndObject();
    }

    /// <summary>A finding's identity as an object: <c>playbook</c>, <c>rule</c>, <c>key</c>.</summary>
    private static void WriteId(Utf8JsonWriter json, FindingId id)
    {
        json.WriteStartObject();
        json.WriteString("playbook", id.Playbook);
        json.WriteString("rule", id.Rule);
        json.WriteString("key", id.Key);
        json.WriteEndObject();
    }

    private static void WriteAction(Utf8JsonWriter json, PlannedAction action)
    {
        json.WriteStartObject();
        json.WriteString(TypeName, action.Type);
        foreach (var field in action.Fields)
        {
            WriteField(json, field);
        }

        json.WriteEndObject();
    }

    private static PlannedAction ReadAction(JsonElement action) =>
        new(Text(action, "type") ?? throw new FormatException("an action has no type"), [.. action.EnumerateObject().Where(p => p.Name != "type").Select(ReadField)]);

    private static PlannedDigest ReadDigest(JsonElement digest) => new(
        Text(digest, "name") ?? throw new FormatException("a digest has no name"),
        Text(digest, "group") ?? throw new FormatException("a digest has no group"),
        SeverityOf(Text(digest, "severity")),
        [.. (digest.TryGetProperty("findings", out var members) && members.ValueKind == JsonValueKind.Array ? members.EnumerateArray() : Enumerable.Empty<JsonElement>())
            .Select(m => new FindingId(Text(m, "playbook") ?? "", Text(m, "rule") ?? "", Text(m, "key") ?? ""))],
        digest.TryGetProperty("action", out var action) && action.ValueKind == JsonValueKind.Object ? ReadAction(action) : throw new FormatException("a digest has no action"));

    private static Severity SeverityOf(string? text) => text switch
    {
        "info" => Severity.Info,
        "critical" => Severity.Critical,
        _ => Severity.Warning,
    };

    private static void WriteField(Utf8JsonWriter json, PlannedActionField field)
    {
        if (field.Children is { } children)
        {
            json.WriteStartObject(field.Name);
            foreach (var child in children)
            {
                WriteField(json, child);
            }

            json.WriteEndObject();
        }
        else if (field.Flag is { } flag)
        {
            json.WriteBoolean(field.Name, flag);
        }
        else
        {
            JsonText.Write(json, field.Name, field.Text);
        }
    }

    private static void WriteProvenance(Utf8JsonWriter json, Provenance provenance)
    {
        json.WriteStartObject("provenance");
        json.WriteString("engine", provenance.Engine);
        json.WriteString("asOf", DateFormats.FormatInstant(provenance.AsOf));
        if (provenance.GitCommit is { } commit)
        {
            json.WriteString("gitCommit", commit);
        }

        json.WriteStartObject("workspace");
        json.WriteString("digest", provenance.WorkspaceDigest);
        json.WriteStartObject("files");
        foreach (var (file, digest) in provenance.Files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            json.WriteString(file, digest);
        }

        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteStartObject("sources");
        foreach (var (source, digest) in provenance.Sources.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            json.WriteString(source, digest);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteChanges(Utf8JsonWriter json, PlanChanges changes)
    {
        json.WriteStartObject("changes");
        json.WriteString("baselineAsOf", changes.BaselineAsOf);
        foreach (var (name, ids) in new[] { ("added", changes.Added), ("removed", changes.Removed) })
        {
            json.WriteStartArray(name);
            foreach (var id in ids)
            {
                WriteId(json, id);
            }

            json.WriteEndArray();
        }

        json.WriteStartArray("changed");
        foreach (var finding in changes.Changed)
        {
            json.WriteStartObject();
            json.WriteString("playbook", finding.Playbook);
            json.WriteString("rule", finding.Rule);
            json.WriteString("key", finding.Key);
            json.WriteStartArray("fields");
            foreach (var change in finding.Changes)
            {
                json.WriteStartObject();
                json.WriteString("path", change.Path);
                json.WriteString("before", change.Before);
                json.WriteString("after", change.After);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>A computed value as the JSON literal a finding's <c>values</c> show (see <see cref="PlannedFinding.Values"/>).</summary>
    internal static string ValueLiteral(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        int or long or short or byte or decimal => ((IFormattable)value).ToString(null, CultureInfo.InvariantCulture),
        double d when double.IsFinite(d) => d.ToString("R", CultureInfo.InvariantCulture),
        string s => JsonSerializer.Serialize(s, Relaxed),
        _ => JsonSerializer.Serialize(Runtime.ExplainSink.Format(value), Relaxed),
    };

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One finding of the document's <c>findings</c> array, not yet bound to a workspace.</summary>
    internal static PlannedFinding ReadFinding(JsonElement finding)
    {
        var actions = new List<PlannedAction>();
        foreach (var action in finding.GetProperty("actions").EnumerateArray())
        {
            actions.Add(new PlannedAction(
                Text(action, "type") ?? throw new FormatException("an action has no type"),
                [.. action.EnumerateObject().Where(p => p.Name != "type").Select(ReadField)]));
        }

        var severity = SeverityOf(Text(finding, "severity"));
        return new PlannedFinding(
            Text(finding, "playbook") ?? throw new FormatException("a finding has no playbook"),
            Text(finding, "rule") ?? throw new FormatException("a finding has no rule"),
            -1,
            Text(finding, "key") ?? throw new FormatException("a finding has no key"),
            severity,
            Text(finding, "message"),
            finding.TryGetProperty("suppressed", out var suppressed) && suppressed.ValueKind == JsonValueKind.True,
            actions)
        {
            Justification = Text(finding, "justification"),
            InhibitedBy = Text(finding, "inhibitedBy"),
            Resolves = finding.TryGetProperty("resolves", out var resolves) && Text(resolves, "firedAt") is { } resolvedFiring && TryInstant(resolvedFiring, out var resolvedAt) ? resolvedAt : null,
            PendingSince = (finding.TryGetProperty("resolves", out var resolution) ? Text(resolution, "heldSince") : Text(finding, "pendingSince")) is { } held && TryInstant(held, out var heldAt) ? heldAt : null,
            WaitingUntil = Text(finding, "waitingUntil") is { } waiting && TryInstant(waiting, out var waitingAt) ? waitingAt : null,
            Owner = Text(finding, "owner"),
            SortValue = finding.TryGetProperty("sortValue", out var sortValue) ? sortValue.GetRawText() : null,
            Digests = finding.TryGetProperty("digests", out var joined) && joined.ValueKind == JsonValueKind.Array
                ? [.. joined.EnumerateArray().Select(d => (Text(d, "name") ?? "", Text(d, "group") ?? ""))]
                : [],
            Deferred = finding.TryGetProperty("deferred", out var deferred) && deferred.ValueKind == JsonValueKind.Object ? (Number(deferred, "place"), Text(deferred, "by") ?? "rule") : null,
            HeldBackUntil = Text(finding, "heldBackUntil") is { } until && TryInstant(until, out var instant) ? instant : null,
            DeadLetter = finding.TryGetProperty("deadLetter", out var dead) && Text(dead, "firedAt") is { } firedAt && TryInstant(firedAt, out var fired)
                ? (fired, Text(dead, "error") ?? "") : null,
            Values = finding.TryGetProperty("values", out var values) && values.ValueKind == JsonValueKind.Object
                ? [.. values.EnumerateObject().Select(v => (v.Name, v.Value.GetRawText()))]
                : [],
            Explanation = finding.TryGetProperty("explain", out var explain) && explain.ValueKind == JsonValueKind.Array
                ? [.. explain.EnumerateArray().Select(p => new ExplainedPart(Text(p, "expression") ?? "", Number(p, "depth"), p.TryGetProperty("evaluated", out var e) && e.ValueKind == JsonValueKind.True, Text(p, "value")))]
                : null,
        };
    }

    private static PlannedActionField ReadField(JsonProperty property) => property.Value.ValueKind switch
    {
        JsonValueKind.Object => new PlannedActionField(property.Name, null, null, [.. property.Value.EnumerateObject().Select(ReadField)]),
        JsonValueKind.True or JsonValueKind.False => new PlannedActionField(property.Name, null, property.Value.GetBoolean(), null),
        JsonValueKind.String or JsonValueKind.Null => new PlannedActionField(property.Name, property.Value.GetString(), null, null),
        _ => throw new FormatException($"action field '{property.Name}' is neither text, a flag nor a map"),
    };

    /// <summary>
    /// A diagnostic as <see cref="DiagnosticFormatter.WriteJsonDiagnostic"/> writes it, or an evaluation error of this
    /// document (<paramref name="severity"/> error); its ID must be one of this version's catalogue (else <see cref="FormatException"/>).
    /// </summary>
    public static Diagnostic ReadDiagnostic(JsonElement element, DiagnosticSeverity? severity = null)
    {
        var id = Text(element, "id") ?? throw new FormatException("an error or diagnostic has no id");
        var descriptor = DiagnosticDescriptors.All.FirstOrDefault(d => d.Id == id) ?? throw new FormatException($"'{SafeText.OneLine(id)}' is not a diagnostic this version knows");
        var location = Text(element, "file") is { } file
            ? new SourceLocation(file, Number(element, "line"), Number(element, "column"), Number(element, "endLine"), Number(element, "endColumn"))
            : SourceLocation.None;
        var level = severity ?? Text(element, "severity") switch
        {
            "error" => DiagnosticSeverity.Error,
            "warning" => DiagnosticSeverity.Warning,
            _ => DiagnosticSeverity.Info,
        };
        return new Diagnostic(descriptor, location, level, Text(element, "message") ?? "")
        {
            Playbook = Text(element, "playbook"),
            Rule = Text(element, "rule"),
            Key = Text(element, "key"),
            Problem = Text(element, "problem"),
        };
    }

    private static Provenance? ReadProvenance(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object || Text(element, "engine") is not { } engine || Text(element, "asOf") is not { } asOfText
            || !TryInstant(asOfText, out var asOf) || !element.TryGetProperty("workspace", out var workspace) || Text(workspace, "digest") is not { } digest
            || !workspace.TryGetProperty("files", out var files) || files.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        static Dictionary<string, string> Map(JsonElement map) => map.ValueKind == JsonValueKind.Object
            ? map.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String).ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal)
            : [];
        return new Provenance(engine, asOf, Text(element, "gitCommit"), digest, Map(files),
            element.TryGetProperty("sources", out var sources) ? Map(sources) : []);
    }

    private static IEnumerable<JsonElement> Array(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array ? value.EnumerateArray() : [];

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : 0;

    private static bool TryInstant(string text, out DateTimeOffset instant) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out instant);
}
