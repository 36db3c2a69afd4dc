using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;
using Scriban;
using Scriban.Runtime;

namespace PlaybookRunner.Core.Tests.Evaluation;

/// <summary>
/// Templates that are text and plain values render without Scriban's interpreter (<see cref="TemplateParts"/>).
/// Whatever the template, the sink and the values, the result must be exactly the interpreter's: the same text,
/// or the same error.
/// </summary>
public sealed class TemplatePartsTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static readonly string[] Templates =
    [
        "", "no values at all", "{{ name }}", "Hello {{ name }}!", "{{ name }}{{ name }}", "{{ rule.id }}/{{ playbook.id }}/{{ rule.severity }}",
        "{{ days_since last }} days", "{{ months_since last }} months", "{{ days_since missing_date }}", "{{ n }} and {{ d }} and {{ b }} and {{ big }}",
        "{\"a\": \"{{ name }}\", \"n\": {{ n }}, \"b\": {{ b }}, \"d\": {{ d }}}", "{\"a\": {{ name }}}", "{\"a\": \"x\\{{ name }}\"}", "{\"a\": \"{{ nothing }}\", \"b\": {{ nothing }}}",
        "https://h.example/x/{{ name }}?q={{ n }}", "{{ name }}/path", "https://{{ name }}/", "out/{{ name }}.jsonl", "<p>{{ name }}</p>",
        "{{ json_escape }}", "{{ missing }}", "{{ name.size }}", "{{~ name ~}}  x", "  a\n  {{ name }}\n", "{{ now }}", "{{ last }}", "{{ tags }}", "{{ rule }}",
        "{{ days_since }}", "{{ math.pi }}", "{{ ratio }}", "{{ if b }}yes{{ end }}", "{{ name | string.upcase }}", "{{ x = name }}{{ x }}",
        "{{ d | money }}", "{{ d | money \"€\" }}", "{{ money d }}", "{{ money d \"EUR\" }}", "{{ n | money }}", "{{ big | money \"$\" }}", "{{ name | money }}",
        "{{ nothing | money }}", "{{ ratio | money }}", "{\"revenue\": \"{{ d | money }}\", \"n\": {{ d | money }}}", "{{ d | money | string.upcase }}",
    ];

    private static readonly string[] Names = ["Acme", "O\"Brien", "<b>&amp;", "..", ".", "a/b", "é ü 😀", "", "x\ny", "  spaced  ", "\\", "}}", "a\u2028b"];

    private static TemplateScope Scope(string name) => Scope(name, slots: false);

    /// <summary>
    /// The scope of one finding whose value is <paramref name="name"/>; with <paramref name="slots"/>, its values are read
    /// by slot as the planner reads a record's (<see cref="IFindingValues"/>), else from the values object.
    /// </summary>
    private static TemplateScope Scope(string name, bool slots, string rule = "no-contact")
    {
        var helpers = new TemplateHelpers(Now, TimeZoneInfo.Utc);
        var finding = new ScriptObject();
        finding.SetValue("name", name, false);
        finding.SetValue("n", 42, false);
        finding.SetValue("big", 9_000_000_000L, false);
        finding.SetValue("d", 12.50m, false);
        finding.SetValue("b", true, false);
        finding.SetValue("ratio", 0.125, false);
        finding.SetValue("nothing", null, false);
        finding.SetValue("missing_date", null, false);
        finding.SetValue("last", new DateTime(2026, 1, 15), false);
        finding.SetValue("tags", new ScriptArray(new[] { "a", "b" }), false);
        var ruleObject = new ScriptObject { ["id"] = rule, ["title"] = "No contact", ["severity"] = "warning" };
        ruleObject.IsReadOnly = true;
        var shared = new ScriptObject();
        shared.SetValue("rule", ruleObject, true);
        shared.SetValue("playbook", new ScriptObject { ["id"] = "care", ["title"] = "Care" }, true);
        shared.SetValue("now", Now.DateTime, true);
        helpers.AddTo(shared);
        shared.IsReadOnly = true;
        return slots ? new TemplateScope(new SlotValues(finding), shared) { Helpers = helpers } : new TemplateScope(finding, shared) { Helpers = helpers };
    }

    /// <summary>A finding's values by slot: the slots of every name a scope has, one layout for all.</summary>
    private sealed class SlotValues(ScriptObject finding) : IFindingValues
    {
        private static readonly string[] Slots = ["name", "n", "big", "d", "b", "ratio", "nothing", "missing_date", "last", "tags", "json_escape", "rule"];

        public object Layout => Slots;

        public bool TryGet(string name, out object? value) => finding.TryGetValue(name, out value);

        public int Slot(string name) => finding.ContainsKey(name) ? Array.IndexOf(Slots, name) : -1;

        public object? At(int slot) => finding[Slots[slot]];

        public ScriptObject Build() => finding;
    }

    private static string Outcome(Func<string> render)
    {
        try
        {
            return "ok: " + render();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return $"{ex.GetType().Name}: {ex.Message}";
        }
    }

    [Fact]
    public void Every_template_sink_and_value_renders_exactly_as_the_interpreter_renders_it()
    {
        var compared = 0;
        foreach (var text in Templates)
        {
            var template = new CompiledTemplate(Template.Parse(text), new SpannedText(text, Core.Diagnostics.SourceLocation.None, []));
            foreach (var sink in Enum.GetValues<TemplateSink>())
            {
                foreach (var name in Names)
                {
                    foreach (var slots in new[] { false, true })
                    {
                        var scope = Scope(name, slots);
                        var fast = Outcome(() => TemplateRenderer.Render(template, scope, sink));
                        var interpreted = Outcome(() => TemplateRenderer.Render(template, scope, sink, interpreted: true));
                        Assert.True(fast == interpreted, $"template {text} in {sink} with name {name} (slots: {slots}):\n  without the interpreter: {fast}\n  interpreted:             {interpreted}");
                        compared++;
                    }
                }
            }
        }

        Assert.Equal(Templates.Length * Enum.GetValues<TemplateSink>().Length * Names.Length * 2, compared);
    }

    [Fact]
    public void A_template_rendered_for_two_rules_in_turn_writes_each_rule_its_own_names()
    {
        // What a template reads from the shared names is remembered for one shared object: another rule's is read anew.
        var template = new CompiledTemplate(Template.Parse("{{ rule.id }}: {{ name }} {{ n }}"), new SpannedText("", Core.Diagnostics.SourceLocation.None, []));
        var first = Scope("Acme", slots: true, rule: "first");
        var second = Scope("Initech", slots: true, rule: "second");
        var rendered = new[] { first, second, first, second }.Select(s => TemplateRenderer.Render(template, s, TemplateSink.Text)).ToList();
        Assert.Equal(["first: Acme 42", "second: Initech 42", "first: Acme 42", "second: Initech 42"], rendered);
    }

    [Theory]
    [InlineData("{\"customer\": \"{{ name }}\", \"monthly\": {{ d }}, \"key\": {{ b }}, \"rule\": \"{{ rule.id }}\"}", true)]
    [InlineData("{\"a\": [{{ n }}, {{ name }},{{ big }}]}", true)]
    [InlineData("{{ name }}", true)]
    [InlineData("  {{ d }}\n", true)]
    [InlineData("{\"a\": \"{{ name }} and {{ n }}\"}", true)]
    [InlineData("{\"a\": 1{{ n }}}", false)]
    [InlineData("{\"a\": {{ n }}{{ n }}}", false)]
    [InlineData("{\"a\": {{ n }} {{ n }}}", false)]
    [InlineData("{\"a\": -{{ n }}}", false)]
    [InlineData("{\"a\": {{ n }}0}", false)]
    [InlineData("{\"a\": \"{{ name }}\"", false)]
    [InlineData("{\"a\": \"x\\{{ name }}\"}", false)]
    [InlineData("{\"a\": {{ json_escape }}}", false)]
    [InlineData("{\"{{ name }}\": 1, {{ name }}: 2}", false)]
    public void A_json_body_is_known_to_be_json_from_its_text_only_when_every_value_stands_alone(string text, bool writesJson) =>
        Assert.Equal(writesJson, TemplateParts.Of(Template.Parse(text))!.WritesJson);

    [Fact]
    public void A_body_known_to_be_json_is_json_whatever_the_values()
    {
        // Whatever the data, a JSON body whose text makes any value JSON renders as one JSON value when written from its
        // parts: preflight does not read it again (a body rendered by the interpreter always is).
        string[] bodies =
        [
            "{\"customer\": \"{{ name }}\", \"monthly\": {{ d }}, \"key\": {{ b }}, \"n\": {{ n }}, \"big\": {{ big }}}",
            "[{{ name }}, {{ d | money }}, \"{{ money d \"€\" }}\", {{ days_since last }}]", "{{ name }}", "{\"a\": {\"b\": [ {{ name }} ]}}",
        ];
        var written = 0;
        foreach (var body in bodies)
        {
            var parts = TemplateParts.Of(Template.Parse(body))!;
            Assert.True(parts.WritesJson, body);
            foreach (var name in Names.Concat(["\"", "\\\"", "\u0000", "\t", "\ud800", "-1", "1e5", "null", "}]"]))
            {
                foreach (var slots in new[] { false, true })
                {
                    if (parts.TryRender(Scope(name, slots), TemplateSink.Json) is { } rendered)
                    {
                        Assert.True(ActionKind.IsJson(rendered), $"{body} with {name}: {rendered}");
                        written++;
                    }
                }
            }
        }

        Assert.True(written >= 60, $"only {written} bodies were written from their parts");
    }

    [Theory]
    [InlineData(65_535)]
    [InlineData(65_536)]
    [InlineData(65_537)]
    [InlineData(16_384)]
    public void At_the_output_limit_both_paths_agree(int length)
    {
        // 16,384 '<' are 65,536 characters once HTML-encoded: the limit is reached by escaping, not by the data.
        var value = length == 16_384 ? new string('<', length) : new string('a', length);
        foreach (var text in new[] { "{{ name }}", "x{{ name }}", "{\"a\": {{ name }}}", new string('t', length), new string('t', length) + "{{ n }}" })
        {
            var template = new CompiledTemplate(Template.Parse(text), new SpannedText(text, Core.Diagnostics.SourceLocation.None, []));
            foreach (var (sink, slots) in Enum.GetValues<TemplateSink>().SelectMany(s => new[] { (s, false), (s, true) }))
            {
                var fast = Outcome(() => TemplateRenderer.Render(template, Scope(value, slots), sink));
                var interpreted = Outcome(() => TemplateRenderer.Render(template, Scope(value, slots), sink, interpreted: true));
                Assert.True(fast == interpreted, $"{text[..Math.Min(40, text.Length)]} in {sink} with {length} characters:\n  {fast[..Math.Min(200, fast.Length)]}\n  {interpreted[..Math.Min(200, interpreted.Length)]}");
            }
        }
    }

    [Fact]
    public void A_helper_that_fails_on_a_value_fails_as_the_interpreter_reports_it()
    {
        // 0001-01-01 in a zone east of UTC cannot be an instant: days_since throws; the error is the interpreter's.
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
        var helpers = new TemplateHelpers(Now, zone);
        var finding = new ScriptObject();
        finding.SetValue("d", DateTime.MinValue, false);
        var shared = new ScriptObject();
        helpers.AddTo(shared);
        var scope = new TemplateScope(finding, shared) { Helpers = helpers };
        foreach (var text in new[] { "{{ days_since d }}", "{{ months_since d }}" })
        {
            var template = new CompiledTemplate(Template.Parse(text), new SpannedText(text, Core.Diagnostics.SourceLocation.None, []));
            Assert.Equal(Outcome(() => TemplateRenderer.Render(template, scope, TemplateSink.Text, interpreted: true)), Outcome(() => TemplateRenderer.Render(template, scope, TemplateSink.Text)));
        }
    }

    [Theory]
    [InlineData("Hello {{ name }}, {{ rule.id }}: {{ days_since last }} days", true)]
    [InlineData("{\"customer\": \"{{ id }}\", \"monthly\": {{ monthly }}}", true)]
    [InlineData("{{ if b }}yes{{ end }}", false)]
    [InlineData("{{ name | string.upcase }}", false)]
    [InlineData("{{ money revenue }}", true)]
    [InlineData("{{ revenue | money \"€\" }}", true)]
    [InlineData("{{ revenue | money | string.upcase }}", false)]
    [InlineData("{{ revenue | money symbol }}", false)]
    [InlineData("{{ x = 1 }}", false)]
    public void Text_and_plain_values_are_read_into_parts_and_anything_else_is_left_to_the_interpreter(string text, bool parts) =>
        Assert.Equal(parts, TemplateParts.Of(Template.Parse(text)) is not null);
}

/// <summary>The per-finding check that a webhook body is JSON reads it without building a document, and agrees with the parser.</summary>
public sealed class WebhookBodyCheckTests
{
    [Theory]
    [InlineData("{}")]
    [InlineData("{\"a\": 1, \"b\": [true, null, \"x\"]}")]
    [InlineData("  [1, 2]  ")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{\"a\": }")]
    [InlineData("{} {}")]
    [InlineData("{\"a\": 1,}")]
    [InlineData("/* note */ {}")]
    [InlineData("{\"a\": \"\\x\"}")]
    [InlineData("{\"é\": \"😀\"}")]
    [InlineData("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]")]
    public void It_accepts_exactly_what_the_parser_accepts(string body)
    {
        bool parses;
        try
        {
            using var _ = System.Text.Json.JsonDocument.Parse(body);
            parses = true;
        }
        catch (System.Text.Json.JsonException)
        {
            parses = false;
        }

        Assert.Equal(parses, Core.Model.ActionKind.IsJson(body));
        Assert.Equal(parses, Core.Model.ActionKind.IsJson(body + new string(' ', 5000)));
    }
}
