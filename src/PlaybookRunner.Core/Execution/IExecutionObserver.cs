namespace PlaybookRunner.Core.Execution;

/// <summary>Told about each action a run or a daemon executes, as it happens (<see cref="EngineOptions.Observer"/>).</summary>
public interface IExecutionObserver
{
    /// <summary>
    /// An action was claimed and its attempt recorded; its side effect comes next. Called on the executing
    /// thread: the action waits until this returns.
    /// </summary>
    /// <param name="idempotencyKey">The action's idempotency key.</param>
    void Claimed(string idempotencyKey);
}
