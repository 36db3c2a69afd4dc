using Microsoft.Extensions.Time.Testing;
using PlaybookRunner.Core.Execution;

namespace PlaybookRunner.Core.Tests.Execution;

/// <summary>
/// The holds of followed rules (<c>for:</c>, <c>on_resolve:</c>) in the state store, SQLite and PostgreSQL: a hold goes on,
/// ends when an evaluation over all customers does not see it, restarts with no firing, and a resolution is not a firing.
/// Each step is read back through a store opened afresh, as the next run would.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class HoldStoreTests(PostgresServer postgres)
{
    private static readonly DateTimeOffset T1 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Sqlite_holds_go_on_end_restart_and_a_resolution_is_not_a_firing()
    {
        using var workspace = new TempWorkspace();
        var path = Path.Combine(workspace.Root, "state.db");
        Check(() => SqliteStateStore.OpenForWrite(path, new FakeTimeProvider(T1), TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Postgres_holds_go_on_end_restart_and_a_resolution_is_not_a_firing()
    {
        var connection = postgres.CreateDatabase("pbholds");
        Check(() => PostgresStateStore.Open(connection, write: true, TimeProvider.System, TimeSpan.FromSeconds(30)));
    }

    private static void Check(Func<StateStore> open)
    {
        (string, string)[] evaluated = [("p", "r")];
        using (var store = open())
        {
            store.RecordHolds(T1, [new("p", "r", "A", T1, false), new("p", "r", "B", T1, true)], evaluated);
        }

        using (var store = open())
        {
            Assert.Equal((T1, (DateTimeOffset?)null), store.Holding("p", "r", "A"));
            Assert.Equal((T1, (DateTimeOffset?)T1), store.Holding("p", "r", "B"));
            Assert.Null(store.Holding("p", "other", "A"));

            // Next day A still holds and fires; B was not seen: its hold ended.
            store.RecordHolds(T1.AddDays(1), [new("p", "r", "A", T1, true)], evaluated);
        }

        using (var store = open())
        {
            Assert.Equal((T1, (DateTimeOffset?)T1.AddDays(1)), store.Holding("p", "r", "A"));
            Assert.Null(store.Holding("p", "r", "B"));

            // A run narrowed to keys marks no evaluation: C's hold starts, A's goes on although not seen.
            store.RecordHolds(T1.AddDays(2), [new("p", "r", "C", T1.AddDays(2), false)], []);
        }

        using (var store = open())
        {
            Assert.Equal((T1, (DateTimeOffset?)T1.AddDays(1)), store.Holding("p", "r", "A"));
            Assert.Equal((T1.AddDays(2), (DateTimeOffset?)null), store.Holding("p", "r", "C"));

            // A new hold of A (it broke in between, so the plan started it afresh) forgets the old hold's firing.
            store.RecordHolds(T1.AddDays(3), [new("p", "r", "A", T1.AddDays(3), false), new("p", "r", "C", T1.AddDays(2), false)], evaluated);
            store.RecordFirings([new Firing("p", "r", "B", T1.AddDays(3), [("p/r/B/resolve-0/x", 0, "file", "file", "{}")]) { Kind = "resolved" }], T1.AddDays(3));
        }

        using (var store = open())
        {
            Assert.Equal((T1.AddDays(3), (DateTimeOffset?)null), store.Holding("p", "r", "A"));
            Assert.Null(store.LastFired("p", "r", "B")); // the resolution starts no cooldown
            Assert.Single(store.Pending(), a => a.IdempotencyKey == "p/r/B/resolve-0/x");
        }
    }
}
