using System.CommandLine;
using PlaybookRunner.Core.Scaffolding;
using PlaybookRunner.Core.Diagnostics;

namespace PlaybookRunner.Cli.Commands;

/// <summary><c>playbook init [DIR]</c>: scaffold a workspace that validates, plans and tests out of the box.</summary>
internal static class InitCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, TimeProvider time)
    {
        var directory = new Argument<string>("DIR") { Description = "Where to create the workspace (default: the current folder)", Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "." };
        var force = new Option<bool>("--force") { Description = "Overwrite files that already exist" };
        var command = new Command("init", "Create a workspace: runner.yaml, a playbook, its tests, sample data and the JSON schemas.") { directory, force };
        command.SetAction(result =>
        {
            var root = Path.GetFullPath(result.GetValue(directory)!);
            var files = WorkspaceScaffold.Files(DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime));
            var existing = files.Select(f => f.Path).Where(p => File.Exists(Path.Combine(root, p))).ToList();
            if (existing.Count > 0 && !result.GetValue(force))
            {
                CliApp.Report(stderr, DiagnosticDescriptors.BadInvocation, $"{root} already has {string.Join(", ", existing)}; nothing was written (use --force to overwrite)");
                return CliApp.Errors;
            }

            try
            {
                foreach (var (path, content) in files)
                {
                    var full = Path.Combine(root, path);
                    Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                    File.WriteAllText(full, content.ReplaceLineEndings("\n"));
                    stdout.WriteLine($"created {path}");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                CliApp.Report(stderr, DiagnosticDescriptors.FileWrite, root, ex.Message.TrimEnd('.'));
                return CliApp.Errors;
            }

            stdout.WriteLine();
            var here = Path.GetRelativePath(Directory.GetCurrentDirectory(), root);
            var first = "Next: ";
            if (here != ".")
            {
                // The commands below read playbooks/ from where they run: the new folder.
                stdout.WriteLine($"Next: cd {(here.Contains(' ', StringComparison.Ordinal) ? $"\"{here}\"" : here)}");
                first = "      ";
            }

            stdout.WriteLine($"{first}playbook validate playbooks/   (check it like a compiler)");
            stdout.WriteLine("      playbook plan playbooks/       (what would happen today; no side effects)");
            stdout.WriteLine("      playbook test playbooks/       (the playbook's tests)");
            return CliApp.Success;
        });
        return command;
    }
}
