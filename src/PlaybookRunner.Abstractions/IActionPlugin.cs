namespace PlaybookRunner.Abstractions;

/// <summary>
/// An action <see cref="Type"/> provided by a plugin, such as <c>slack</c> or <c>crm-task</c>. The host
/// renders every field (they are templates), records the intent, calls <see cref="ExecuteAsync"/>, and
/// records the outcome; the idempotency key lets a sink drop a repeat after a crash.
/// </summary>
public interface IActionPlugin
{
    /// <summary>The <c>type:</c> this plugin provides: lowercase letters, digits and '-'.</summary>
    string Type { get; }

    /// <summary>The fields this action takes (every one a template); validate rejects others.</summary>
    IReadOnlyList<ActionFieldSpec> Fields { get; }

    /// <summary>Executes one action. Never throws for an expected failure: return an outcome instead.</summary>
    Task<ActionOutcome> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken);
}

/// <summary>One field an action plugin accepts.</summary>
/// <param name="Name">The YAML key.</param>
/// <param name="Required">Whether validate requires it.</param>
/// <param name="Description">One line, shown in docs and errors.</param>
public sealed record ActionFieldSpec(string Name, bool Required, string Description);

/// <summary>An action to execute, every field rendered.</summary>
/// <param name="IdempotencyKey">Stable across retries of the same firing: playbook, rule, key, action index, firing time.</param>
/// <param name="Fields">Rendered field values by name.</param>
/// <param name="Playbook">The playbook id.</param>
/// <param name="Rule">The rule id.</param>
/// <param name="Key">The customer key.</param>
public sealed record ActionRequest(string IdempotencyKey, IReadOnlyDictionary<string, string> Fields, string Playbook, string Rule, string Key);

/// <summary>How an action ended.</summary>
public enum ActionStatus
{
    /// <summary>Done.</summary>
    Succeeded,
    /// <summary>Failed, worth retrying later with the same idempotency key.</summary>
    Transient,
    /// <summary>Failed for good; goes to the dead-letter list.</summary>
    Permanent,
}

/// <summary>The outcome of one action.</summary>
/// <param name="Status">Succeeded, transient or permanent failure.</param>
/// <param name="Message">One line for history and logs; never a secret.</param>
/// <param name="RetryAfter">For transient failures, how long the sink asked to wait, if it said.</param>
public sealed record ActionOutcome(ActionStatus Status, string Message, TimeSpan? RetryAfter = null);
