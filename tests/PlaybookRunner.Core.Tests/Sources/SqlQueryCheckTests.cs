using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Tests.Sources;

/// <summary>A source query is one read: attacks that write files, change the session or run programs are refused.</summary>
public sealed class SqlQueryCheckTests
{
    [Theory]
    [InlineData("VACUUM INTO '/tmp/outside.db'; SELECT id FROM t", "2 statements")]
    [InlineData("ATTACH DATABASE '/etc/secret.db' AS o; SELECT v AS id FROM o.s", "2 statements")]
    [InlineData("COMMIT; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; COMMIT; COPY (SELECT 1) TO PROGRAM 'id'; SELECT id FROM t", "5 statements")]
    [InlineData("SELECT id FROM t; DROP TABLE t", "2 statements")]
    [InlineData("SELECT id FROM t;/* */DROP TABLE t", "2 statements")]
    [InlineData("VACUUM INTO '/tmp/outside.db'", "not 'VACUUM'")]
    [InlineData("ATTACH '/etc/secret.db' AS o", "not 'ATTACH'")]
    [InlineData("DELETE FROM t", "not 'DELETE'")]
    [InlineData("COPY t TO PROGRAM 'id'", "not 'COPY'")]
    [InlineData("  -- a comment\n  pragma writable_schema = 1", "not 'PRAGMA'")]
    [InlineData("SELECT 1 /* never closed", "not closed")]
    [InlineData("SELECT 'never closed", "not closed")]
    [InlineData("SELECT $x$ never closed", "not closed")]
    [InlineData(";", "empty")]
    public void Anything_but_one_read_is_refused(string query, string why)
    {
        Assert.Contains(why, SqlQueryCheck.Problem(query), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SELECT id, name FROM customers")]
    [InlineData("select id from t;")]
    [InlineData("SELECT ';' AS semi, 'it''s; fine' AS quoted, \"odd;name\" AS n, [br;acket] AS b FROM t")]
    [InlineData("SELECT id FROM t -- ; DROP TABLE t")]
    [InlineData("SELECT id FROM t /* ; DROP TABLE t */")]
    [InlineData("WITH recent AS (SELECT * FROM t WHERE at > '2026-01-01') SELECT id FROM recent")]
    [InlineData("SELECT $$;$$ AS dollar, $tag$ ; $tag$ AS tagged")]
    [InlineData("(SELECT 1 AS id)")]
    [InlineData("VALUES (1), (2)")]
    public void One_read_passes(string query)
    {
        Assert.Null(SqlQueryCheck.Problem(query));
    }

    [Fact]
    public void Validate_refuses_a_writing_query_at_its_line()
    {
        using var workspace = new TempWorkspace();
        var file = workspace.Write("p.yaml", """
            playbook: p
            source:
              kind: sqlite
              path: s.db
              query: "VACUUM INTO 'outside.db'; SELECT 'A' AS id"
              key: id
              fields: { id: string }
            rules:
              - { id: r, when: "true" }
            """);
        var error = Assert.Single(PlaybookEngine.Validate([file]).Diagnostics, d => d.IsError);
        Assert.Equal(5, error.Location.Line);
        Assert.Contains("the query has 2 statements", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(workspace.Root, "outside.db")));
    }
}
