using PlaybookRunner.Core.Compilation;
using PlaybookRunner.Core.Model;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// What preflight answers once per plan. File paths (<see cref="Loading.OutputPathCheck"/>), and the verdicts on rendered
/// fields, which are functions of the field's template and the text alone: recipients, subjects, URLs repeat across
/// findings (<c>cs-{{ region }}@...</c>, an owner's address, a fixed URL), so each distinct text of a field is checked once.
/// A field whose texts are all different (a body, a customer's own address) stops being remembered once
/// <see cref="Capacity"/> texts were: past that it is checked every time, as before, at no extra cost.
/// </summary>
internal sealed class PreflightChecks(WorkspaceDefinition workspace)
{
    /// <summary>The most distinct texts remembered per field.</summary>
    private const int Capacity = 1024;

    /// <summary>Longer texts are checked every time: remembering them would cost more than it saves.</summary>
    private const int MaxLength = 256;

    private readonly Dictionary<CompiledActionField, Dictionary<string, (string Problem, string Message)?>?> _verdicts = new(ReferenceEqualityComparer.Instance);

    /// <summary>File paths a file action may write, answered once per path.</summary>
    public Loading.OutputPathCheck Paths { get; } = new(workspace);

    /// <summary>
    /// <see cref="ActionKind.RenderedProblem"/> of <paramref name="field"/>'s <paramref name="text"/>, remembered per distinct text;
    /// <paramref name="knownJson"/> as there (a text known to be JSON is not remembered: what is left to check costs less).
    /// </summary>
    public (string Problem, string Message)? RenderedProblem(ActionKind kind, CompiledActionField field, string text, string template, bool knownJson = false)
    {
        if (text.Length > MaxLength || knownJson)
        {
            return kind.RenderedProblem(field.Name, text, template, knownJson);
        }

        Dictionary<string, (string, string)?>? known;
        lock (_verdicts)
        {
            if (!_verdicts.TryGetValue(field, out known))
            {
                _verdicts[field] = known = new Dictionary<string, (string, string)?>(StringComparer.Ordinal);
            }

            if (known is not null && known.TryGetValue(text, out var verdict))
            {
                return verdict;
            }
        }

        var answer = kind.RenderedProblem(field.Name, text, template);
        if (known is not null)
        {
            lock (_verdicts)
            {
                if (known.Count < Capacity)
                {
                    known.TryAdd(text, answer);
                }
                else
                {
                    // Every text so far was new: this field's texts are the customer's own; stop remembering them.
                    _verdicts[field] = null;
                }
            }
        }

        return answer;
    }
}
