using System.Globalization;
using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using PlaybookRunner.Core.Compilation;
using Scriban;
using Scriban.Parsing;
using Scriban.Runtime;

namespace PlaybookRunner.Core.Evaluation;

/// <summary>Renders templates with limits (loops, recursion, output size) and no access to .NET members.</summary>
internal static class TemplateRenderer
{
    public const int LoopLimit = 1_000;
    public const int RecursiveLimit = 20;
    public const int OutputLimit = 64 * 1024;

    /// <summary>
    /// The built-in objects whose members run code or read the wall clock, replaced by read-only copies
    /// without those members: validate rejects <c>object.eval</c> and <c>date.now</c> by name, and these
    /// copies make them unreachable by value too (<c>o = object; o.eval</c>, <c>object["eval"]</c>,
    /// <c>d = date; d.now</c>).
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
        foreach (var (name, members) in Removed)
        {
            var copy = new ScriptObject();
            foreach (var member in ((ScriptObject)builtins[name]!).Where(m => !members.Contains(m.Key, StringComparer.Ordinal)))
            {
                copy[member.Key] = member.Value;
            }

            copy.IsReadOnly = true;
            restricted[name] = copy;
        }

        restricted.IsReadOnly = true;
        return restricted;
    }

    /// <summary>Renders one template against <paramref name="globals"/>; HTML mode escapes every value written.</summary>
    public static string Render(CompiledTemplate template, ScriptObject globals, bool html)
    {
        var context = html ? new HtmlTemplateContext() : new TemplateContext();
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
        context.PushGlobal(globals);
        if (html)
        {
            // In an HTML body every value is escaped on output; html_escape marks text as already safe.
            var overrides = new ScriptObject();
            overrides.Import("html_escape", new Func<object?, HtmlRaw>(v => new HtmlRaw(WebUtility.HtmlEncode(Convert.ToString(v, CultureInfo.InvariantCulture) ?? ""))));
            context.PushGlobal(overrides);
        }

        return WellFormed(template.Template.Render(context));
    }

    /// <summary>Replaces lone surrogates (say, half an emoji cut by string.slice) so the text is valid UTF-16.</summary>
    private static string WellFormed(string text)
    {
        if (!text.Any(char.IsSurrogate))
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

    /// <summary>Text already safe for HTML.</summary>
    internal sealed record HtmlRaw(string Html)
    {
        public override string ToString() => Html;
    }

    private sealed class HtmlTemplateContext : TemplateContext
    {
        public override TemplateContext Write(SourceSpan span, object? textAsObject)
        {
            if (textAsObject is HtmlRaw raw)
            {
                return base.Write(span, raw.Html);
            }

            var text = ObjectToString(textAsObject);
            return base.Write(span, WebUtility.HtmlEncode(text));
        }
    }
}

/// <summary>The helper functions templates see (spec section 6), bound to one evaluation instant and zone.</summary>
internal sealed class TemplateHelpers(DateTimeOffset now, TimeZoneInfo zone)
{

    public void AddTo(ScriptObject target)
    {
        target.Import("days_since", new Func<object?, int?>(DaysSince));
        target.Import("months_since", new Func<object?, int?>(MonthsSince));
        target.Import("money", new Func<object?, string, string>(Money));
        target.Import("json_escape", new Func<object?, string>(JsonEscape));
        target.Import("html_escape", new Func<object?, string>(HtmlEscape));
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
    public static string JsonEscape(object? value) =>
        JsonEncodedText.Encode(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "", JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value;

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
