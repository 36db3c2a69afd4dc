using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Evaluation;
using PlaybookRunner.Core.Model;
using Scriban;
using Scriban.Runtime;

namespace PlaybookRunner.Core.Tests.Evaluation;

/// <summary>
/// Render contexts are reused (one per sink and thread): nothing of one render may reach the next, neither a
/// finding's values nor where the JSON escaping stood, nor a variable a template set; and a failed render's context
/// is not reused.
/// </summary>
public sealed class TemplateContextReuseTests
{
    private static CompiledTemplate Parse(string text) => new(Template.Parse(text), new SpannedText(text, Core.Diagnostics.SourceLocation.None, []));

    private static TemplateScope Values(string name)
    {
        var globals = new ScriptObject();
        globals.SetValue("name", name, false);
        return new TemplateScope(globals, Shared());
    }

    private static TemplateScope Empty() => new(new ScriptObject(), Shared());

    /// <summary>What the findings of one rule share, read-only, as the planner makes it.</summary>
    private static ScriptObject Shared()
    {
        var rule = new ScriptObject { ["id"] = "r" };
        rule.IsReadOnly = true;
        var shared = new ScriptObject();
        shared.SetValue("rule", rule, true);
        shared.IsReadOnly = true;
        return shared;
    }

    [Fact]
    public void A_json_render_that_ends_inside_a_string_does_not_change_how_the_next_escapes()
    {
        // Ends inside a string literal, just after a backslash: the next render starts afresh all the same.
        Assert.Equal("{\"a\": \"x\\", TemplateRenderer.Render(Parse("{\"a\": \"{{ name }}\\"), Values("x"), TemplateSink.Json));
        Assert.Equal("{\"a\": \"O\\\"Brien\"}", TemplateRenderer.Render(Parse("{\"a\": {{ name }}}"), Values("O\"Brien"), TemplateSink.Json));
    }

    [Fact]
    public void A_finding_s_values_and_the_variables_a_template_sets_are_gone_at_the_next_render()
    {
        Assert.Equal("Acme", TemplateRenderer.Render(Parse("{{ leak = name }}{{ name }}"), Values("Acme"), TemplateSink.Text));
        var error = Assert.ThrowsAny<Exception>(() => TemplateRenderer.Render(Parse("{{ leak }}"), Empty(), TemplateSink.Text));
        Assert.Contains("leak", error.Message, StringComparison.Ordinal);
        Assert.Throws<Scriban.Syntax.ScriptRuntimeException>(() => TemplateRenderer.Render(Parse("{{ name }}"), Empty(), TemplateSink.Text));
    }

    [Fact]
    public void After_a_render_that_failed_the_next_one_escapes_as_ever()
    {
        Assert.ThrowsAny<Exception>(() => TemplateRenderer.Render(Parse("{\"a\": \"\\{{ name }}\"}"), Values("role"), TemplateSink.Json));
        Assert.Equal("<p>&lt;b&gt;</p>", TemplateRenderer.Render(Parse("<p>{{ name }}</p>"), Values("<b>"), TemplateSink.Html));
        Assert.Equal("{\"a\": \"\\\"}\"}", TemplateRenderer.Render(Parse("{\"a\": \"{{ name }}\"}"), Values("\"}"), TemplateSink.Json));
    }

    [Theory]
    [InlineData("{{ rule.id = name }}")]
    [InlineData("{{ rule = name }}")]
    [InlineData("{{ r = rule; r.id = name }}")]
    [InlineData("{{ rule[\"id\"] = name }}")]
    public void A_template_cannot_change_what_the_findings_of_its_rule_share(string write)
    {
        // rule, playbook, now and the helpers are made once per rule and shared by its findings: read-only.
        var scope = Values("alice");
        foreach (var sink in new[] { TemplateSink.Text, TemplateSink.Json })
        {
            try
            {
                TemplateRenderer.Render(Parse(write), scope, sink);
            }
            catch (Exception ex) when (ex is Scriban.Syntax.ScriptRuntimeException or InvalidOperationException)
            {
            }

            Assert.Equal("r", TemplateRenderer.Render(Parse("{{ rule.id }}"), new TemplateScope(Values("bob").Finding, scope.Shared), TemplateSink.Text));
        }
    }

    [Theory]
    [InlineData("{{ math[\"leak\"] = name }}")]
    [InlineData("{{ m = string; m.leak = name }}")]
    [InlineData("{{ with math }}{{ leak = name }}{{ end }}")]
    [InlineData("{{ k = \"leak\"; array[k] = name }}")]
    public void A_template_cannot_write_into_a_built_in_object_which_would_reach_the_next_finding(string write)
    {
        foreach (var sink in new[] { TemplateSink.Text, TemplateSink.Json })
        {
            Assert.ThrowsAny<Exception>(() => TemplateRenderer.Render(Parse(write), Values("alice"), sink));
            foreach (var read in new[] { "math", "string", "array" })
            {
                // Nothing was written: reading the key finds nothing there (strict variables make that an error, not "alice").
                var error = Assert.ThrowsAny<Exception>(() => TemplateRenderer.Render(Parse($"[{{{{ {read}[\"leak\"] }}}}]"), Values("bob"), TemplateSink.Text));
                Assert.DoesNotContain("alice", error.Message, StringComparison.Ordinal);
                Assert.Contains("leak", error.Message, StringComparison.Ordinal);
            }
        }
    }

    [Theory]
    [InlineData("json", "{\"a\": \"{{ capture c }}hi {{ name }}{{ end }}{{ c }}\"}", "{\"a\": \"hi x\"}")]
    [InlineData("url", "http://h/x/{{ v = name }}{{ v }}", "http://h/x/x")]
    [InlineData("html", "{{ t = name }}<b>{{ t }}</b>", "<b>x</b>")]
    public void Assignments_and_captures_render_in_every_sink_and_are_gone_at_the_next_render(string kind, string template, string expected)
    {
        var sink = kind switch { "json" => TemplateSink.Json, "url" => TemplateSink.Url, _ => TemplateSink.Html };
        Assert.Equal(expected, TemplateRenderer.Render(Parse(template), Values("x"), sink));
        Assert.ThrowsAny<Exception>(() => TemplateRenderer.Render(Parse("{{ c }}{{ v }}{{ t }}"), Empty(), sink));
    }
}
