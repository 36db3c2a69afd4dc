using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text.Encodings.Web;
using System.Text;
using System.Text.Json;
using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Model;
using Scriban;
using Scriban.Parsing;
using Scriban.Runtime;
using Scriban.Syntax;

namespace PlaybookRunner.Core.Evaluation;

/// <summary>Renders templates with limits (loops, recursion, output size) and no access to .NET members.</summary>
internal static class TemplateRenderer
{
    public const int LoopLimit = 1_000;
    public const int RecursiveLimit = 20;
    public const int OutputLimit = 64 * 1024;

    /// <summary>
    /// Every built-in object is replaced by a read-only copy, and those whose members run code or read the wall clock
    /// lose those members: validate rejects <c>object.eval</c> and <c>date.now</c> by name, and the copies make them
    /// unreachable by value too (<c>o = object; o.eval</c>, <c>object["eval"]</c>, <c>d = date; d.now</c>). Read-only,
    /// because render contexts are reused: a value a template wrote into <c>math["x"]</c> would reach the next finding.
    /// </summary>
    private static readonly Dictionary<string, string[]> Removed = new(StringComparer.Ordinal)
    {
        ["object"] = ["eval", "eval_template"],
        ["date"] = ["now", "utc_now"],
    };

    private static readonly ScriptObject Restricted = CreateRestricted(); // after Removed, which it reads

    private static ScriptObject CreateRestricted()
    {
        var builtins = new TemplateContext().BuiltinObject;
        var restricted = new ScriptObject();
        foreach (var (name, value) in builtins)
        {
            if (value is not ScriptObject builtin)
            {
                continue;
            }

            var removed = Removed.GetValueOrDefault(name, []);
            var copy = new ScriptObject();
            foreach (var member in builtin.Where(m => !removed.Contains(m.Key, StringComparer.Ordinal)))
            {
                copy[member.Key] = member.Value;
            }

            copy.IsReadOnly = true;
            restricted[name] = copy;
        }

        restricted.IsReadOnly = true;
        return restricted;
    }

    /// <summary>
    /// Where values are escaped on output, the escaping helpers and <c>raw</c> mark text as already fit to write, so
    /// nothing is escaped twice and raw output is a visible choice in the template. One read-only set per sink, pushed
    /// above a finding's values at every render so that no field can shadow them.
    /// </summary>
    private static readonly Dictionary<TemplateSink, ScriptObject> Overrides = new()
    {
        [TemplateSink.Html] = OverridesFor(TemplateSink.Html),
        [TemplateSink.Json] = OverridesFor(TemplateSink.Json),
        [TemplateSink.Url] = OverridesFor(TemplateSink.Url),
        [TemplateSink.PathSegment] = OverridesFor(TemplateSink.PathSegment),
    };

    /// <summary>The sink's own helpers, above every other name in a render; null for a sink that has none.</summary>
    internal static ScriptObject? OverridesOf(TemplateSink sink) => Overrides.GetValueOrDefault(sink);

    /// <summary>One context per sink and thread, reused: building a context (its built-in functions) costs far more than a render.</summary>
    [ThreadStatic]
    private static Dictionary<TemplateSink, TemplateContext>? _contexts;

    /// <summary>The scope of one render's own assignments and captures, emptied before each render (renders never nest).</summary>
    [ThreadStatic]
    private static ScriptObject? _assigned;

    private static ScriptObject OverridesFor(TemplateSink sink)
    {
        var overrides = new ScriptObject();
        overrides.Import("raw", new Func<object?, RawText>(v => new RawText(Convert.ToString(v, CultureInfo.InvariantCulture) ?? "")));
        if (sink == TemplateSink.Html)
        {
            overrides.Import("html_escape", new Func<object?, RawText>(v => new RawText(TemplateHelpers.HtmlEscape(v))));
        }
        else if (sink == TemplateSink.Json)
        {
            overrides.Import("json_escape", new Func<object?, RawText>(v => new RawText(TemplateHelpers.JsonEscape(v))));
        }

        overrides.IsReadOnly = true;
        return overrides;
    }

    private static TemplateContext NewContext(TemplateSink sink)
    {
        TemplateContext context = sink switch
        {
            TemplateSink.Html => new HtmlTemplateContext(),
            TemplateSink.Json => new JsonTemplateContext(),
            TemplateSink.Url => new UrlTemplateContext(),
            TemplateSink.PathSegment => new PathTemplateContext(),
            _ => new TemplateContext(),
        };
        context.StrictVariables = true;
        context.LoopLimit = LoopLimit;
        context.RecursiveLimit = RecursiveLimit;
        context.OutputLimit = OutputLimit;
        context.OnOutputLimit = ScriptLimitBehavior.Throw;
        context.LimitToString = OutputLimit;
        context.RegexTimeOut = TimeSpan.FromMilliseconds(200);
        context.MemberFilter = _ => false;
        context.EnableRelaxedMemberAccess = false;
        context.PushCulture(CultureInfo.InvariantCulture);
        context.PushGlobal(Restricted);
        return context;
    }

    /// <summary>Renders one template against a finding's values, every value escaped for where the output lands.</summary>
    public static string Render(CompiledTemplate template, TemplateScope scope, TemplateSink sink) => Render(template, scope, sink, out _);

    /// <summary>
    /// Renders one template as <see cref="Render(CompiledTemplate, TemplateScope, TemplateSink)"/>; <paramref name="byParts"/> says it was
    /// written from its parts (<see cref="TemplateParts"/>), so what its text alone decides holds (<see cref="TemplateParts.WritesJson"/>).
    /// </summary>
    public static string Render(CompiledTemplate template, TemplateScope scope, TemplateSink sink, out bool byParts)
    {
        if (TemplateParts.Of(template.Template) is { } parts && parts.TryRender(scope, sink) is { } fast)
        {
            byParts = true;
            return fast;
        }

        byParts = false;
        return Interpret(template, scope, sink);
    }

    /// <summary>
    /// Renders one template; a template that is text and plain values is written without the interpreter
    /// (<see cref="TemplateParts"/>) unless <paramref name="interpreted"/> asks for Scriban's own render (which the
    /// tests compare it with).
    /// </summary>
    internal static string Render(CompiledTemplate template, TemplateScope scope, TemplateSink sink, bool interpreted) =>
        interpreted ? Interpret(template, scope, sink) : Render(template, scope, sink, out _);

    /// <summary>Renders one template with Scriban's interpreter, in the sink's escaping context.</summary>
    private static string Interpret(CompiledTemplate template, TemplateScope scope, TemplateSink sink)
    {
        var overrides = Overrides.GetValueOrDefault(sink);
        var contexts = _contexts ??= [];
        if (!contexts.Remove(sink, out var context))
        {
            context = NewContext(sink);
        }

        context.PushGlobal(scope.Finding);
        // Above the finding's values (no field shadows them): the rule's shared, read-only names and helpers, the
        // sink's own helpers, and above them all a scope of this render's own for what the template assigns or captures.
        context.PushGlobal(scope.Shared);
        if (overrides is not null)
        {
            context.PushGlobal(overrides);
        }

        var assigned = _assigned ??= new ScriptObject();
        assigned.Clear();
        context.PushGlobal(assigned);

        // Taken out of the cache while it renders: a render that fails (a limit, a template error) leaves a context
        // that is not reused; one that succeeds goes back, with this finding's values popped off it.
        (context as EscapingContext)?.BeginRender();
        var text = WellFormed(template.Template.Render(context));
        context.PopGlobal();
        if (overrides is not null)
        {
            context.PopGlobal();
        }

        context.PopGlobal();
        context.PopGlobal();
        contexts[sink] = context;
        return text;
    }

    /// <summary>
    /// Writes a plain value (text on one line, a truth value, a number: <see cref="TemplateParts"/>) as a full render
    /// writes it in <paramref name="sink"/>, through the same escaping as the sink's context: <paramref name="inString"/>
    /// says a JSON body's text has a string open there, <paramref name="afterQuery"/> that a URL's text has reached its
    /// query or fragment. False, with nothing written, when the escaping refuses the value (the full render reports it).
    /// </summary>
    internal static bool TryWriteValue(StringBuilder builder, object value, TemplateSink sink, bool inString, bool afterQuery)
    {
        if (value is not string text)
        {
            // Truth values and numbers: nothing in them is escaped anywhere (digits, '.', '-', letters), and in a JSON
            // body they are JSON values as they are.
            if (value is bool b)
            {
                builder.Append(b ? "true" : "false");
                return true;
            }

            Span<char> digits = stackalloc char[48];
            var formatted = ((ISpanFormattable)value).TryFormat(digits, out var length, default, CultureInfo.InvariantCulture);
            builder.Append(formatted ? digits[..length] : Convert.ToString(value, CultureInfo.InvariantCulture));
            return true;
        }

        switch (sink)
        {
            case TemplateSink.Html:
                builder.Append(WebUtility.HtmlEncode(text));
                return true;
            case TemplateSink.Json when inString:
                builder.Append(TemplateHelpers.JsonEscape(text));
                return true;
            case TemplateSink.Json:
                builder.Append('"').Append(TemplateHelpers.JsonEscape(text)).Append('"');
                return true;
            case TemplateSink.Url:
                if (UrlValueProblem(text, afterQuery) is not null)
                {
                    return false;
                }

                builder.Append(Uri.EscapeDataString(text));
                return true;
            case TemplateSink.PathSegment:
                if (PathValueProblem(text) is not null)
                {
                    return false;
                }

                builder.Append(text);
                return true;
            default:
                builder.Append(text);
                return true;
        }
    }

    /// <summary>Where a JSON body's text stands after <paramref name="c"/>: inside a string, and right after a '\' there.</summary>
    internal static (bool InString, bool Escaped) JsonScan(bool inString, bool escaped, char c) =>
        !inString ? (c == '"', false) : escaped ? (true, false) : c == '\\' ? (true, true) : (c != '"', false);

    /// <summary>Why a value from the data cannot be written into a webhook URL's path or query, or null when it can.</summary>
    private static string? UrlValueProblem(string text, bool afterQuery) =>
        text is "." or ".." && !afterQuery
            // Percent-encoded or not, a '..' segment is taken away by URL normalisation: the path would leave the author's.
            ? "a value from the data cannot be a '.' or '..' segment of a webhook URL's path"
            : null;

    /// <summary>Why a value from the data cannot be written into a file action's path, or null when it stays inside one segment.</summary>
    private static string? PathValueProblem(string text) =>
        text.IndexOfAny(['/', '\\']) >= 0 || text is "." or ".." || text.AsSpan().IndexOfAnyInRange('\0', '\u001F') >= 0 || text.AsSpan().IndexOfAnyInRange('\u007F', '\u009F') >= 0
            ? $"a value from the data cannot add path segments to a file action's path ('{Diagnostics.SafeText.OneLine(text)}' has '/', '\\', '..' or a control character)"
            : null;

    /// <summary>Replaces lone surrogates (say, half an emoji cut by string.slice) so the text is valid UTF-16.</summary>
    internal static string WellFormed(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF'))
        {
            return text;
        }

        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(chars[i]))
            {
                chars[i] = '\uFFFD';
            }
        }

        return new string(chars);
    }

    /// <summary>Text the template marked as fit to write where it lands (<c>raw</c>, or an escaping helper's result).</summary>
    internal sealed record RawText(string Text)
    {
        public override string ToString() => Text;
    }

    /// <summary>A context that escapes every value written to the template's own output (not to a capture).</summary>
    private abstract class EscapingContext : TemplateContext
    {
        private StringBuilder _main;

        protected EscapingContext() => _main = ((StringBuilderOutput)Output).Builder;

        /// <summary>The template's own output (not a capture's).</summary>
        internal StringBuilder Main => _main;

        /// <summary>The text a full render writes for <paramref name="value"/> here (<see cref="Escape"/>).</summary>
        internal string EscapeValue(StringBuilder written, object? value) => Escape(written, value);

        /// <summary>Before each render of a reused context: the template's own output is what is empty now, and nothing is carried over.</summary>
        public virtual void BeginRender()
        {
            _main = ((StringBuilderOutput)Output).Builder;
            _main.Clear();
        }

        public sealed override TemplateContext Write(SourceSpan span, object? textAsObject)
        {
            if (Output is not StringBuilderOutput { Builder: var builder } || !ReferenceEquals(builder, _main))
            {
                // A capture: its text is a value, escaped when it is written out.
                return base.Write(span, textAsObject);
            }

            return base.Write(span, Escape(builder, textAsObject));
        }

        /// <summary>The text to write for <paramref name="value"/>, given what the template has written so far.</summary>
        protected abstract string Escape(StringBuilder written, object? value);
    }

    /// <summary>An HTML body: every value HTML-encoded.</summary>
    private sealed class HtmlTemplateContext : EscapingContext
    {
        protected override string Escape(StringBuilder written, object? value) =>
            value is RawText raw ? raw.Text : WebUtility.HtmlEncode(ObjectToString(value)) ?? "";
    }

    /// <summary>
    /// A JSON body: inside a string literal a value is escaped as string content; elsewhere it is written
    /// as one JSON value (a number, true/false, null, a quoted string, an array), so data adds no keys.
    /// </summary>
    private sealed class JsonTemplateContext : EscapingContext
    {
        private int _scanned;
        private bool _inString;
        private bool _escaped;

        public override void BeginRender()
        {
            base.BeginRender();
            _scanned = 0;
            _inString = _escaped = false;
        }

        protected override string Escape(StringBuilder written, object? value)
        {
            for (; _scanned < written.Length; _scanned++)
            {
                (_inString, _escaped) = JsonScan(_inString, _escaped, written[_scanned]);
            }

            if (_inString && _escaped && value is not RawText)
            {
                // The template's own '\' would escape the value's first character ('\{{ name }}' with 'role' gives '\r').
                throw new InvalidOperationException("a '\\' in the template right before a value would escape the value's first character; write '\\\\' for a backslash");
            }

            return value switch
            {
                RawText raw => raw.Text,
                JsonNull => _inString ? "" : "null",
                _ when _inString => TemplateHelpers.JsonEscape(value is null ? "" : ObjectToString(value)),
                _ => JsonValue(value, 0),
            };
        }

        /// <summary>A statement that yields null writes nothing in Scriban; in a JSON body it writes <c>null</c> (or nothing inside a string).</summary>
        public override object? Evaluate(ScriptNode? scriptNode, bool aliasReturnedFunction)
        {
            var result = base.Evaluate(scriptNode, aliasReturnedFunction);
            return result is null && scriptNode is ScriptExpressionStatement { CanOutput: true } ? JsonNull.Instance : result;
        }

        /// <summary>A list written as one JSON value has at most <see cref="TemplateRenderer.LoopLimit"/> items, as a loop has iterations.</summary>
        private static IEnumerable<T> Limited<T>(IEnumerable<T> items)
        {
            var count = 0;
            foreach (var item in items)
            {
                if (++count > TemplateRenderer.LoopLimit)
                {
                    throw new InvalidOperationException($"a list written into a JSON body has more than {TemplateRenderer.LoopLimit} items");
                }

                yield return item;
            }
        }

        private sealed class JsonNull
        {
            public static readonly JsonNull Instance = new();

            public override string ToString() => "";
        }

        private string JsonValue(object? value, int depth) => value switch
        {
            null => "null",
            bool b => b ? "true" : "false",
            double d when !double.IsFinite(d) => "null",
            float f when !float.IsFinite(f) => "null",
            sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal or System.Numerics.BigInteger
                => Convert.ToString(value, CultureInfo.InvariantCulture)!,
            ScriptObject o when depth < 8 => "{" + string.Join(", ", Limited(o).Select(p => $"\"{TemplateHelpers.JsonEscape(p.Key)}\": {JsonValue(p.Value, depth + 1)}")) + "}",
            System.Collections.IEnumerable list and not string when depth < 8 => "[" + string.Join(", ", Limited(list.Cast<object?>()).Select(v => JsonValue(v, depth + 1))) + "]",
            _ => "\"" + TemplateHelpers.JsonEscape(ObjectToString(value)) + "\"",
        };
    }

    /// <summary>
    /// A webhook URL: the template's own text fixes the scheme, host and port; a value may only follow
    /// them (in the path, query or fragment), percent-encoded, so data cannot choose where a request goes.
    /// </summary>
    private sealed class UrlTemplateContext : EscapingContext
    {
        protected override string Escape(StringBuilder written, object? value)
        {
            if (!ActionRules.HasFixedAuthority(written.ToString()))
            {
                throw new InvalidOperationException(
                    "a value from the data cannot set a webhook URL's scheme, host or port: write 'https://host/' in the template before any {{ }}");
            }

            if (value is RawText raw)
            {
                return raw.Text;
            }

            var text = ObjectToString(value) ?? "";
            if (UrlValueProblem(text, written.ToString().IndexOfAny(['?', '#']) >= 0) is { } problem)
            {
                throw new InvalidOperationException(problem);
            }

            return Uri.EscapeDataString(text);
        }
    }

    /// <summary>A file action's path: a value stays inside one path segment (no separator, no '..', no control character).</summary>
    private sealed class PathTemplateContext : EscapingContext
    {
        protected override string Escape(StringBuilder written, object? value)
        {
            var text = value is RawText raw ? raw.Text : ObjectToString(value) ?? "";
            if (value is not RawText && PathValueProblem(text) is { } problem)
            {
                throw new InvalidOperationException(problem);
            }

            return text;
        }
    }
}

/// <summary>
/// What a template of one finding sees: <see cref="Finding"/>, its values (fields, related lists, lets,
/// segments: one object per finding), and <see cref="Shared"/>, the rule's read-only names (rule, playbook,
/// now) and the helpers, one object per rule and plan, above the values so that no field shadows them.
/// </summary>
internal sealed class TemplateScope
{
    private readonly IFindingValues? _values;
    private ScriptObject? _finding;

    public TemplateScope(ScriptObject finding, ScriptObject shared)
    {
        _finding = finding;
        Shared = shared;
    }

    /// <summary>A scope whose values object is built (<see cref="IFindingValues.Build"/>) only when a template needs the interpreter; <paramref name="values"/> answers the others.</summary>
    public TemplateScope(IFindingValues values, ScriptObject shared)
    {
        _values = values;
        Shared = shared;
    }

    /// <summary>The finding's values as the interpreter sees them (built on first use).</summary>
    public ScriptObject Finding => _finding ??= _values!.Build();

    /// <summary>The rule's shared, read-only names and the helpers.</summary>
    public ScriptObject Shared { get; init; }

    /// <summary>The helpers behind the shared <c>days_since</c> and <c>months_since</c>, for templates rendered without the interpreter (<see cref="TemplateParts"/>).</summary>
    public TemplateHelpers? Helpers { get; init; }

    /// <summary>The finding's values read straight from its record, when the scope was made with them.</summary>
    public IFindingValues? Values => _values;

    /// <summary>One of the finding's values by name, as <see cref="Finding"/> holds it, without building it when it is not built yet.</summary>
    public bool TryFindingValue(string name, out object? value) =>
        _finding is null && _values is not null ? _values.TryGet(name, out value) : Finding.TryGetValue(name, out value);
}

/// <summary>A finding's values by name, read straight from its record (<see cref="TemplateScope"/>).</summary>
internal interface IFindingValues
{
    /// <summary>False when the name is not one of the values, or is one this reading does not give (a related list).</summary>
    bool TryGet(string name, out object? value);

    /// <summary>What decides the slots: the same object for every finding whose names have the same slots (one playbook's).</summary>
    object Layout { get; }

    /// <summary>The slot of a name, the same for every finding of <see cref="Layout"/>; -1 when <see cref="TryGet"/> would give nothing.</summary>
    int Slot(string name);

    /// <summary>The value in a slot (<see cref="Slot"/>), as <see cref="TryGet"/> gives it by name.</summary>
    object? At(int slot);

    /// <summary>The values object the interpreter reads: every value by name.</summary>
    ScriptObject Build();
}

/// <summary>The helper functions templates see (spec section 6), bound to one evaluation instant and zone.</summary>
internal sealed class TemplateHelpers(DateTimeOffset now, TimeZoneInfo zone)
{
    private ScriptObject? _functions;

    /// <summary>Adds the helpers to a finding's values: the functions are wrapped once per plan and shared, not per finding.</summary>
    public void AddTo(ScriptObject target)
    {
        if (_functions is null)
        {
            var functions = new ScriptObject();
            functions.Import("days_since", new Func<object?, int?>(DaysSince));
            functions.Import("months_since", new Func<object?, int?>(MonthsSince));
            functions.Import("money", new Func<object?, string, string>(Money));
            functions.Import("json_escape", new Func<object?, string>(JsonEscape));
            functions.Import("html_escape", new Func<object?, string>(HtmlEscape));
            functions.Import("raw", new Func<object?, string>(v => Convert.ToString(v, CultureInfo.InvariantCulture) ?? ""));
            functions.Import("add_business_days", new Func<object?, int, DateTime?>(AddBusinessDays));
            functions.Import("business_days_since", new Func<object?, int?>(BusinessDaysSince));
            functions.Import("last_fired_of", new Func<string, DateTime?>(rule => Past(rule, (h, p, r, k) => h.LastFired(p, r, k))));
            functions.Import("last_delivered_of", new Func<string, DateTime?>(rule => Past(rule, (h, p, r, k) => h.LastDelivered(p, r, k))));
            _functions = functions;
        }

        foreach (var (name, function) in _functions)
        {
            target.SetValue(name, function, true);
        }
    }

    /// <summary>The business calendar of runner.yaml (<c>add_business_days</c>, <c>business_days_since</c>).</summary>
    public Runtime.BusinessCalendar Calendar { get; init; } = Runtime.BusinessCalendar.Default;

    /// <summary>The date (midnight) <paramref name="days"/> business days after a date or datetime's date in the playbook's zone; null when missing.</summary>
    public DateTime? AddBusinessDays(object? value, int days) =>
        ToInstant(value) is { } instant ? Calendar.AddBusinessDays(DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, zone).DateTime), days).ToDateTime(TimeOnly.MinValue) : null;

    /// <summary>Business days after a date or datetime's date up to and including today, in the playbook's zone; null when missing.</summary>
    public int? BusinessDaysSince(object? value) => ToInstant(value) is { } instant
        ? Calendar.BusinessDaysBetween(DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, zone).DateTime), DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime))
        : null;

    /// <summary>The firing history <c>last_fired_of</c> and <c>last_delivered_of</c> read (the state store, or a test's history).</summary>
    public Runtime.IFiringHistory History { get; init; } = Runtime.EmptyHistory.Instance;

    /// <summary>The playbook whose rules <c>last_fired_of</c> names.</summary>
    public Model.PlaybookDefinition? Playbook { get; init; }

    /// <summary>The customer being rendered: set before each finding's templates (one playbook renders one finding at a time).</summary>
    public string CurrentKey { get; set; } = "";

    /// <summary>A rule of the playbook's history for the current customer, in the playbook's zone; null when it has none.</summary>
    private DateTime? Past(string rule, Func<Runtime.IFiringHistory, string, string, string, DateTimeOffset?> read)
    {
        if (Playbook is null || !Playbook.Rules.Any(r => r.Id == rule))
        {
            throw new InvalidOperationException($"'{rule}' is not a rule of playbook '{Playbook?.Id}' (its rules: {string.Join(", ", Playbook?.Rules.Select(r => r.Id) ?? [])})");
        }

        return read(History, Playbook.Id, rule, CurrentKey) is { } at ? TimeZoneInfo.ConvertTime(at, zone).DateTime : null;
    }

    /// <summary>Whole days from a date or datetime (shown in the playbook's zone) to now; null when missing.</summary>
    public int? DaysSince(object? value) => ToInstant(value) is { } instant ? (int)Math.Floor((now - instant).TotalDays) : null;

    /// <summary>Whole calendar months from a date or datetime to now; null when missing.</summary>
    public int? MonthsSince(object? value)
    {
        if (ToInstant(value) is not { } instant)
        {
            return null;
        }

        return CalendarMath.MonthsBetween(TimeZoneInfo.ConvertTime(instant, zone).DateTime, TimeZoneInfo.ConvertTime(now, zone).DateTime);
    }

    /// <summary>A number as money: thousands separators, two decimals, an optional symbol or code before it.</summary>
    public static string Money(object? value, string symbol = "")
    {
        if (value is null)
        {
            return "";
        }

        var amount = Convert.ToDecimal(value, CultureInfo.InvariantCulture);
        var text = Math.Abs(amount).ToString("N2", CultureInfo.InvariantCulture);
        var separator = symbol.Length > 1 && char.IsLetter(symbol[^1]) ? " " : "";
        return (amount < 0 ? "-" : "") + symbol + separator + text;
    }

    /// <summary>Text escaped for use inside a JSON string literal (without the quotes).</summary>
    /// <remarks>The same escaping as the serializer's, without starting the serializer (tens of milliseconds at start-up).</remarks>
    public static string JsonEscape(object? value)
    {
        var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
        return !text.AsSpan().ContainsAnyExcept(JsonUnescaped) ? text : JsonEncodedText.Encode(text, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value;
    }

    /// <summary>The printable ASCII characters the escaping writes as they are, asked of the encoder itself: text of only these is its own escape.</summary>
    internal static readonly SearchValues<char> JsonUnescaped = SearchValues.Create(
        [.. Enumerable.Range(0x20, 0x7F - 0x20).Select(c => (char)c).Where(c => JsonEncodedText.Encode(c.ToString(), JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value == c.ToString())]);

    /// <summary>Text escaped for HTML.</summary>
    public static string HtmlEscape(object? value) => WebUtility.HtmlEncode(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "");

    private DateTimeOffset? ToInstant(object? value) => value switch
    {
        DateTime local => new DateTimeOffset(local, zone.IsInvalidTime(local) ? zone.BaseUtcOffset : zone.GetUtcOffset(local)),
        DateTimeOffset instant => instant,
        DateOnly date => new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), zone.GetUtcOffset(date.ToDateTime(TimeOnly.MinValue))),
        _ => null,
    };
}
