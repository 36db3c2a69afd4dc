using System.CommandLine;

namespace PlaybookRunner.Cli.Tests;

/// <summary>The README's command table names every verb and every flag the command line has.</summary>
public sealed class ReadmeTests
{
    [Fact]
    public void Every_flag_of_every_verb_is_in_the_readme_command_table()
    {
        var readme = File.ReadAllLines(Path.Combine(CliRunner.RepoRoot, "README.md"));
        var root = CliApp.BuildRoot(TextWriter.Null, TextWriter.Null, TestEngine.Options());
        var missing = new List<string>();
        foreach (var command in root.Subcommands.Where(c => !c.Hidden).SelectMany(c => c.Subcommands.Count > 0 ? c.Subcommands.Select(s => (Name: $"{c.Name} {s.Name}", Command: s)) : [(c.Name, c)]))
        {
            var row = readme.FirstOrDefault(l => l.StartsWith($"| `playbook {command.Name} ", StringComparison.Ordinal) || l.StartsWith($"| `playbook {command.Name}`", StringComparison.Ordinal));
            if (row is null)
            {
                missing.Add($"playbook {command.Name}");
                continue;
            }

            missing.AddRange(command.Command.Options.Where(o => !o.Hidden && o.Name.StartsWith("--", StringComparison.Ordinal) && o.Name is not "--help" and not "--version")
                .Where(o => !row.Contains(o.Name, StringComparison.Ordinal)).Select(o => $"playbook {command.Name} {o.Name}"));
        }

        Assert.Empty(missing);
    }

    [Fact]
    public void The_top_level_help_shows_the_optional_path_and_dir_as_optional()
    {
        var (code, stdout, _) = CliRunner.Run("--help");

        Assert.Equal(0, code);
        Assert.Contains("  validate [PATH]  ", stdout, StringComparison.Ordinal);
        Assert.Contains("  explain <RULE> <KEY> [PATH]  ", stdout, StringComparison.Ordinal);
        Assert.Contains("  init [DIR]  ", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("<PATH>", stdout, StringComparison.Ordinal);
        Assert.Contains(" plan [<PATH>...] [options]", CliRunner.Run("plan", "--help").Out, StringComparison.Ordinal);
    }
}
