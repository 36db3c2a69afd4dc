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
    [InlineData(";", "empty")]
    public void Anything_but_one_read_is_refused(string query, string why)
    {
        Assert.Contains(why, SqlQueryCheck.Problem(query, postgres: false), StringComparison.Ordinal);
        Assert.Contains(why, SqlQueryCheck.Problem(query, postgres: true), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SELECT id, name FROM customers")]
    [InlineData("select id from t;")]
    [InlineData("SELECT ';' AS semi, 'it''s; fine' AS quoted, \"odd;name\" AS n FROM t")]
    [InlineData("SELECT id FROM t -- ; DROP TABLE t")]
    [InlineData("SELECT id FROM t /* ; DROP TABLE t */")]
    [InlineData("WITH recent AS (SELECT * FROM t WHERE at > '2026-01-01') SELECT id FROM recent")]
    [InlineData("(SELECT 1 AS id)")]
    [InlineData("VALUES (1), (2)")]
    public void One_read_passes(string query)
    {
        Assert.Null(SqlQueryCheck.Problem(query, postgres: false));
        Assert.Null(SqlQueryCheck.Problem(query, postgres: true));
    }

    [Theory]
    // SQLite has no dollar quotes: x$b$ is a name, and the statements after it are real.
    [InlineData("SELECT id, name AS x$b$ FROM customers; ATTACH '/tmp/x.db' AS s; VACUUM s INTO 'copy.db'; SELECT 1 AS y$b$", "4 statements")]
    [InlineData("SELECT 1 AS a$; DELETE FROM t; SELECT 2 AS b$", "3 statements")]
    public void Sqlite_is_lexed_as_sqlite(string query, string why)
    {
        Assert.Contains(why, SqlQueryCheck.Problem(query, postgres: false), StringComparison.Ordinal);
        Assert.Null(SqlQueryCheck.Problem("SELECT 1 AS x$y, 'a\\' AS backslash_is_text_here, [br;acket] AS b, `back;tick` AS c", postgres: false));
        // PostgreSQL has no [..] or `..` quotes: a ';' there separates statements.
        Assert.NotNull(SqlQueryCheck.Problem("SELECT a[1] AS b FROM t WHERE x = [;]", postgres: true));
    }

    [Theory]
    [InlineData("SELECT id FROM c WHERE name <> E'\\''; COMMIT; BEGIN READ WRITE; DELETE FROM c; COMMIT; SELECT 1 --'", "escape strings")]
    [InlineData("SELECT id FROM c WHERE name <> e'x'", "escape strings")]
    [InlineData("SELECT U&'d\\0061t' AS x", "escape strings")]
    [InlineData("SELECT 'a\\' AS x; DELETE FROM t; SELECT '\\'", "backslash")]
    [InlineData("SELECT 'it\\'s' AS x", "backslash")]
    [InlineData("SELECT $x$ never closed", "not closed")]
    [InlineData("SELECT $a$ ; $a$; DROP TABLE t", "2 statements")]
    public void Postgres_is_lexed_as_postgres(string query, string why)
    {
        Assert.Contains(why, SqlQueryCheck.Problem(query, postgres: true), StringComparison.Ordinal);
        Assert.Null(SqlQueryCheck.Problem("SELECT $$;$$ AS dollar, $tag$ ; $tag$ AS tagged, name AS e FROM t WHERE type = 'E'", postgres: true));
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
        var error = Assert.Single(TestEngine.Validate([file]).Diagnostics, d => d.IsError);
        Assert.Equal(5, error.Location.Line);
        Assert.Contains("the query has 2 statements", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(workspace.Root, "outside.db")));
    }
}
