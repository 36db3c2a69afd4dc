using PlaybookRunner.Core.Diagnostics;
using PlaybookRunner.Core.Yaml;

namespace PlaybookRunner.Core.Tests.Loading;

public sealed class YamlTreeReaderTests
{
    private static IReadOnlyList<Diagnostic> Read(string text)
    {
        var diagnostics = new DiagnosticBag();
        YamlTreeReader.Read("f.yaml", text, diagnostics);
        return diagnostics.Items;
    }

    [Fact]
    public void Alias_bombs_are_stopped()
    {
        var text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
        for (var i = 0; i < 8; i++)
        {
            text += $"{(char)('b' + i)}: &{(char)('b' + i)} [*{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}]\n";
        }

        var error = Assert.Single(Read(text));
        Assert.Equal("PB1008", error.Id);
        Assert.StartsWith("Aliases expand this document to more than", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_many_aliases_are_stopped()
    {
        var text = "a: &a x\nb: [" + string.Join(", ", Enumerable.Repeat("*a", YamlTreeReader.MaxAliases + 1)) + "]\n";
        var error = Assert.Single(Read(text));
        Assert.Equal(("PB1008", $"More than {YamlTreeReader.MaxAliases} aliases"), (error.Id, error.Message));
    }

    [Fact]
    public void Deep_nesting_is_stopped()
    {
        var text = new string('[', 100) + new string(']', 100);
        var error = Assert.Single(Read(text));
        Assert.Equal(("PB1008", $"Nesting is deeper than {YamlTreeReader.MaxDepth} levels"), (error.Id, error.Message));
    }

    [Fact]
    public void Huge_files_are_refused_before_parsing()
    {
        var error = Assert.Single(Read("a: " + new string('x', YamlTreeReader.MaxFileBytes + 1)));
        Assert.Equal("PB1008", error.Id);
    }

    [Fact]
    public void Invalid_utf8_is_located()
    {
        using var workspace = new TempWorkspace();
        var path = Path.Combine(workspace.Root, "bad.yaml");
        File.WriteAllBytes(path, [.. "playbook: p\ntitle: caf"u8.ToArray(), 0xC3, 0x28, (byte)'\n']);
        var diagnostics = new DiagnosticBag();
        Assert.Null(YamlTreeReader.ReadFile(path, diagnostics));
        var error = Assert.Single(diagnostics.Items);
        Assert.Equal(("PB1001", 2, 11, "File is not valid UTF-8"), (error.Id, error.Location.Line, error.Location.Column, error.Message));
    }

    [Fact]
    public void Scalars_know_where_their_lines_start()
    {
        var diagnostics = new DiagnosticBag();
        var root = (YamlMapping)YamlTreeReader.Read("f.yaml", "a: 'q'\nb: |\n    x\n    y\n", diagnostics)!;
        Assert.Equal([new Core.Model.LineStart(1, 5)], ((YamlScalar)root["a"]!).ContentLines);
        Assert.Equal([new Core.Model.LineStart(3, 5), new Core.Model.LineStart(4, 5)], ((YamlScalar)root["b"]!).ContentLines.Take(2));
    }
}
