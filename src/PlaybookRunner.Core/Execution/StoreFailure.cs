using System.Data.Common;

namespace PlaybookRunner.Core.Execution;

/// <summary>
/// A state store operation failed while executing: the store is unreachable, read-only, full or corrupt. The runner
/// stops executing (a <c>run</c> with PB5014, the daemon pauses until the store answers again) rather than deliver
/// what it cannot record.
/// </summary>
internal sealed class StoreFailureException(string store, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The store, as a user names it: the SQLite file or the PostgreSQL database.</summary>
    public string Store { get; } = store;

    /// <summary>The actions attempted whose outcomes only could not be recorded: the daemon records them once the store answers.</summary>
    public IReadOnlyList<UnrecordedOutcome> Unrecorded { get; init; } = [];
}

/// <summary>An attempt whose outcome the store could not record: the claim it ran under, its attempt row, how it ended.</summary>
internal sealed record UnrecordedOutcome(ActionRecord Claim, int Attempt, AttemptOutcome Outcome, int Attempts);

/// <summary>The state store does not exist (or is empty) and was not to be created: PB5013.</summary>
internal sealed class StoreMissingException(string store) : Exception($"The state store {store} does not exist")
{
    public string Store { get; } = store;
}

/// <summary>Which exceptions mean "the store failed", as opposed to a bug.</summary>
internal static class StoreErrors
{
    /// <summary>True for errors of the database, its connection or its file: worth a diagnostic and a retry, never a crash.</summary>
    public static bool IsStoreError(Exception ex) => ex switch
    {
        StoreFailureException or StoreMissingException => true,
        DbException or IOException or TimeoutException or System.Net.Sockets.SocketException or UnauthorizedAccessException => true,
        InvalidOperationException { Source: "Npgsql" or "Microsoft.Data.Sqlite" } => true,
        InvalidOperationException when ex.InnerException is { } inner => IsStoreError(inner),
        _ => false,
    };

    /// <summary>Runs one store operation, turning a store error into a <see cref="StoreFailureException"/>.</summary>
    public static T Guard<T>(StateStore store, Func<T> operation, string doing)
    {
        try
        {
            return operation();
        }
        catch (Exception ex) when (ex is not StoreFailureException && IsStoreError(ex))
        {
            throw new StoreFailureException(store.Name, $"{doing}: {ex.Message.TrimEnd('.')}", ex);
        }
    }

    /// <inheritdoc cref="Guard{T}(StateStore, Func{T}, string)"/>
    public static void Guard(StateStore store, Action operation, string doing) => Guard(store, () =>
    {
        operation();
        return true;
    }, doing);
}
