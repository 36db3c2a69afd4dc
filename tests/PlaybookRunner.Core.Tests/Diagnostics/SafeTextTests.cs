using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Core.Tests.Diagnostics;

/// <summary>Text from data on one line of output, and the writer every command prints through.</summary>
public sealed class SafeTextTests
{
    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("a\nb", "a\\nb")]
    [InlineData("a\r\nb", "a\\r\\nb")]
    [InlineData("\u001b[2J", "\\u001B[2J")]
    [InlineData("nul\0", "nul\\u0000")]
    [InlineData("del\u007f c1\u009b", "del\\u007F c1\\u009B")]
    [InlineData("line\u2028para\u2029", "line\\u2028para\\u2029")]
    [InlineData("\u202Egnp.exe", "\\u202Egnp.exe")]
    [InlineData("tab\there", "tab\\there")]
    [InlineData("\uFEFFbom", "\\uFEFFbom")]
    public void One_line_shows_every_unsafe_character_as_an_escape(string text, string expected) =>
        Assert.Equal(expected, SafeText.OneLine(text));

    [Fact]
    public void Visible_keeps_line_breaks_and_tabs()
    {
        Assert.Equal("a\nb\tc\r\nd\\re\\u001B", SafeText.Visible("a\nb\tc\r\nd\re\u001b"));
    }

    [Fact]
    public void The_writer_escapes_controls_and_workflow_commands_at_any_line_start()
    {
        var inner = new StringWriter { NewLine = "\n" };
        var writer = new SafeTextWriter(inner);

        writer.WriteLine("ok \u001b[31mred");
        writer.Write("::error file=x::forged\n");
        writer.Write("  ::warning::indented\n");
        writer.Write("not :: at start\n");
        writer.Write('\u0007');
        writer.WriteLine();

        Assert.Equal("ok \\u001B[31mred\n\\u003A:error file=x::forged\n  \\u003A:warning::indented\nnot :: at start\n\\u0007\n", inner.ToString());
    }

    [Fact]
    public void Diagnostic_messages_and_plan_errors_are_one_line()
    {
        var diagnostic = Diagnostic.Create(DiagnosticDescriptors.TemplateFailed, SourceLocation.None, "rule 'r'", "K\n::error::x", "boom\r\n");
        Assert.DoesNotContain('\n', diagnostic.Message);
        Assert.Contains("K\\n::error::x", diagnostic.Message, StringComparison.Ordinal);
        Assert.Equal("a\\nb", new Diagnostic(DiagnosticDescriptors.TemplateFailed, SourceLocation.None, DiagnosticSeverity.Error, "a\nb").Message);
        Assert.Equal("a\\nb", Diagnostic.About(DiagnosticDescriptors.TemplateFailed, "p", "r", "k", "rule 'r'", "k", "a\nb").Arguments[2]);
    }

    [Fact]
    public void The_same_report_twice_is_one_diagnostic_whatever_its_argument_lists()
    {
        // A diagnostic carries its arguments as a list; two reports of the same thing still deduplicate.
        var first = Diagnostic.About(DiagnosticDescriptors.TemplateFailed, "p", "r", "k", "rule 'r'", "k", "boom");
        var second = Diagnostic.About(DiagnosticDescriptors.TemplateFailed, "p", "r", "k", "rule 'r'", "k", "boom");
        Assert.Equal(first, second);
        Assert.Single(new[] { first, second }.Distinct());
        Assert.NotEqual(first, second with { Key = "other" });
    }

    [Theory]
    [InlineData("::error file=x::y.yaml", "./::error file=x::y.yaml")]
    [InlineData("p\n.yaml", "p\\n.yaml")]
    [InlineData("p.yaml", "p.yaml")]
    [InlineData("x(1,1): error PB1234: forged.yaml", "x(\u20601,1): error PB1234: forged.yaml")]
    public void Display_paths_cannot_start_a_workflow_command_or_a_line(string name, string expected) =>
        Assert.Equal(expected, DiagnosticFormatter.DisplayPath(Path.Combine("/ws", name), "/ws"));
}
